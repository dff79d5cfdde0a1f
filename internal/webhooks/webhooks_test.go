package webhooks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/comagicd/comagicd/internal/chat"
	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/postgres"
	"github.com/comagicd/comagicd/internal/testenv"
	"github.com/comagicd/comagicd/internal/webhooks"
)

// received is one request a receiver got.
type received struct {
	event, delivery, timestamp, signature string
	body                                  []byte
}

// receiver is a real HTTP endpoint recording what it receives; fail decides
// the answer's status from the attempt number (1-based) of a delivery id.
type receiver struct {
	t    *testing.T
	srv  *httptest.Server
	mu   sync.Mutex
	got  []received
	seen map[string]int
	fail func(attempt int) int
}

func newReceiver(t *testing.T, fail func(attempt int) int) *receiver {
	r := &receiver{t: t, seen: map[string]int{}, fail: fail}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		rec := received{event: req.Header.Get(webhooks.HeaderEvent), delivery: req.Header.Get(webhooks.HeaderDelivery),
			timestamp: req.Header.Get(webhooks.HeaderTimestamp), signature: req.Header.Get(webhooks.HeaderSignature), body: b}
		r.mu.Lock()
		r.got = append(r.got, rec)
		r.seen[rec.delivery]++
		n := r.seen[rec.delivery]
		r.mu.Unlock()
		status := http.StatusNoContent
		if r.fail != nil {
			if s := r.fail(n); s != 0 {
				status = s
			}
		}
		if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
			status = http.StatusBadRequest
		}
		w.WriteHeader(status)
		fmt.Fprint(w, "receiver says ", status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// check verifies the signature and decodes the body of rec.
func (r *receiver) check(secret string, rec received) (id int64, event string, data map[string]any) {
	r.t.Helper()
	if err := webhooks.Verify(secret, rec.timestamp, rec.body, rec.signature); err != nil {
		r.t.Fatalf("delivery %s: %v", rec.delivery, err)
	}
	var b struct {
		ID        int64          `json:"id"`
		Event     string         `json:"event"`
		CreatedAt time.Time      `json:"created_at"`
		Data      map[string]any `json:"data"`
	}
	if err := json.Unmarshal(rec.body, &b); err != nil {
		r.t.Fatalf("body %s: %v", rec.body, err)
	}
	if strconv.FormatInt(b.ID, 10) != rec.delivery || b.Event != rec.event || b.CreatedAt.IsZero() {
		r.t.Fatalf("body %s does not match headers %+v", rec.body, rec)
	}
	return b.ID, b.Event, b.Data
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// waitFor polls cond until it holds or 20 s passed.
func waitFor(t *testing.T, what string, cond func() bool, state ...func() string) {
	t.Helper()
	for end := time.Now().Add(20 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			msg := ""
			for _, s := range state {
				msg += s()
			}
			t.Fatalf("timed out waiting for %s\n%s", what, msg)
		}
	}
}

func count(t *testing.T, db *pgxpool.Pool, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func account(t *testing.T, db *pgxpool.Pool, name string) int64 {
	t.Helper()
	a, err := postgres.NewSites(db).EnsureAccount(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return a.ID
}

func addHook(t *testing.T, store *webhooks.Store, accountID int64, u string, events ...string) *webhooks.Webhook {
	t.Helper()
	w, err := store.Add(context.Background(), accountID, u, events)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// startShop starts the real server with the site shop.example and returns it
// with the site's key and record and the webhook store.
func startShop(t *testing.T) (*testenv.Server, string, *comagic.Site, *webhooks.Store) {
	t.Helper()
	srv := testenv.StartServer(t, testenv.Options{})
	key := srv.CreateSite(t, "shop.example")
	site, err := srv.App.Sites.SiteByKey(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return srv, key, site, webhooks.NewStore(srv.DB)
}

// TestServerPublishes runs the real server: an offline request, a lead action
// and a closed chat reach the webhooks subscribed to them, once each, signed;
// a webhook of the account subscribed to other events and another account's
// webhook get nothing.
func TestServerPublishes(t *testing.T) {
	srv, siteKey, site, store := startShop(t)
	ctx := context.Background()
	leadsRcv, allRcv, chatRcv, otherRcv := newReceiver(t, nil), newReceiver(t, nil), newReceiver(t, nil), newReceiver(t, nil)
	leadsHook := addHook(t, store, site.AccountID, leadsRcv.srv.URL+"/leads", webhooks.EventOfflineRequestCreated)
	allHook := addHook(t, store, site.AccountID, allRcv.srv.URL)
	chatHook := addHook(t, store, site.AccountID, chatRcv.srv.URL, webhooks.EventChatClosed)
	// Another account, with a site of its own, subscribed to everything.
	otherKey := srv.CreateSite(t, "other.example")
	otherSite, err := srv.App.Sites.SiteByKey(ctx, otherKey)
	if err != nil {
		t.Fatal(err)
	}
	addHook(t, store, otherSite.AccountID, otherRcv.srv.URL)

	// An offline request through the backend API.
	resp, err := http.PostForm(srv.URL+"/api/add_offline_message/", url.Values{"site_key": {siteKey}, "name": {"Анна"},
		"phone": {"+7 925 123-45-67"}, "text": {"Перезвоните"}, "city": {"Тула"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("offline request: %d", resp.StatusCode)
	}
	// A visitor: a lead action, then a chat closed by the visitor.
	post := func(path string, body map[string]any) map[string]any {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
		req.Header.Set("Origin", "https://shop.example")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var a map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || resp.StatusCode != 200 || a["success"] != true {
			t.Fatalf("%s: %d %v %v", path, resp.StatusCode, a, err)
		}
		return a
	}
	boot := post("/api/track/"+siteKey+"/bootstrap", map[string]any{"url": "https://shop.example/", "title": "Shop"})
	creds := map[string]any{"visitor_id": boot["visitor_id"], "session_id": boot["session_id"], "key": boot["key"]}
	post("/api/track/"+siteKey+"/lead_action", map[string]any{"visitor_id": creds["visitor_id"], "session_id": creds["session_id"],
		"key": creds["key"], "widget": "personal_form", "action": "submit", "data": map[string]any{"name": "Анна"}})
	v := chat.Visitor{SiteID: site.ID, VisitorID: int64(boot["visitor_id"].(float64)), SessionID: int64(boot["session_id"].(float64))}
	if _, err := srv.App.Chat.SendVisitorMessage(ctx, v, "m1", "Здравствуйте", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.App.Chat.SendVisitorMessage(ctx, v, "m2", "Есть кто?", 0); err != nil {
		t.Fatal(err)
	}
	if err := srv.App.Chat.CloseByVisitor(ctx, v); err != nil {
		t.Fatal(err)
	}

	// Every queued delivery is delivered; then nothing more arrives.
	waitFor(t, "deliveries", func() bool {
		return count(t, srv.DB, `SELECT count(*) FROM webhook_deliveries WHERE delivered_at IS NULL`) == 0 &&
			count(t, srv.DB, `SELECT count(*) FROM webhook_deliveries`) == 5
	}, func() string {
		rows, _ := srv.DB.Query(ctx, `SELECT webhook_id, event, attempts, coalesce(last_error, ''), delivered_at IS NOT NULL FROM webhook_deliveries`)
		defer rows.Close()
		out := ""
		for rows.Next() {
			vals, _ := rows.Values()
			out += fmt.Sprintln(vals...)
		}
		return out
	})
	if got := leadsRcv.requests(); len(got) != 1 {
		t.Fatalf("offline request webhook got %d requests", len(got))
	} else if _, ev, data := leadsRcv.check(leadsHook.Secret, got[0]); ev != webhooks.EventOfflineRequestCreated ||
		data["name"] != "Анна" || data["site_key"] != siteKey || data["source"] != "api" || data["message"] != "Перезвоните" ||
		data["phone"] != "79251234567" || data["extra"].(map[string]any)["city"] != "Тула" || data["id"].(float64) <= 0 {
		t.Fatalf("offline request: %s %v", ev, data)
	}
	if got := chatRcv.requests(); len(got) != 1 {
		t.Fatalf("chat webhook got %d requests", len(got))
	} else if _, ev, data := chatRcv.check(chatHook.Secret, got[0]); ev != webhooks.EventChatClosed ||
		data["closed_by"] != "visitor" || data["messages"] != 2.0 || data["site_key"] != siteKey ||
		data["visitor_id"] != float64(v.VisitorID) || data["rating"] != 0.0 || data["chat_id"].(float64) <= 0 {
		t.Fatalf("chat.closed: %s %v", ev, data)
	}
	got := allRcv.requests()
	events := map[string]map[string]any{}
	for _, rec := range got {
		_, ev, data := allRcv.check(allHook.Secret, rec)
		events[ev] = data
	}
	if len(got) != 3 || len(events) != 3 {
		t.Fatalf("the webhook of every event got %d requests: %v", len(got), events)
	}
	if la := events[webhooks.EventLeadActionCreated]; la["widget"] != "personal_form" || la["action"] != "submit" || la["is_lead"] != true ||
		la["visitor_id"] != float64(v.VisitorID) || la["data"].(map[string]any)["name"] != "Анна" {
		t.Fatalf("lead action: %v", la)
	}
	if n := len(otherRcv.requests()); n != 0 {
		t.Fatalf("another account's webhook got %d requests", n)
	}
	// The log shows the deliveries.
	log, err := store.Deliveries(ctx, allHook.ID, 10)
	if err != nil || len(log) != 3 || log[0].DeliveredAt == nil || log[0].LastStatus != http.StatusNoContent || log[0].Attempts != 0 {
		t.Fatalf("log: %+v %v", log, err)
	}
}

// TestRetry: a receiver failing twice gets the delivery on the third attempt,
// and the log keeps the failures' status and error meanwhile.
func TestRetry(t *testing.T) {
	db := testenv.NewDB(t)
	ctx := context.Background()
	store := webhooks.NewStore(db)
	acc := account(t, db, "Shop")
	var mu sync.Mutex
	var failedLog []webhooks.Delivery
	rcv := newReceiver(t, func(attempt int) int {
		if attempt <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	hook := addHook(t, store, acc, rcv.srv.URL)
	d := webhooks.NewDispatcher(store, quiet(), webhooks.Options{Interval: 20 * time.Millisecond,
		Backoff: func(attempts int) time.Duration {
			// Read the log while the delivery waits for its next attempt.
			// Backoff is asked before the failure is recorded: wait for the
			// row to show this attempt (it waits 500 ms for the next one).
			go func() {
				for range 200 {
					l, _ := store.Deliveries(ctx, hook.ID, 1)
					if len(l) == 1 && l[0].Attempts >= attempts {
						mu.Lock()
						failedLog = append(failedLog, l...)
						mu.Unlock()
						return
					}
					time.Sleep(2 * time.Millisecond)
				}
			}()
			return 500 * time.Millisecond
		}})
	runDispatchers(t, d)
	if n, err := webhooks.Publish(ctx, db, acc, webhooks.EventChatClosed, map[string]any{"chat_id": 7}); err != nil || n != 1 {
		t.Fatalf("publish: %d %v", n, err)
	}
	d.Notify()
	waitFor(t, "delivery", func() bool {
		return count(t, db, `SELECT count(*) FROM webhook_deliveries WHERE delivered_at IS NOT NULL`) == 1
	})
	got := rcv.requests()
	if len(got) != 3 {
		t.Fatalf("attempts: %d", len(got))
	}
	for _, rec := range got {
		if _, ev, data := rcv.check(hook.Secret, rec); ev != webhooks.EventChatClosed || data["chat_id"] != 7.0 || rec.delivery != got[0].delivery {
			t.Fatalf("attempt: %v %v", ev, data)
		}
	}
	log, err := store.Deliveries(ctx, hook.ID, 10)
	if err != nil || len(log) != 1 || log[0].Attempts != 2 || log[0].LastStatus != 200 || log[0].LastError != "" || log[0].DeliveredAt == nil {
		t.Fatalf("log: %+v %v", log, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(failedLog) == 0 || failedLog[0].LastStatus != 500 || failedLog[0].DeliveredAt != nil ||
		failedLog[0].LastError != "HTTP 500 Internal Server Error: receiver says 500" {
		t.Fatalf("log after a failure: %+v", failedLog)
	}
	// A receiver that cannot be reached: status 0, the error kept.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	deadHook := addHook(t, store, acc, dead.URL, webhooks.EventLeadActionCreated)
	if _, err := webhooks.Publish(ctx, db, acc, webhooks.EventLeadActionCreated, map[string]any{}); err != nil {
		t.Fatal(err)
	}
	d.Notify()
	waitFor(t, "a failed attempt", func() bool {
		l, err := store.Deliveries(ctx, deadHook.ID, 1)
		return err == nil && len(l) == 1 && l[0].Attempts > 0 && l[0].LastStatus == 0 && l[0].LastError != ""
	})
}

// runDispatchers runs ds until the test ends.
func runDispatchers(t *testing.T, ds ...*webhooks.Dispatcher) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, d := range ds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.Run(ctx); err != nil {
				t.Errorf("run: %v", err)
			}
		}()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// TestTwoDispatchers: two dispatchers on one database deliver each event
// exactly once.
func TestTwoDispatchers(t *testing.T) {
	db := testenv.NewDB(t)
	ctx := context.Background()
	store := webhooks.NewStore(db)
	acc := account(t, db, "Shop")
	rcv := newReceiver(t, nil)
	hook := addHook(t, store, acc, rcv.srv.URL)
	opt := webhooks.Options{Interval: 10 * time.Millisecond, Batch: 3}
	runDispatchers(t, webhooks.NewDispatcher(webhooks.NewStore(db), quiet(), opt), webhooks.NewDispatcher(webhooks.NewStore(db), quiet(), opt))
	const n = 40
	for i := range n {
		if _, err := webhooks.Publish(ctx, db, acc, webhooks.EventOfflineRequestCreated, map[string]any{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "deliveries", func() bool {
		return count(t, db, `SELECT count(*) FROM webhook_deliveries WHERE delivered_at IS NOT NULL`) == n
	})
	got := rcv.requests()
	seen := map[int64]bool{}
	is := map[float64]bool{}
	for _, rec := range got {
		id, _, data := rcv.check(hook.Secret, rec)
		if seen[id] {
			t.Fatalf("delivery %d received twice", id)
		}
		seen[id] = true
		is[data["i"].(float64)] = true
	}
	if len(got) != n || len(is) != n {
		t.Fatalf("received %d requests, %d events", len(got), len(is))
	}
}

// TestPublishFilters: only active webhooks of the account that take the event
// get a delivery.
func TestPublishFilters(t *testing.T) {
	db := testenv.NewDB(t)
	ctx := context.Background()
	store := webhooks.NewStore(db)
	shop, other := account(t, db, "Shop"), account(t, db, "Other")
	all := addHook(t, store, shop, "https://a.example/hook")
	leadsOnly := addHook(t, store, shop, "https://b.example/hook", webhooks.EventOfflineRequestCreated, webhooks.EventLeadActionCreated)
	inactive := addHook(t, store, shop, "http://c.example/hook")
	if _, err := db.Exec(ctx, `UPDATE webhooks SET active = false WHERE id = $1`, inactive.ID); err != nil {
		t.Fatal(err)
	}
	addHook(t, store, other, "https://d.example/hook")
	if n, err := webhooks.Publish(ctx, db, shop, webhooks.EventChatClosed, nil); err != nil || n != 1 {
		t.Fatalf("chat.closed: %d %v", n, err)
	}
	if n, err := webhooks.Publish(ctx, db, shop, webhooks.EventLeadActionCreated, nil); err != nil || n != 2 {
		t.Fatalf("lead_action.created: %d %v", n, err)
	}
	if n := count(t, db, `SELECT count(*) FROM webhook_deliveries WHERE webhook_id = $1`, all.ID); n != 2 {
		t.Fatalf("all: %d", n)
	}
	if n := count(t, db, `SELECT count(*) FROM webhook_deliveries WHERE webhook_id = $1 AND event = 'lead_action.created'`, leadsOnly.ID); n != 1 {
		t.Fatalf("leads only: %d", n)
	}
	if _, err := webhooks.Publish(ctx, db, shop, "call.made", nil); err == nil {
		t.Fatal("unknown event published")
	}
	// Bad input is refused naming the field.
	if _, err := store.Add(ctx, shop, "ftp://x.example/", nil); comagic.ErrorCode(err) != comagic.EINVALID {
		t.Fatalf("ftp URL: %v", err)
	}
	if _, err := store.Add(ctx, shop, "https://x.example/", []string{"chat.opened"}); comagic.ErrorCode(err) != comagic.EINVALID {
		t.Fatalf("unknown event: %v", err)
	}
	if _, err := store.Add(ctx, 999999, "https://x.example/", nil); comagic.ErrorCode(err) != comagic.ENOTFOUND {
		t.Fatalf("unknown account: %v", err)
	}
	// Removing a webhook removes its deliveries.
	if err := store.Remove(ctx, all.ID); err != nil {
		t.Fatal(err)
	}
	if err := store.Remove(ctx, all.ID); comagic.ErrorCode(err) != comagic.ENOTFOUND {
		t.Fatalf("second remove: %v", err)
	}
	if n := count(t, db, `SELECT count(*) FROM webhook_deliveries WHERE webhook_id = $1`, all.ID); n != 0 {
		t.Fatalf("deliveries left: %d", n)
	}
}

func TestVerify(t *testing.T) {
	body := []byte(`{"id":1,"event":"chat.closed","created_at":"2026-01-01T00:00:00Z","data":{}}`)
	now := strconv.FormatInt(time.Now().Unix(), 10)
	sig := webhooks.Sign("s3cret", now, body)
	if err := webhooks.Verify("s3cret", now, body, sig); err != nil {
		t.Fatal(err)
	}
	if err := webhooks.Verify("other", now, body, sig); err != webhooks.ErrBadSignature {
		t.Fatalf("wrong secret: %v", err)
	}
	if err := webhooks.Verify("s3cret", now, append(body, ' '), sig); err != webhooks.ErrBadSignature {
		t.Fatalf("changed body: %v", err)
	}
	old := strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10)
	if err := webhooks.Verify("s3cret", old, body, webhooks.Sign("s3cret", old, body)); err != webhooks.ErrStale {
		t.Fatalf("old timestamp: %v", err)
	}
	if err := webhooks.Verify("s3cret", old, body, sig); err != webhooks.ErrBadSignature {
		t.Fatalf("timestamp changed: %v", err)
	}
}

// An offline request is announced in the transaction that stores it: when the
// answer says success, the delivery is queued with the stored id and time,
// once (a retry with the same idempotency key announces nothing), and only
// for the site's own account.
func TestOfflineRequestAnnouncedWithIt(t *testing.T) {
	srv, siteKey, site, store := startShop(t)
	ctx := context.Background()
	// Nothing listens: the rows stay queued for the test to read.
	hook := addHook(t, store, site.AccountID, "http://127.0.0.1:9/leads", webhooks.EventOfflineRequestCreated)
	addHook(t, store, site.AccountID, "http://127.0.0.1:9/chats", webhooks.EventChatClosed)
	otherKey := srv.CreateSite(t, "other.example")
	other, err := srv.App.Sites.SiteByKey(ctx, otherKey)
	if err != nil {
		t.Fatal(err)
	}
	addHook(t, store, other.AccountID, "http://127.0.0.1:9/other")

	send := func() map[string]any {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/add_offline_message/", strings.NewReader(url.Values{
			"site_key": {siteKey}, "name": {"Ольга"}, "phone": {"+7 925 123-45-67"}, "text": {"Счёт, пожалуйста"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Idempotency-Key", "order-42")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var a map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || resp.StatusCode != 200 || a["success"] != true {
			t.Fatalf("offline request: %d %v %v", resp.StatusCode, a, err)
		}
		return a
	}
	send()
	// Read at once after the answer: the delivery was committed with the request.
	var id int64
	var created time.Time
	if err := srv.DB.QueryRow(ctx, `SELECT id, created_at FROM offline_requests WHERE site_id = $1`, site.ID).Scan(&id, &created); err != nil {
		t.Fatal(err)
	}
	rows, err := srv.DB.Query(ctx, `SELECT webhook_id, payload FROM webhook_deliveries WHERE event = 'offline_request.created'`)
	if err != nil {
		t.Fatal(err)
	}
	type delivery struct {
		hook int64
		data map[string]any
	}
	var got []delivery
	for rows.Next() {
		var d delivery
		if err := rows.Scan(&d.hook, &d.data); err != nil {
			t.Fatal(err)
		}
		got = append(got, d)
	}
	if len(got) != 1 || got[0].hook != hook.ID {
		t.Fatalf("deliveries %v, want one to webhook %d", got, hook.ID)
	}
	d := got[0].data
	at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(d["created_at"]))
	if err != nil || !at.Equal(created) || d["id"] != float64(id) || d["name"] != "Ольга" || d["phone"] != "79251234567" ||
		d["message"] != "Счёт, пожалуйста" || d["site_key"] != siteKey || d["source"] != "api" {
		t.Fatalf("data %v (created %v, %v), want the stored request %d at %v", d, at, err, id, created)
	}
	// The retry is answered from its key and announces nothing more.
	send()
	if n := count(t, srv.DB, `SELECT count(*) FROM webhook_deliveries`); n != 1 {
		t.Fatalf("%d deliveries after the retry, want 1", n)
	}
	// It is the store's one statement that queues the event: nothing is left
	// for after the commit, when the node may be gone.
	r := &comagic.OfflineRequest{SiteID: site.ID, SiteKey: siteKey, Name: "Пётр", Phone: "79250000000", Source: "api",
		AccountID: site.AccountID, Announce: []byte(`{"name": "Пётр", "source": "api"}`)}
	if err := srv.App.Store.CreateOfflineRequest(ctx, r); err != nil || r.Announced != 1 {
		t.Fatalf("store: announced %d, %v", r.Announced, err)
	}
	if n := count(t, srv.DB, `SELECT count(*) FROM webhook_deliveries WHERE (payload->>'id')::bigint = $1 AND payload->>'name' = 'Пётр'`, r.ID); n != 1 {
		t.Fatalf("the store's delivery of request %d: %d rows", r.ID, n)
	}
}
