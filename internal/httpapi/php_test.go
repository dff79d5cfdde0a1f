package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// referencePath finds the vendor reference in ../shared beside the repository.
func referencePath(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("../../../shared/reference/seed-js-api-reference.ru.txt")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the vendor reference is needed beside the repository: %v", err)
	}
	return p
}

// phpExample cuts a PHP example out of the reference verbatim: from the line
// starting with start up to (not including) the line starting with end.
func phpExample(t *testing.T, doc, start, end string) string {
	t.Helper()
	i := strings.Index(doc, start)
	if i < 0 {
		t.Fatalf("reference: %q not found", start)
	}
	j := strings.Index(doc[i:], end)
	if j < 0 {
		t.Fatalf("reference: %q not found after %q", end, start)
	}
	return strings.TrimSpace(doc[i:i+j]) + "\n"
}

// startPHP serves dir with the PHP built-in server. The reference's examples use
// short open tags (`<?`), which Debian's php.ini turns off.
func startPHP(t *testing.T, dir string) string {
	t.Helper()
	php, err := exec.LookPath("php")
	if err != nil {
		t.Fatal("php is required (Debian package php-cli; .ci/run installs it)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(php, "-d", "short_open_tag=On", "-d", "display_errors=stderr", "-S", addr, "-t", dir)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "http://" + addr
		}
	}
	t.Fatal("php -S did not start")
	return ""
}

// TestPHPExamples runs the reference's send.php and sendAjax.php under real php
// against the server, with credentials from a real bootstrap, as the site's forms
// would post them.
func TestPHPExamples(t *testing.T) {
	c, srv := newServer(t)
	site := srv.CreateSite(t, "shop.example")
	ref, err := os.ReadFile(referencePath(t))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(ref)
	dir := t.TempDir()
	send := phpExample(t, doc, "<? /* Здесь код по умолчанию", "Вариант с AJAX-запросом")
	ajaxStart := strings.Index(doc, "sendAjax.php:")
	if ajaxStart < 0 {
		t.Fatal("reference: sendAjax.php not found")
	}
	sendAjax := phpExample(t, doc[ajaxStart:], "<?", "Форма сайтфона")
	for name, src := range map[string]string{"send.php": send, "sendAjax.php": sendAjax} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	phpURL := startPHP(t, dir)

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
