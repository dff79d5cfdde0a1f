package browsertest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/comagicd/comagicd/internal/testenv"
)

// formsSite writes the seed's form page, jQuery and the PHP handlers of ex into
// a temp dir, serves it with php -S, and returns its URL.
func formsSite(t *testing.T, embed string, ex testenv.PHPExample) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("jquery.min.js", string(fetchJQuery(t)))
	write("send.php", ex.Send)
	write("sendAjax.php", ex.SendAjax)
	write("form.html", `<!doctype html><html><head><meta charset=utf-8><title>Form</title>
<script src="/jquery.min.js"></script>`+embed+`
<script>window.alert = function (text) { window.alerted = String(text); };</script>
</head><body>`+formsHTML+`</body></html>`)
	return testenv.StartPHP(t, dir)
}

// submitForms fills and sends both seed forms: #myform (page reload through
// send.php) and #myform2 (AJAX through sendAjax.php). It returns the alert text.
func submitForms(t *testing.T, tab *Tab, site string) string {
	t.Helper()
	tab.Go(site + "/form.html")
	waitBoot(tab)
	tab.Run(
		chromedp.SetValue(chromedp.CSS(`#myform [name=name]`), "John Smith"),
		chromedp.SetValue(chromedp.CSS(`#myform [name=phone]`), "+79251234567"),
		chromedp.SetValue(chromedp.CSS(`#myform [name=email]`), "no@email.adr"),
		chromedp.SetValue(chromedp.CSS(`#myform [name=text]`), "Hello, world!"),
		chromedp.Click(chromedp.CSS(`#myform input[type=button]`)),
	)
	Wait[bool](tab, `location.pathname === '/send.php' && document.readyState === 'complete' && document.body.textContent.includes('is_sale=1')`, 15*time.Second)

	tab.Go(site + "/form.html")
	waitBoot(tab)
	tab.Run(
		chromedp.SetValue(chromedp.CSS(`#myform2 [name=name]`), "Ajax Person"),
		chromedp.SetValue(chromedp.CSS(`#myform2 [name=phone]`), "8 (912) 345-67-89"),
		chromedp.SetValue(chromedp.CSS(`#myform2 [name=email]`), "ajax@example.com"),
		chromedp.SetValue(chromedp.CSS(`#myform2 [name=text]`), "Call me"),
		chromedp.Click(chromedp.CSS(`#myform2 input[type=button]`)),
	)
	return Wait[string](tab, `window.alerted`, 15*time.Second)
}

// The PHP side of the seed forms against the fake API: what reaches
// /api/add_offline_message/ carries the page's credentials.
func TestSeedFormsFake(t *testing.T) {
	for _, ex := range testenv.PHPExamples(t) {
		t.Run(ex.Name, func(t *testing.T) { testSeedFormsFake(t, ex) })
	}
}

func testSeedFormsFake(t *testing.T, ex testenv.PHPExample) {
	api := newFakeAPI(t)
	site := formsSite(t, api.classic(), ex)
	tab := newTab(t)
	alerted := submitForms(t, tab, site)
	if !strings.Contains(alerted, "Заявка успешно сохранена.") {
		t.Errorf("alert(response.responseText) = %q", alerted)
	}
	calls := api.Calls("add_offline_message")
	if len(calls) != 2 {
		t.Fatalf("%d add_offline_message posts, want 2", len(calls))
	}
	for i, name := range []string{"John Smith", "Ajax Person"} {
		b := calls[i].Body
		if b["name"] != name || b["is_sale"] != "1" || b["sale_cost"] != "10000" || b["uri"] != api.URL+"/" ||
			len(str(b["key"])) != 32 || str(b["visitor_id"]) == "" || str(b["hit_id"]) == "" || str(b["session_id"]) == "" {
			t.Errorf("post %d: %v", i, b)
		}
		if !strings.HasPrefix(calls[i].CType, "application/x-www-form-urlencoded") {
			t.Errorf("post %d Content-Type %q", i, calls[i].CType)
		}
	}
	noExceptions(t, tab)
}
