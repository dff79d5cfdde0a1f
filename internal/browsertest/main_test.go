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

// newTab opens an isolated tab. Without Chromium the test is skipped on a
// developer machine and fails under CI (CI=true), where .ci/run installs it.
func newTab(t *testing.T) *Tab {
	t.Helper()
	if browser == nil {
		if errors.Is(browserErr, ErrNoChromium) && os.Getenv("CI") == "" {
			t.Skip(browserErr)
		}
		t.Fatal(fmt.Errorf("no browser: %w", browserErr))
	}
	return browser.NewTab(t)
}
