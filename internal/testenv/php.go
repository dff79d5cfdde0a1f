package testenv

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// referenceDoc is the vendor reference the PHP examples are cut from, found in
// ../shared beside the repository.
const referenceDoc = "shared/reference/seed-js-api-reference.ru.txt"

// ReferencePHP returns the two PHP backend examples of the vendor reference,
// verbatim: send.php (the page-reload form) and sendAjax.php (the AJAX form).
func ReferencePHP(t testing.TB) (sendPHP, sendAjaxPHP string) {
	t.Helper()
	doc := string(readReference(t))
	sendPHP = cut(t, doc, "<? /* Здесь код по умолчанию", "Вариант с AJAX-запросом")
	i := strings.Index(doc, "sendAjax.php:")
	if i < 0 {
		t.Fatal("testenv: sendAjax.php not found in the reference")
	}
	sendAjaxPHP = cut(t, doc[i:], "<?", "Форма сайтфона")
	return sendPHP, sendAjaxPHP
}

func readReference(t testing.TB) []byte {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for { // up to the module root, then beside it
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testenv: go.mod not found above the test")
		}
		dir = parent
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(dir), referenceDoc))
	if err != nil {
		t.Fatalf("testenv: the vendor reference is needed beside the repository (../%s): %v", referenceDoc, err)
	}
	return b
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

// StartPHP serves dir with `php -S` on a free loopback port for the test and
// returns its base URL as http://localhost:PORT. The reference's examples use
// short open tags (`<?`), which Debian's php.ini turns off, so they are turned
// on. It fails the test when php is missing; its log is shown when the test fails.
func StartPHP(t testing.TB, dir string) string {
	t.Helper()
	php, err := exec.LookPath("php")
	if err != nil {
		t.Fatalf("testenv: php not found (apt-get install php-cli): %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(php, "-n", "-d", "allow_url_fopen=1", "-d", "short_open_tag=On", "-S", addr, "-t", dir)
	cmd.Dir = dir
	logf, err := os.Create(filepath.Join(t.TempDir(), "php.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: start php: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logf.Name()); err == nil {
				t.Logf("php -S log:\n%s", b)
			}
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: php -S did not listen on %s", addr)
		}
	}
	return "http://localhost:" + strconv.Itoa(port)
}
