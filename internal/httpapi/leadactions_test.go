package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// leadActionRow is a stored lead action.
type leadActionRow struct {
	visitor, session int64
	hit              *int64
	widget, action   string
	isLead           bool
	data             map[string]any
}

func leadActionRows(t *testing.T, c *client, session int64) []leadActionRow {
	t.Helper()
	rows, err := c.srv.DB.Query(context.Background(),
		`SELECT visitor_id, session_id, hit_id, widget, action, is_lead, data FROM lead_actions WHERE session_id = $1 ORDER BY id`, session)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []leadActionRow
	for rows.Next() {
		var r leadActionRow
		var data []byte
		if err := rows.Scan(&r.visitor, &r.session, &r.hit, &r.widget, &r.action, &r.isLead, &data); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &r.data); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLeadActionStored(t *testing.T) {
	c, srv := newServer(t)
	site := srv.CreateSite(t, "shop.example")
	v := c.bootstrap(site, nil, "https://shop.example/", "")
	other := c.bootstrap(site, nil, "https://shop.example/other", "")
	p := "/api/track/" + site + "/lead_action"

	// The embed script's body: credentials, widget, action, data; text/plain
	// from the site's page.
	body := merge(v.creds(), map[string]any{"widget": "personal_form", "action": "submit",
		"data": map[string]any{"name": "  Анна <b>  ", "age": 30, "price": 1.5, "agree": true, "empty": nil}})
	status, a := c.post(p, body, "Origin", "https://www.shop.example")
	if status != 200 || !reflect.DeepEqual(a, answer{"success": true}) {
		t.Fatalf("submit: %d %v", status, a)
	}
	// Without data, and with a hit of another session (dropped).
	if status, a := c.post(p, merge(v.creds(), map[string]any{"widget": "call_generator", "action": "cancel", "hit_id": other.hit})); status != 200 {
		t.Fatalf("cancel: %d %v", status, a)
	}
	if status, a := c.post(p, merge(v.creds(), map[string]any{"widget": "offline_message_generator", "action": "show", "data": nil})); status != 200 {
		t.Fatalf("show: %d %v", status, a)
	}

	hit := v.hit
	want := []leadActionRow{
		{v.visitor, v.session, &hit, "personal_form", "submit", true, map[string]any{"name": "Анна <b>", "age": 30.0, "price": 1.5, "agree": true}},
		{v.visitor, v.session, nil, "call_generator", "cancel", false, map[string]any{}},
		{v.visitor, v.session, &hit, "offline_message_generator", "show", false, map[string]any{}},
	}
	if got := leadActionRows(t, c, v.session); !reflect.DeepEqual(got, want) {
		t.Fatalf("stored:\n got %+v\nwant %+v", got, want)
	}
	if n := c.count(`SELECT count(*) FROM lead_actions WHERE site_id = (SELECT id FROM sites WHERE site_key = $1)`, site); n != 3 {
		t.Fatalf("rows of the site: %d", n)
	}

	rec := httptest.NewRecorder()
	srv.App.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, want := range []string{
		`comagicd_lead_actions_total{action="submit",widget="personal_form"} 1`,
		`comagicd_lead_actions_total{action="cancel",widget="call_generator"} 1`,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestLeadActionBadInput(t *testing.T) {
	c, srv := newServer(t)
	site := srv.CreateSite(t, "shop.example")
	v := c.bootstrap(site, nil, "https://shop.example/", "")
	p := "/api/track/" + site + "/lead_action"

	many := map[string]any{}
	for i := range 21 {
		many["k"+strings.Repeat("x", i)] = i
	}
	good := map[string]any{"widget": "personal_form", "action": "submit"}
	for _, bad := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"action": "submit"}, "widget"},
		{map[string]any{"widget": "consultant", "action": "submit"}, "widget"},
		{map[string]any{"widget": "Personal_Form", "action": "submit"}, "widget"},
		{map[string]any{"widget": []string{"personal_form"}, "action": "submit"}, "widget"},
		{map[string]any{"widget": "personal_form"}, "action"},
		{map[string]any{"widget": "personal_form", "action": "close"}, "action"},
		{map[string]any{"widget": "personal_form", "action": map[string]any{"a": 1}}, "action"},
		{merge(good, map[string]any{"hit_id": "abc"}), "hit_id"},
		{merge(good, map[string]any{"data": "name=Anna"}), "data"},
		{merge(good, map[string]any{"data": []any{1, 2}}), "data"},
		{merge(good, map[string]any{"data": 7}), "data"},
		{merge(good, map[string]any{"data": many}), "data"},
		{merge(good, map[string]any{"data": map[string]any{"nested": map[string]any{"a": 1}}}), "data"},
		{merge(good, map[string]any{"data": map[string]any{"list": []any{"a"}}}), "data"},
		{merge(good, map[string]any{"data": map[string]any{"": "x"}}), "data"},
		{merge(good, map[string]any{"data": map[string]any{strings.Repeat("k", 65): "x"}}), "data"},
		{merge(good, map[string]any{"data": map[string]any{"text": strings.Repeat("я", 1025)}}), "data"},
		{merge(good, map[string]any{"data": map[string]any{"nul": "a\x00b"}}), "data"},
		{merge(good, map[string]any{"data": map[string]any{"nul\x00key": "x"}}), "data"},
	} {
		status, a := c.post(p, merge(v.creds(), bad.body))
		if status != 400 || a.errField() != bad.field || a["success"] != false {
			t.Errorf("%v: %d %v, want 400 naming %s", bad.body, status, a, bad.field)
		}
	}
	// Bodies that json.Marshal cannot make: numbers no double holds, data
	// after the object, no object at all.
	creds := `"visitor_id":` + strconv.FormatInt(v.visitor, 10) + `,"session_id":` + strconv.FormatInt(v.session, 10) + `,"key":"` + v.key + `"`
	for body, field := range map[string]string{
		`{` + creds + `,"widget":"personal_form","action":"submit","data":{"n":1e999999}}`:  "data",
		`{` + creds + `,"widget":"personal_form","action":"submit","data":{"n":1e-999999}}`: "data",
		`{` + creds + `,"widget":"personal_form","action":"submit","data":{"a":1}} tail`:    "body",
		`[1]`: "body",
	} {
		status, _, text := rawPost(t, srv, http.MethodPost, p, "text/plain;charset=UTF-8", body)
		var a answer
		_ = json.Unmarshal([]byte(text), &a)
		if status != 400 || a.errField() != field {
			t.Errorf("%s: %d %s, want 400 naming %s", body, status, text, field)
		}
	}
	if n := c.count(`SELECT count(*) FROM lead_actions`); n != 0 {
		t.Fatalf("bad input stored %d rows", n)
	}
}

