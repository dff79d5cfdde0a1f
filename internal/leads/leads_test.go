package leads

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/comagicd/comagicd/internal/comagic"
)

func form(kv ...string) map[string]any {
	m := map[string]any{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func TestParseAttributed(t *testing.T) {
	in, err := Parse(form("key", "u8N4wqLtywFKSaxGOUCreGKD0zglE2s0", "uri", "https://x/", "visitor_id", "17258569",
		"hit_id", "546833568748", "session_id", "255544855", "name", " John Smith ", "email", "no@email.adr",
		"phone", "+79251234567", "text", "Hello, world!", "is_sale", "true", "sale_cost", "10000", "city", "Тула"))
	if err != nil {
		t.Fatal(err)
	}
	r := in.Request
	if !in.HasCreds || in.Creds.VisitorID != 17258569 || in.Creds.SessionID != 255544855 || r.HitID != 546833568748 {
		t.Fatalf("creds: %+v %+v", in.Creds, r)
	}
	if r.Name != "John Smith" || r.Message != "Hello, world!" || !r.IsSale || r.SaleCost == nil || *r.SaleCost != "10000.00" {
		t.Fatalf("request: %+v", r)
	}
	if r.Extra["city"] != "Тула" || len(r.Extra) != 1 {
		t.Fatalf("extra: %v", r.Extra)
	}
	if err := in.NormalizePhone("RU"); err != nil || in.Request.Phone != "79251234567" {
		t.Fatalf("phone: %q %v", in.Request.Phone, err)
	}
}

func TestParseLenient(t *testing.T) {
	for _, v := range []string{"true", "1", "on", "ON", "yes"} {
		in, err := Parse(form("site_key", "k", "name", "n", "is_sale", v, "sale_cost", "9 999,50"))
		if err != nil || !in.Request.IsSale || *in.Request.SaleCost != "9999.50" {
			t.Fatalf("is_sale=%q: %+v %v", v, in, err)
		}
	}
	for _, v := range []string{"false", "0", "", "off"} {
		in, err := Parse(form("site_key", "k", "name", "n", "is_sale", v, "sale_cost", "100"))
		if err != nil || in.Request.IsSale || in.Request.SaleCost != nil {
			t.Fatalf("is_sale=%q: %+v %v", v, in, err)
		}
	}
	// JSON values of every type.
	var m map[string]any
	if err := json.Unmarshal([]byte(`{"site_key":"k","message":"hi","is_sale":true,"sale_cost":12.5,"group_id":7,"note":{"a":[1,2]}}`), &m); err != nil {
		t.Fatal(err)
	}
	in, err := Parse(m)
	if err != nil || in.Request.Message != "hi" || in.Request.GroupID != 7 || *in.Request.SaleCost != "12.50" || in.Request.Extra["note"] == nil {
		t.Fatalf("%+v %v", in, err)
	}
}

func TestParseErrorsNameTheField(t *testing.T) {
	cases := []struct {
		fields map[string]any
		field  string
	}{
		{form("name", "n"), "site_key"},
		{form("site_key", "k"), "name"},
		{form("site_key", "k", "email", "not-an-email"), "email"},
		{form("site_key", "k", "email", "a@b"), "email"},
		{form("site_key", "k", "name", "n", "is_sale", "maybe"), "is_sale"},
		{form("site_key", "k", "name", "n", "is_sale", "1", "sale_cost", "ten"), "sale_cost"},
		{form("site_key", "k", "name", "n", "is_sale", "1", "sale_cost", "-5"), "sale_cost"},
		{form("site_key", "k", "name", "n", "group_id", "abc"), "group_id"},
		{form("key", "x", "name", "n", "session_id", "1"), "site_key"},
		{form("visitor_id", "1x", "name", "n"), "visitor_id"},
		{form("visitor_id", "1", "session_id", "2", "name", "n"), "site_key"},
		{form("site_key", "k", "name", "a\xffb"), "name"},
		{form("site_key", "k", "name", "a\x00b"), "name"},
		{map[string]any{"site_key": "k", "name": []any{1}}, "name"},
	}
	for _, c := range cases {
		_, err := Parse(c.fields)
		if comagic.ErrorCode(err) != comagic.EINVALID || comagic.ErrorField(err) != c.field {
			t.Errorf("Parse(%v) = %v, want invalid %s", c.fields, err, c.field)
		}
	}
	in, _ := Parse(form("site_key", "k", "phone", "12"))
	if err := in.NormalizePhone("RU"); comagic.ErrorField(err) != "phone" {
		t.Fatalf("bad phone: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(`{"site_key":"k","name":"n","is_sale":"1","sale_cost":"5"}`)
	f.Add(`{"visitor_id":"1","session_id":2,"key":"x","email":"a@b.c","extra":[1,{"x":null}]}`)
	f.Fuzz(func(t *testing.T, s string) {
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		if dec.Decode(&m) != nil {
			return
		}
		in, err := Parse(m)
		if err != nil {
			if comagic.ErrorCode(err) != comagic.EINVALID || comagic.ErrorField(err) == "" {
				t.Fatalf("error without field: %v", err)
			}
			return
		}
		_ = in.NormalizePhone("RU")
		if _, err := json.Marshal(in.Request.Extra); err != nil {
			t.Fatal(err)
		}
	})
}

// Money is decimal: rounding half up to cents, below 10^12 after rounding.
func TestMoneyIsDecimal(t *testing.T) {
	for in, want := range map[string]string{
		"1234567.895": "1234567.90", "0.125": "0.13", "0": "0.00", ".5": "0.50", "5.": "5.00",
		"007": "7.00", "999999999999.994": "999999999999.99", "1 000,5": "1000.50",
	} {
		got, err := money(map[string]any{"c": in}, "c")
		if err != nil || got == nil || *got != want {
			t.Errorf("money(%q) = %v %v, want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"999999999999.995", "1000000000000", "1e3", "-1", "+1", ".", "1.2.3", "NaN", "Inf", "0x10"} {
		if got, err := money(map[string]any{"c": in}, "c"); comagic.ErrorField(err) != "c" {
			t.Errorf("money(%q) = %v %v, want an error", in, got, err)
		}
	}
}

// Extra numbers must be ones a double holds; Postgres numeric overflows otherwise.
func TestExtraNumbers(t *testing.T) {
	for n, ok := range map[string]bool{"1.5e300": true, "0": true, "-0.0e5": true, "1e-300": true,
		"1e999999": false, "-1e-999999": false, "1E400": false, "0.0000e-999999": true} {
		_, err := Parse(map[string]any{"site_key": "k", "name": "n", "f": []any{json.Number(n)}})
		if (err == nil) != ok {
			t.Errorf("%s: %v", n, err)
		}
	}
}
