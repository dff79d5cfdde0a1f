package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/comagicd/comagicd/internal/testenv"
)

// TestPHPExamples runs site backends in the shape of the vendor's send.php and
// sendAjax.php under real php against the server, with credentials from a real
// bootstrap, as the site's forms would post them: our own examples always, and
// the reference's verbatim when it is beside the repository (always in CI).
func TestPHPExamples(t *testing.T) {
	for _, ex := range testenv.PHPExamples(t) {
		t.Run(ex.Name, func(t *testing.T) { testPHPExample(t, ex) })
	}
}

func testPHPExample(t *testing.T, ex testenv.PHPExample) {
	c, srv := newServer(t)
	site := srv.CreateSite(t, "shop.example")
	dir := t.TempDir()
	for name, src := range map[string]string{"send.php": ex.Send, "sendAjax.php": ex.SendAjax} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	phpURL := testenv.StartPHP(t, dir)

	for _, tc := range []struct{ script, name, want string }{
		// send.php prints the request it forwarded and nothing from its error branch.
		{"send.php", "Иван Формов", "is_sale=1&sale_cost=10000"},
		// sendAjax.php prints its success branch.
		{"sendAjax.php", "Пётр Аяксов", "Заявка успешно сохранена."},
	} {
		v := c.bootstrap(site, nil, "https://shop.example/contacts", "")
		// What the page's form posts after Comagic.getCredentials() filled it.
		form := url.Values{
			"name": {tc.name}, "phone": {"8 (925) 123-45-67"}, "email": {"client@example.com"}, "text": {"Перезвоните мне"},
			"key": {v.key}, "uri": {srv.URL + "/"}, "visitor_id": {fmt.Sprint(v.visitor)}, "hit_id": {fmt.Sprint(v.hit)},
			"session_id": {fmt.Sprint(v.session)}, "consultant_server_url": {srv.URL + "/"}, "site_key": {site},
		}
		resp, err := http.PostForm(phpURL+"/"+tc.script, form)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(out), tc.want) {
			t.Fatalf("%s answered %d: %s", tc.script, resp.StatusCode, out)
		}
		var phone, message string
		var cost float64
		err = srv.DB.QueryRow(context.Background(), `SELECT phone, message, sale_cost FROM offline_requests
			WHERE name = $1 AND source = 'api' AND visitor_id = $2 AND session_id = $3 AND hit_id = $4 AND is_sale`,
			tc.name, v.visitor, v.session, v.hit).Scan(&phone, &message, &cost)
		if err != nil || phone != "79251234567" || message != "Перезвоните мне" || cost != 10000 {
			t.Fatalf("%s: stored %q %q %v: %v", tc.script, phone, message, cost, err)
		}
	}

	// A forged key through the same PHP path stores nothing: send.php reaches its
	// error branch silently, sendAjax.php does not claim success.
	form := url.Values{"name": {"Подделка"}, "key": {strings.Repeat("F", 32)}, "visitor_id": {"1"}, "session_id": {"1"},
		"hit_id": {"1"}, "consultant_server_url": {srv.URL + "/"}, "uri": {srv.URL + "/"}}
	resp, err := http.PostForm(phpURL+"/send.php", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := c.count(`SELECT count(*) FROM offline_requests WHERE name = 'Подделка'`); n != 0 {
		t.Fatalf("forged request stored: %d", n)
	}
}