func TestLeadActionCredentials(t *testing.T) {
	c, srv := newServer(t)
	siteA := srv.CreateSite(t, "a.example")
	siteB := srv.CreateSite(t, "b.example")
	va := c.bootstrap(siteA, nil, "https://a.example/", "")
	vb := c.bootstrap(siteB, nil, "https://b.example/", "")
	action := map[string]any{"widget": "personal_form", "action": "submit", "data": map[string]any{"name": "x"}}
	pa := "/api/track/" + siteA + "/lead_action"

	for name, creds := range map[string]map[string]any{
		"forged key":                 merge(va.creds(), map[string]any{"key": strings.Repeat("A", 32)}),
		"no key":                     merge(va.creds(), map[string]any{"key": nil}),
		"no credentials":             {},
		"key of another session":     merge(va.creds(), map[string]any{"key": vb.key}),
		"another site's session":     vb.creds(),
		"another site's session ids": merge(vb.creds(), map[string]any{"key": va.key}),
	} {
		status, a := c.post(pa, merge(creds, action))
		if status != 401 || a.errField() != "key" {
			t.Errorf("%s: %d %v, want 401 naming key", name, status, a)
		}
	}
	// Site B's page may not post to site A.
	if status, a := c.post(pa, merge(va.creds(), action), "Origin", "https://b.example"); status != 403 || a.errField() != "origin" {
		t.Errorf("foreign origin: %d %v", status, a)
	}
	if n := c.count(`SELECT count(*) FROM lead_actions`); n != 0 {
		t.Fatalf("refused actions stored %d rows", n)
	}

	// A session purged since its credentials were issued is gone: 404, nothing stored.
	if _, err := srv.DB.Exec(context.Background(), `DELETE FROM sessions WHERE id = $1`, va.session); err != nil {
		t.Fatal(err)
	}
	if status, a := c.post(pa, merge(va.creds(), action)); status != 404 {
		t.Errorf("purged session: %d %v", status, a)
	}
	if n := c.count(`SELECT count(*) FROM lead_actions`); n != 0 {
		t.Fatalf("purged session stored %d rows", n)
	}
	// Site B's own credentials work on site B.
	if status, a := c.post("/api/track/"+siteB+"/lead_action", merge(vb.creds(), action), "Origin", "https://b.example"); status != 200 {
		t.Fatalf("site B: %d %v", status, a)
	}
	if rows := leadActionRows(t, c, vb.session); len(rows) != 1 || rows[0].visitor != vb.visitor || !rows[0].isLead {
		t.Fatalf("site B rows: %+v", rows)
	}
}
