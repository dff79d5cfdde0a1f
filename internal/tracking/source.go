// Package tracking holds the rules of visitor tracking that do not depend on
// storage: where a page view came from (SPEC §2 session rules), which device made
// it, and how identifiers travel in the `_comagic_id` cookie.
package tracking

import (
	"net/url"
	"strings"

	"github.com/comagicd/comagicd/internal/comagic"
)

// clickIDs are the advertising click identifiers that mark a new campaign click.
var clickIDs = [...]string{"gclid", "yclid", "fbclid", "msclkid", "dclid", "ymclid", "_openstat"}

// maxField caps every text taken from a page view.
const maxField = 2048

// Clip shortens s to at most n bytes without splitting a UTF-8 sequence, replaces
// invalid UTF-8 and drops NUL bytes, so that stored text is always valid.
func Clip(s string, n int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// SourceOf classifies the traffic source of a page view of the site. UTM tags win,
// then advertising click ids, then an external referrer; a referrer on the site's
// own domains (or none) is internal and yields an empty key.
func SourceOf(site *comagic.Site, pageURL, referrer string) comagic.Source {
	var src comagic.Source
	pageHost := ""
	if u, err := url.Parse(pageURL); err == nil {
		pageHost = u.Hostname()
		q := u.Query()
		src.UTMSource = Clip(q.Get("utm_source"), 255)
		src.UTMMedium = Clip(q.Get("utm_medium"), 255)
		src.UTMCampaign = Clip(q.Get("utm_campaign"), 255)
		src.UTMTerm = Clip(q.Get("utm_term"), 255)
		src.UTMContent = Clip(q.Get("utm_content"), 255)
		if src.UTMSource+src.UTMMedium+src.UTMCampaign+src.UTMTerm+src.UTMContent != "" {
			src.Key = Clip("utm:"+strings.Join([]string{src.UTMSource, src.UTMMedium, src.UTMCampaign, src.UTMTerm, src.UTMContent}, "|"), 512)
		} else {
			for _, id := range clickIDs {
				if v := q.Get(id); v != "" {
					src.Key = Clip(id+":"+v, 512)
					break
				}
			}
		}
	}
	if r, err := url.Parse(referrer); err == nil && r.Host != "" {
		host := strings.ToLower(r.Hostname())
		if !strings.EqualFold(host, pageHost) && !site.AllowsOrigin("http://"+host) {
			src.ReferrerDomain = Clip(strings.TrimPrefix(host, "www."), 255)
			if src.Key == "" {
				src.Key = "ref:" + src.ReferrerDomain
			}
		}
	}
	return src
}
