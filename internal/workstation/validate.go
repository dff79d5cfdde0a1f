package workstation

import (
	"fmt"
	"slices"
	"strings"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/fields"
	"github.com/comagicd/comagicd/internal/phone"
)

// checkContacts checks an edit and returns it normalised: the name trimmed,
// emails lower-cased, phones as digits with the country code (region is the
// site's phone region), duplicates dropped. Returns EINVALID naming the member
// (name, emails[i], phones[i]).
func checkContacts(c Contacts, region string) (Contacts, error) {
	if c.Name == nil && c.Emails == nil && c.Phones == nil {
		return c, comagic.Invalid("body", "give name, emails or phones")
	}
	out := Contacts{}
	if c.Name != nil {
		name, err := fields.Text("name", *c.Name, MaxNameLen)
		if err != nil {
			return c, err
		}
		out.Name = &name
	}
	if c.Emails != nil {
		if len(c.Emails) > MaxContacts {
			return c, comagic.Invalid("emails", "emails has more than %d addresses", MaxContacts)
		}
		out.Emails = []string{}
		for i, e := range c.Emails {
			field := fmt.Sprintf("emails[%d]", i)
			e, err := fields.Text(field, e, 254)
			if err != nil {
				return c, err
			}
			e = strings.ToLower(e)
			if err := fields.Email(field, e); err != nil {
				return c, err
			}
			if !slices.Contains(out.Emails, e) {
				out.Emails = append(out.Emails, e)
			}
		}
	}
	if c.Phones != nil {
		if len(c.Phones) > MaxContacts {
			return c, comagic.Invalid("phones", "phones has more than %d numbers", MaxContacts)
		}
		out.Phones = []string{}
		for i, p := range c.Phones {
			field := fmt.Sprintf("phones[%d]", i)
			n, err := phone.Normalize(p, region)
			if err != nil {
				return c, comagic.Invalid(field, "%s is not a valid phone number", field)
			}
			if !slices.Contains(out.Phones, n) {
				out.Phones = append(out.Phones, n)
			}
		}
	}
	return out, nil
}

// checkQuery checks a search text (q).
func checkQuery(q string) (string, error) {
	return fields.Text("q", q, MaxQueryLen)
}
