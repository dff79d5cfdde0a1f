package testenv

import (
	"embed"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The vendor reference lives beside the repository, in ../shared/reference. CI
// has it and the conformance tests cut the vendor's PHP examples and widget
// settings from it; a bare clone has not, and the same shapes are then covered
// by the fixtures of our own in testdata/.
const (
	referenceDir = "shared/reference"
	referenceDoc = "seed-js-api-reference.ru.txt"
)

//go:embed testdata/php/send.php testdata/php/sendAjax.php
var ownPHP embed.FS

// InCI reports whether the tests run in CI (the CI environment variable is set
// and not "false" or "0").
func InCI() bool {
	v := os.Getenv("CI")
	return v != "" && v != "false" && v != "0"
}

// Reference returns the directory of the vendor reference beside the
// repository. Without it, the test fails in CI; elsewhere ok is false and the
// test logs that the checks against the reference did not run.
func Reference(t testing.TB) (dir string, ok bool) {
	t.Helper()
	dir = filepath.Join(filepath.Dir(ModuleRoot(t)), referenceDir)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		if InCI() {
			t.Fatalf("testenv: CI needs the vendor reference beside the repository (../%s): %v", referenceDir, err)
		}
		t.Logf("testenv: no vendor reference at %s: the checks against it do not run here (our testdata fixtures cover the same shapes)", dir)
		return "", false
	}
	return dir, true
}

// ModuleRoot returns the repository's root directory (where go.mod is), found
// upwards from the test's working directory.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testenv: go.mod not found above the test")
		}
		dir = parent
	}
}

// PHPExample is one pair of PHP site backends in the vendor's shape: Send is
// the page-reload form handler (send.php, prints the query it forwarded) and
// SendAjax the AJAX one (sendAjax.php, prints "Заявка успешно сохранена." on
// success). Both forward the posted form with is_sale=1 and sale_cost=10000 to
// consultant_server_url + "api/add_offline_message/".
type PHPExample struct {
	Name           string // "own" or "reference"
	Send, SendAjax string
}

// PHPExamples returns our own examples (testdata/php) and, when the vendor
// reference is present (always in CI), its two examples cut verbatim from it.
func PHPExamples(t testing.TB) []PHPExample {
	t.Helper()
	send, err := ownPHP.ReadFile("testdata/php/send.php")
	if err != nil {
		t.Fatal(err)
	}
	ajax, err := ownPHP.ReadFile("testdata/php/sendAjax.php")
	if err != nil {
		t.Fatal(err)
	}
	out := []PHPExample{{Name: "own", Send: string(send), SendAjax: string(ajax)}}
	if dir, ok := Reference(t); ok {
		s, a := referencePHP(t, dir)
		out = append(out, PHPExample{Name: "reference", Send: s, SendAjax: a})
	}
	return out
}

func referencePHP(t testing.TB, dir string) (sendPHP, sendAjaxPHP string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, referenceDoc))
	if err != nil {
		t.Fatalf("testenv: the vendor reference: %v", err)
	}
	doc := string(b)
	sendPHP = cut(t, doc, "<? /* Здесь код по умолчанию", "Вариант с AJAX-запросом")
	i := strings.Index(doc, "sendAjax.php:")
	if i < 0 {
		t.Fatal("testenv: sendAjax.php not found in the reference")
	}
	sendAjaxPHP = cut(t, doc[i:], "<?", "Форма сайтфона")
	return sendPHP, sendAjaxPHP
}

// cut returns doc from the line starting with start up to the one starting
// with end, trimmed.
func cut(t testing.TB, doc, start, end string) string {
	t.Helper()
	i := strings.Index(doc, start)
	if i < 0 {
		t.Fatalf("testenv: %q not found in the reference", start)
	}
	j := strings.Index(doc[i:], end)
	if j < 0 {
		t.Fatalf("testenv: %q not found after %q in the reference", end, start)
	}
	return strings.TrimSpace(doc[i:i+j]) + "\n"
}

// WidgetSettingsDirs returns the directories of widget settings files named
// <view controller>.<device>.json: our own fixtures (internal/widgets/testdata/settings)
// and, when present (always in CI), the vendor reference's.
func WidgetSettingsDirs(t testing.TB) []string {
	t.Helper()
	dirs := []string{filepath.Join(ModuleRoot(t), "internal", "widgets", "testdata", "settings")}
	if dir, ok := Reference(t); ok {
		dirs = append(dirs, filepath.Join(dir, "widget-settings"))
	}
	return dirs
}
