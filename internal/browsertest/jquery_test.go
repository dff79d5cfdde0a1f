package browsertest

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// jqueryVersion is the jQuery release the seed's form examples run against.
const jqueryVersion = "3.7.1"

// fetchJQuery gets jQuery from the npm registry (npm pack, using npm's cache)
// and returns the text of dist/jquery.min.js.
func fetchJQuery(t *testing.T) []byte {
	t.Helper()
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatalf("npm not found (apt-get install npm): %v", err)
	}
	dir := t.TempDir()
	cmd := exec.Command(npm, "pack", "jquery@"+jqueryVersion, "--silent", "--pack-destination", dir)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false", "npm_config_fund=false", "npm_config_audit=false")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("npm pack jquery: %v\n%s", err, out)
	}
	f, err := os.Open(filepath.Join(dir, "jquery-"+jqueryVersion+".tgz"))
	if err != nil {
		t.Fatalf("npm pack jquery: %v\n%s", err, out)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("jquery.min.js not in the npm package: %v", err)
		}
		if strings.HasSuffix(h.Name, "/dist/jquery.min.js") {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}
