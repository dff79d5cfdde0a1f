package tplconf

import (
	"os"
	"os/exec"
	"testing"
)

// TestConformance runs the node test of this directory: the template
// interpreter against lodash.template on the whole corpus.
func TestConformance(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found (apt-get install nodejs npm): %v", err)
	}
	if _, err := exec.LookPath("npm"); err != nil {
		t.Fatalf("npm not found (apt-get install npm): %v", err)
	}
	cmd := exec.Command(node, "--test", "--test-reporter=tap", "tpl.test.mjs")
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false", "npm_config_fund=false", "npm_config_audit=false")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test tpl.test.mjs: %v\n%s", err, out)
	}
	if testing.Verbose() {
		t.Logf("%s", out)
	}
}

// TestChatLogic runs chat.test.mjs: the chat's message objects, history
// pages and typing throttle (web/embed/ui/chat.js), and the default chat
// templates rendering people's text as text.
func TestChatLogic(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found (apt-get install nodejs): %v", err)
	}
	out, err := exec.Command(node, "--test", "--test-reporter=tap", "chat.test.mjs").CombinedOutput()
	if err != nil {
		t.Fatalf("node --test chat.test.mjs: %v\n%s", err, out)
	}
	if testing.Verbose() {
		t.Logf("%s", out)
	}
}
