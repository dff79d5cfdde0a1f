package files

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/comagicd/comagicd/internal/comagic"
)

func newDisk(t *testing.T) (*Disk, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "files")
	d, err := NewDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	return d, dir
}

// entries lists the directory, temporary files included.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func readAll(t *testing.T, d *Disk, key string) []byte {
	t.Helper()
	r, err := d.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("open %s: %v", key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDiskPutOpenDelete(t *testing.T) {
	ctx := context.Background()
	d, dir := newDisk(t)
	data := []byte("Привет, мир!\n")
	n, err := d.Put(ctx, "0123abcdef", bytes.NewReader(data), int64(len(data)))
	if err != nil || n != int64(len(data)) {
		t.Fatalf("put = %d, %v", n, err)
	}
	if got := readAll(t, d, "0123abcdef"); !bytes.Equal(got, data) {
		t.Fatalf("read back %q", got)
	}
	if got := entries(t, dir); len(got) != 1 || got[0] != "0123abcdef" {
		t.Fatalf("directory holds %v", got)
	}
	fi, err := os.Stat(filepath.Join(dir, "0123abcdef"))
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("stat = %v, %v; want mode 0640", fi, err)
	}
	// A second Put replaces the contents.
	if _, err := d.Put(ctx, "0123abcdef", strings.NewReader("x"), 10); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, d, "0123abcdef"); string(got) != "x" {
		t.Fatalf("after replace: %q", got)
	}
	if err := d.Delete(ctx, "0123abcdef"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Open(ctx, "0123abcdef"); comagic.ErrorCode(err) != comagic.ENOTFOUND {
		t.Fatalf("open after delete: %v, want not_found", err)
	}
	if err := d.Delete(ctx, "0123abcdef"); err != nil {
		t.Fatalf("deleting a missing file: %v", err)
	}
	if got := entries(t, dir); len(got) != 0 {
		t.Fatalf("directory holds %v", got)
	}
}

func TestDiskSizeLimit(t *testing.T) {
	ctx := context.Background()
	d, dir := newDisk(t)
	data := bytes.Repeat([]byte("z"), 100000)
	// Exactly at the limit is accepted.
	n, err := d.Put(ctx, "exact", bytes.NewReader(data), int64(len(data)))
	if err != nil || n != int64(len(data)) {
		t.Fatalf("put at limit = %d, %v", n, err)
	}
	// One byte more is refused, and nothing is kept.
	_, err = d.Put(ctx, "over", bytes.NewReader(append(data, 'z')), int64(len(data)))
	if comagic.ErrorCode(err) != comagic.EINVALID || comagic.ErrorField(err) != "file" {
		t.Fatalf("over the limit: %v, want invalid (field file)", err)
	}
	// A refused replacement keeps the old file.
	_, err = d.Put(ctx, "exact", bytes.NewReader(append(data, 'z')), int64(len(data)))
	if comagic.ErrorCode(err) != comagic.EINVALID {
		t.Fatalf("over the limit: %v", err)
	}
	if got := readAll(t, d, "exact"); !bytes.Equal(got, data) {
		t.Fatalf("old file changed: %d bytes", len(got))
	}
	if got := entries(t, dir); len(got) != 1 || got[0] != "exact" {
		t.Fatalf("directory holds %v", got)
	}
	// A zero limit takes only empty files.
	if _, err := d.Put(ctx, "empty", strings.NewReader(""), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Put(ctx, "one", strings.NewReader("1"), 0); comagic.ErrorField(err) != "file" {
		t.Fatalf("one byte with limit 0: %v", err)
	}
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("connection reset")
	}
	k := min(len(p), f.n)
	f.n -= k
	return k, nil
}

func TestDiskPutFailureKeepsNothing(t *testing.T) {
	d, dir := newDisk(t)
	if _, err := d.Put(context.Background(), "broken", &failingReader{n: 5000}, 1<<20); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("put from a failing reader: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Put(ctx, "cancelled", strings.NewReader("data"), 100); !errors.Is(err, context.Canceled) {
		t.Fatalf("put with a cancelled context: %v", err)
	}
	if got := entries(t, dir); len(got) != 0 {
		t.Fatalf("directory holds %v", got)
	}
}

func TestDiskKeys(t *testing.T) {
	ctx := context.Background()
	d, dir := newDisk(t)
	bad := []string{"", ".", "..", "...", "../x", "a/b", `a\b`, "/etc/passwd", ".hidden", ".put-123",
		"a\x00b", "ключ", "a b", strings.Repeat("k", MaxKeyLen+1)}
	for _, k := range bad {
		if _, err := d.Put(ctx, k, strings.NewReader("x"), 10); comagic.ErrorField(err) != "key" {
			t.Errorf("put %q: %v, want invalid key", k, err)
		}
		if _, err := d.Open(ctx, k); comagic.ErrorField(err) != "key" {
			t.Errorf("open %q: %v, want invalid key", k, err)
		}
		if err := d.Delete(ctx, k); comagic.ErrorField(err) != "key" {
			t.Errorf("delete %q: %v, want invalid key", k, err)
		}
	}
	if got := entries(t, dir); len(got) != 0 {
		t.Fatalf("directory holds %v", got)
	}
	for _, k := range []string{"a", "0f9e", "file.v1", "A-b_c.d", strings.Repeat("k", MaxKeyLen)} {
		if _, err := d.Put(ctx, k, strings.NewReader("x"), 10); err != nil {
			t.Errorf("put %q: %v", k, err)
		}
	}
}

func TestNewDiskRemovesStaleTemporaries(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{".put-1234", "keep"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := NewDisk(dir); err != nil {
		t.Fatal(err)
	}
	if got := entries(t, dir); len(got) != 1 || got[0] != "keep" {
		t.Fatalf("directory holds %v", got)
	}
	if _, err := NewDisk(""); err == nil {
		t.Fatal("NewDisk with no directory succeeded")
	}
}
