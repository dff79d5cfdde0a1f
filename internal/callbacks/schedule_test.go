package callbacks_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/comagicd/comagicd/internal/callbacks"
	"github.com/comagicd/comagicd/internal/postgres"
	"github.com/comagicd/comagicd/internal/testenv"
)

// bootstrapSettings answers a page view of the site and returns its settings.
func bootstrapSettings(t *testing.T, srv *testenv.Server, site string) map[string]map[string]any {
	t.Helper()
	resp, err := http.Post(srv.URL+"/api/track/"+site+"/bootstrap", "text/plain", strings.NewReader(`{"url":"https://shop.example/"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a struct {
		Settings map[string]map[string]any `json:"settings"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || resp.StatusCode != 200 {
		t.Fatalf("bootstrap: %d %v", resp.StatusCode, err)
	}
	return a.Settings
}

// A site with working hours that are closed now: the bootstrap says so and
// offers the call times of the next working day; a call ordered for now is
// scheduled for the opening and not dispatched before, while a site without
// hours has its call dispatched at once.
func TestWorkingHours(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{})
	ctx := context.Background()
	msk, err := time.LoadLocation("Europe/Moscow")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().In(msk)
	tomorrow := now.AddDate(0, 0, 1)
	day := strings.ToLower(tomorrow.Weekday().String()[:3])
	opens := time.Date(tomorrow.Year(), tomorrow.Month(), tomorrow.Day(), 9, 0, 0, 0, msk)

	site := srv.CreateSite(t, "shop.example")
	tz, hours := "Europe/Moscow", day+" 09:00-18:00"
	if _, err := srv.App.Sites.UpdateSite(ctx, site, postgres.SiteOptions{TimeZone: &tz, CallSchedule: &hours}); err != nil {
		t.Fatal(err)
	}
	srv.SetWidgetSettings(t, site, "sitephone", "desktop", `{"title":"Обратный звонок","delayed_call_times":true,"is_schedule_active":true}`)
	srv.SetWidgetSettings(t, site, "call_generator", "desktop", `{"banner_title":"Перезвоним","is_delayed_call_enabled":true,"delayed_call_times":false}`)
	srv.SetWidgetSettings(t, site, "personal_form", "desktop", `{"button_url":"https://shop.example/sale","delayed_call_times":false}`)

	s := bootstrapSettings(t, srv, site)
	for _, vc := range []string{"sitephone", "call_generator"} {
		if s[vc]["is_schedule_active"] != false {
			t.Errorf("%s: is_schedule_active %v while closed", vc, s[vc]["is_schedule_active"])
		}
		days, _ := s[vc]["delayed_call_times"].([]any)
		if len(days) != 1 {
			t.Fatalf("%s: delayed_call_times %v, want the one working day", vc, s[vc]["delayed_call_times"])
		}
		d := days[0].(map[string]any)
		times := d["times"].([]any)
		first, last := int64(times[0].(float64)), int64(times[len(times)-1].(float64))
		if len(times) != 18 || first != opens.UnixMilli() || last != opens.Add(8*time.Hour+30*time.Minute).UnixMilli() ||
			int64(d["date"].(float64)) != opens.Add(3*time.Hour).UnixMilli() {
			t.Errorf("%s: day %v, want 18 times from %v", vc, d, opens)
		}
	}
	if s["personal_form"]["is_schedule_active"] != false || s["personal_form"]["delayed_call_times"] != false {
		t.Errorf("personal_form: %v", s["personal_form"])
	}

	// The call ordered now waits for the opening.
	rcv := newReceiver(t, 0)
	addScenario(t, srv, site, "", rcv.URL+"/pbx", false)
	v := srv.NewVisitor(t, site)
	code, a := order(t, srv, v, map[string]any{"phone": "+7 (495) 123-45-67"})
	closedID := expect(t, code, a, callbacks.StatusAccepted, callbacks.CodeAccepted)
	var due time.Time
	if err := srv.DB.QueryRow(ctx, `SELECT due_at FROM callbacks WHERE id = $1`, closedID).Scan(&due); err != nil {
		t.Fatal(err)
	}
	if !due.Equal(opens) {
		t.Errorf("due at %v, want the opening %v", due.In(msk), opens)
	}
	// A visitor's own later time stays as asked.
	later := opens.Add(2 * time.Hour)
	code, a = order(t, srv, v, map[string]any{"phone": "+7 (495) 123-45-68", "delayed_call_time": later.UnixMilli()})
	laterID := expect(t, code, a, callbacks.StatusAccepted, callbacks.CodeAccepted)
	if err := srv.DB.QueryRow(ctx, `SELECT due_at FROM callbacks WHERE id = $1`, laterID).Scan(&due); err != nil || !due.Equal(later) {
		t.Errorf("the visitor's time: due %v (%v), want %v", due, err, later)
	}

	// A site around the clock: dispatched at once; the closed site's calls
	// are still waiting after that.
	open := srv.CreateSite(t, "open.example")
	addScenario(t, srv, open, "", rcv.URL+"/pbx", false)
	ov := srv.NewVisitor(t, open)
	code, a = order(t, srv, ov, map[string]any{"phone": "+7 (495) 765-43-21"})
	openID := expect(t, code, a, callbacks.StatusAccepted, callbacks.CodeAccepted)
	waitFor(t, 10*time.Second, "the open site's call is dispatched", func() bool {
		return count(t, srv, `SELECT count(*) FROM callbacks WHERE id = $1 AND status = 'dispatched'`, openID) == 1
	})
	if n := count(t, srv, `SELECT count(*) FROM callbacks WHERE id IN ($1, $2) AND status = 'scheduled'`, closedID, laterID); n != 2 {
		t.Errorf("%d of the closed site's calls are scheduled, want 2", n)
	}
	if got := rcv.deliveries(); len(got) != 1 {
		t.Errorf("%d deliveries, want only the open site's", len(got))
	}
	// The metrics count the three answers and the one dispatch; nothing is overdue.
	m := srv.App.Metrics
	if n := testutil.ToFloat64(m.Callbacks.WithLabelValues("0", callbacks.CodeAccepted)); n != 3 {
		t.Errorf("comagicd_callbacks_total{status=0} = %v, want 3", n)
	}
	if n := testutil.ToFloat64(m.CallbackDispatches.WithLabelValues("dispatched")); n != 1 {
		t.Errorf("comagicd_callback_dispatches_total{outcome=dispatched} = %v, want 1", n)
	}
	if n, err := testutil.GatherAndCount(m.Registry, "comagicd_callbacks_overdue"); err != nil || n != 1 {
		t.Errorf("comagicd_callbacks_overdue: %d series, %v", n, err)
	}
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader("# HELP comagicd_callbacks_overdue Accepted call-back orders due more than a minute ago and not yet dispatched (all nodes).\n# TYPE comagicd_callbacks_overdue gauge\ncomagicd_callbacks_overdue 0\n"), "comagicd_callbacks_overdue"); err != nil {
		t.Error(err)
	}
	if s := bootstrapSettings(t, srv, open); len(s) != 0 {
		t.Errorf("the open site has settings %v", s)
	}

	// Bad hours are refused with the field named; '' removes them.
	bad := "mon 18:00-09:00"
	if _, err := srv.App.Sites.UpdateSite(ctx, site, postgres.SiteOptions{CallSchedule: &bad}); err == nil || !strings.Contains(err.Error(), "call schedule") {
		t.Errorf("bad hours: %v", err)
	}
	none := ""
	if st, err := srv.App.Sites.UpdateSite(ctx, site, postgres.SiteOptions{CallSchedule: &none}); err != nil || st.CallSchedule != nil {
		t.Fatalf("removing the hours: %v", err)
	}
	s = bootstrapSettings(t, srv, site)
	if s["sitephone"]["is_schedule_active"] != true {
		t.Errorf("without hours the stored is_schedule_active goes out: %v", s["sitephone"])
	}
	// Seven days, today's only when a time is left after 23:45.
	if days, _ := s["sitephone"]["delayed_call_times"].([]any); len(days) != 7 && len(days) != 6 {
		t.Errorf("around the clock: %d days offered, want 7", len(days))
	}
}
