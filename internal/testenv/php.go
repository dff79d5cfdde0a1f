package testenv

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

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
