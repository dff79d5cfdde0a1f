package browsertest

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// loadImage is a JS function that loads an image URL and answers its natural
// size, or {error: true} when the image does not load.
const loadImage = `const load = (url) => new Promise(done => {
	const img = new Image();
	img.onload = () => done({w: img.naturalWidth, h: img.naturalHeight});
	img.onerror = () => done({error: true});
	img.src = url;
});`

// Comagic.getCaptcha and Comagic.Captcha.get_captcha against the real server:
// the callback gets {key, url}, the page can show the image (another origin),
// a used captcha's image is gone, and failures give empty strings, never an
// exception.
func TestAcceptanceCaptcha(t *testing.T) {
	env := startReal(t)
	pages := NewPageServer(t)
	tab := newTab(t)
	// A page asking for a captcha before the script has even bootstrapped.
	early := `<script>var __cs = __cs || []; __cs.push(function () { Comagic.getCaptcha(function (c) { window.early = c; }); });</script>`
	tab.Go(pages.Page("/captcha", embedPage(env.classic()+early, "")))
	waitBoot(tab)

	keyRE := regexp.MustCompile(`^[0-9a-f]{32}$`)
	urlRE := regexp.MustCompile(`^` + regexp.QuoteMeta(env.URL) + `/api/captcha/([0-9a-f]{32})\.png(\?bg=ffcc00)?$`)
	r := Eval[map[string]map[string]any](tab, `new Promise(done => { `+loadImage+`
		Comagic.getCaptcha(a => {
			Comagic.Captcha.get_captcha(b => {
				Promise.all([load(a.url), load(b.url)]).then(([ia, ib]) => done({a, b, ia, ib}));
			});
		}, {bg: '#FFCC00'});
	})`)
	a, b := r["a"], r["b"]
	for name, c := range map[string]map[string]any{"getCaptcha": a, "Captcha.get_captcha": b} {
		if len(c) != 2 || !keyRE.MatchString(str(c["key"])) {
			t.Fatalf("%s gave %v", name, c)
		}
		m := urlRE.FindStringSubmatch(str(c["url"]))
		if m == nil || m[1] != str(c["key"]) {
			t.Fatalf("%s: url %v", name, c["url"])
		}
	}
	if str(a["url"]) != env.URL+"/api/captcha/"+str(a["key"])+".png?bg=ffcc00" || str(b["url"]) != env.URL+"/api/captcha/"+str(b["key"])+".png" {
		t.Fatalf("urls: %v %v", a["url"], b["url"])
	}
	for name, size := range map[string]map[string]any{"a": r["ia"], "b": r["ib"]} {
		if size["w"] != 120.0 || size["h"] != 50.0 {
			t.Fatalf("image %s: %v", name, size)
		}
	}
	early2 := Wait[map[string]any](tab, `window.early`, boot)
	if !keyRE.MatchString(str(early2["key"])) {
		t.Fatalf("captcha asked before the bootstrap: %v", early2)
	}
	rows := env.rows(t, `SELECT count(*) FROM captchas WHERE `+siteFilter+` AND key IN ($2, $3, $4) AND used_at IS NULL`, env.SiteKey, str(a["key"]), str(b["key"]), str(early2["key"]))
	if rows[0][0] != "3" {
		t.Fatalf("stored captchas: %v", rows)
	}

	// A used captcha's image no longer loads (a new URL: the page's memory
	// cache of images keeps what it already showed).
	env.rows(t, `UPDATE captchas SET used_at = now() WHERE key = $1 RETURNING key`, str(a["key"]))
	gone := Eval[map[string]any](tab, `new Promise(done => { `+loadImage+` load(`+jsString(str(a["url"])+"&again=1")+`).then(done); })`)
	if gone["error"] != true {
		t.Fatalf("image of a used captcha: %v", gone)
	}

	// Failures: a bad colour gives empty strings (and a warning); a callback
	// that throws is reported, not rethrown; no callback at all is fine.
	bad := Eval[map[string]any](tab, `new Promise(done => {
		Comagic.getCaptcha(); Comagic.Captcha.get_captcha(null);
		Comagic.getCaptcha(() => { throw new Error('page bug'); });
		Comagic.getCaptcha(c => done(c), {bg: 'red'});
	})`)
	if len(bad) != 2 || bad["key"] != "" || bad["url"] != "" {
		t.Fatalf("captcha with a bad colour: %v", bad)
	}
	Eventually(t, boot, func() error {
		errs, warns := strings.Join(tab.Logged("error"), "\n"), strings.Join(tab.Logged("warning"), "\n")
		if !strings.Contains(errs, "your callback threw: page bug") || !strings.Contains(warns, "getCaptcha failed: invalid: bg must be") {
			return fmt.Errorf("console errors %q, warnings %q", errs, warns)
		}
		return nil
	})
	noExceptions(t, tab)
}
