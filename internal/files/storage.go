// Package files stores the files sent in chats: a Storage interface with a
// local-disk implementation, content sniffing that decides which files are
// accepted, and signed download URLs.
package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/comagicd/comagicd/internal/comagic"
)

// Storage keeps file contents under keys chosen by the caller (random, e.g.
// 32 hex digits). Keys are 1..200 characters of letters, digits, '-', '_' and
// '.', and do not start with '.'.
type Storage interface {
	// Put stores r's bytes under key and returns their number. It returns
	// EINVALID (field "file") when r holds more than max bytes, and then keeps
	// nothing; EINVALID (field "key") for a bad key.
	Put(ctx context.Context, key string, r io.Reader, max int64) (size int64, err error)
	// Open returns the file under key; ENOTFOUND when there is none.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// Delete removes the file under key; deleting a missing file is not an error.
	Delete(ctx context.Context, key string) error
}

// MaxKeyLen is the longest accepted storage key.
const MaxKeyLen = 200

// ValidKey reports whether key is acceptable to a Storage.
func ValidKey(key string) bool {
	if key == "" || len(key) > MaxKeyLen || key[0] == '.' {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// Disk is a Storage in a local directory: one file per key, written to a
// temporary file and renamed into place, so readers never see a partial file.
type Disk struct {
	dir string
}

var _ Storage = (*Disk)(nil)

// NewDisk returns the storage rooted at dir, creating the directory (0750) if
// needed. Temporary files of interrupted writes ('.put-*') left by a crash are
// removed.
func NewDisk(dir string) (*Disk, error) {
	if dir == "" {
		return nil, fmt.Errorf("files: no storage directory")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("files: create storage directory: %w", err)
	}
	stale, err := filepath.Glob(filepath.Join(dir, ".put-*"))
	if err != nil {
		return nil, fmt.Errorf("files: list temporary files: %w", err)
	}
	for _, p := range stale {
		_ = os.Remove(p)
	}
	return &Disk{dir: dir}, nil
}

func (d *Disk) path(key string) (string, error) {
	if !ValidKey(key) {
		return "", comagic.Invalid("key", "invalid file key")
	}
	return filepath.Join(d.dir, key), nil
}

// Put implements Storage. The file is synced before it is renamed into place,
// so a key that Put returned for survives a crash. An existing file under key
// is replaced.
func (d *Disk) Put(ctx context.Context, key string, r io.Reader, max int64) (int64, error) {
	dst, err := d.path(key)
	if err != nil {
		return 0, err
	}
	if max < 0 {
		max = 0
	}
	tmp, err := os.CreateTemp(d.dir, ".put-*")
	if err != nil {
		return 0, fmt.Errorf("files: create temporary file: %w", err)
	}
	done := false
	defer func() {
		if !done {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	n, err := io.Copy(tmp, io.LimitReader(ctxReader{ctx, r}, max+1))
	if err != nil {
		return 0, fmt.Errorf("files: write %s: %w", key, err)
	}
	if n > max {
		return 0, comagic.Invalid("file", "the file is larger than %d bytes", max)
	}
	if err := tmp.Sync(); err != nil {
		return 0, fmt.Errorf("files: sync %s: %w", key, err)
	}
	if err := tmp.Close(); err != nil {
		return 0, fmt.Errorf("files: close %s: %w", key, err)
	}
	if err := os.Chmod(tmp.Name(), 0o640); err != nil {
		return 0, fmt.Errorf("files: chmod %s: %w", key, err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return 0, fmt.Errorf("files: rename %s: %w", key, err)
	}
	done = true
	return n, nil
}

// Open implements Storage. The reader is an *os.File, so callers may use it as
// an io.ReadSeeker (http.ServeContent).
func (d *Disk) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, comagic.Errorf(comagic.ENOTFOUND, "file not found")
	}
	if err != nil {
		return nil, fmt.Errorf("files: open %s: %w", key, err)
	}
	return f, nil
}

// Delete implements Storage.
func (d *Disk) Delete(ctx context.Context, key string) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("files: delete %s: %w", key, err)
	}
	return nil
}

// ctxReader stops a copy when its context ends (a client that went away).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
