package browsertest

import (
	"errors"
	"fmt"
	"os"
	"testing"
)

var browser *Browser
var browserErr error

func TestMain(m *testing.M) {
	browser, browserErr = Start()
	code := m.Run()
	if browser != nil {
		browser.Close()
	}
	os.Exit(code)
}

// newTab opens an isolated tab. Without Chromium the test fails: browser
// behaviour is part of the product (.ci/run installs Debian's chromium).
func newTab(t *testing.T) *Tab {
	t.Helper()
	if browser == nil {
		if errors.Is(browserErr, ErrNoChromium) {
			t.Fatalf("Chromium is required for the browser tests (apt-get install chromium): %v", browserErr)
		}
		t.Fatal(fmt.Errorf("no browser: %w", browserErr))
	}
	return browser.NewTab(t)
}
