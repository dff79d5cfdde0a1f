package widgets

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/testenv"
)

// TestSettingsFilesAreValid checks every settings object of our own fixtures
// (testdata/settings, one per widget and device in the vendor's shapes) and,
// when it is beside the repository (always in CI), of the vendor reference:
// they are the shapes our server must accept.
func TestSettingsFilesAreValid(t *testing.T) {
	for _, dir := range testenv.WidgetSettingsDirs(t) {
		files, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil || len(files) != 10 {
			t.Fatalf("%s: want the 10 settings files (5 widgets × desktop, mobile): %v %d files", dir, err, len(files))
		}
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			vc := strings.SplitN(filepath.Base(f), ".", 2)[0]
			if _, err := Validate(vc, raw); err != nil {
				t.Errorf("%s: %v", f, err)
			}
		}
	}
}

func TestValidateSaysWhatIsWrong(t *testing.T) {
	cases := []struct{ vc, json, want string }{
		{"consultant", `{"common":{"banner_color":"green"}}`, "common.banner_color: must be a colour"},
		{"consultant", `{"offline_message":{"allowed_groups":[{"id":"x","name":"g"}]}}`, "offline_message.allowed_groups[0].id: must be a number"},
		{"sitephone", `{"delayed_call_times":"yes"}`, "delayed_call_times: must be null, or must be true or false, or must be an array"},
		{"consultant", `{"offline_message":{"fields":[{"name":"fax","title":"x","is_required":true}]}}`, "offline_message.fields[0].name: must be one of name, phone, email, message"},
		{"consultant", `{"chat":{"retention":{"messages":[{"timeout":0,"text":"x"}]}}}`, "chat.retention.messages[0].timeout: must be an integer from 1 to 86400"},
		{"sitephone", `{"h_position":"up","titel":"x"}`, "h_position: must be one of left, right, center"},
		{"sitephone", `{"titel":"x"}`, `titel: unknown key (known keys: allowed_groups, banner_branding_text`},
		{"sitephone", `[]`, "must be a JSON object"},
		{"sitephone", `{"title": 5}`, "title: must be a string"},
		{"personal_form", `{"button_url":"javascript:alert(1)"}`, "button_url: must be an http(s) URL"},
		{"sitephone", `{"title":"x"} {}`, "more than one JSON value"},
		{"sitephone", `{"title":`, "not valid JSON"},
		{"chat", `{}`, `unknown widget "chat"`},
	}
	for _, c := range cases {
		_, err := Validate(c.vc, []byte(c.json))
		if comagic.ErrorCode(err) != comagic.EINVALID || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%s, %s) = %v, want %q", c.vc, c.json, err, c.want)
		}
	}
	// The vendor's days of call times, and a flat list, are both accepted; a
	// day without times is not.
	for _, ok := range []string{
		`{"delayed_call_times":[{"date":1795478400000,"times":[1795500000000,1795503600000]}]}`,
		`{"delayed_call_times":[{"date":"2026-11-24","times":["2026-11-24T10:00:00+03:00"]}]}`,
		`{"delayed_call_times":["10:00","11:00"]}`,
	} {
		if _, err := Validate("sitephone", []byte(ok)); err != nil {
			t.Errorf("Validate(%s): %v", ok, err)
		}
	}
	if _, err := Validate("sitephone", []byte(`{"delayed_call_times":[{"date":1}]}`)); comagic.ErrorCode(err) != comagic.EINVALID {
		t.Errorf("a day without times: %v", err)
	}
	out, err := Validate("sitephone", []byte("{\n  \"title\": \"Звонок\"\n}"))
	if err != nil || string(out) != `{"title":"Звонок"}` {
		t.Fatalf("%s %v", out, err)
	}
}

func FuzzValidate(f *testing.F) {
	f.Add("consultant", `{"offline_message":{"fields":[{"name":"phone","title":"t","is_required":true}]}}`)
	f.Add("sitephone", `{"allowed_groups":[{"id":1,"name":"g"}]}`)
	f.Fuzz(func(t *testing.T, vc, s string) {
		out, err := Validate(vc, []byte(s))
		if err == nil && len(out) == 0 {
			t.Fatal("valid settings compacted to nothing")
		}
	})
}
