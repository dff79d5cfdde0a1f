package captcha_test

import (
	"bytes"
	"context"
	"image/png"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/comagicd/comagicd/internal/captcha"
	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/postgres"
	"github.com/comagicd/comagicd/internal/testenv"
)

type fixture struct {
	svc          *captcha.Service
	store        *postgres.Captchas
	siteA, siteB *comagic.Site
	next         chan string // digits of the next captchas
	exec         func(sql string, args ...any)
	db           *pgxpool.Pool
}

func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	db := testenv.NewDB(t)
	sites := postgres.NewSites(db)
	acc, err := sites.EnsureAccount(ctx, "A")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: postgres.NewCaptchas(db), next: make(chan string, 16), db: db}
	if f.siteA, err = sites.CreateSite(ctx, acc.ID, []string{"a.example"}); err != nil {
		t.Fatal(err)
	}
	if f.siteB, err = sites.CreateSite(ctx, acc.ID, []string{"b.example"}); err != nil {
		t.Fatal(err)
	}
	f.svc, err = captcha.NewService(f.store, captcha.Options{
		Secret: []byte("0123456789abcdef0123456789abcdef"),
		Digits: func() string { return <-f.next },
	})
	if err != nil {
		t.Fatal(err)
	}
	f.exec = func(sql string, args ...any) {
		t.Helper()
		if _, err := db.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *fixture) issue(t *testing.T, site *comagic.Site, digits string) string {
	t.Helper()
	f.next <- digits
	key, err := f.svc.New(context.Background(), site.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !captcha.ValidKey(key) {
		t.Fatalf("key %q is not 32 hex characters", key)
	}
	return key
}

func check(t *testing.T, f *fixture, site *comagic.Site, key, value string, want bool) {
	t.Helper()
	ok, err := f.svc.Check(context.Background(), site.ID, key, value)
	if err != nil {
		t.Fatal(err)
	}
	if ok != want {
		t.Fatalf("Check(%s, %q) = %v, want %v", key, value, ok, want)
	}
}

func imageErr(f *fixture, key string) error {
	_, err := f.svc.Image(context.Background(), key, "")
	return err
}

func TestCheck(t *testing.T) {
	f := setup(t)

	t.Run("right value once", func(t *testing.T) {
		key := f.issue(t, f.siteA, "0472")
		check(t, f, f.siteA, key, " 0472 ", true)
		check(t, f, f.siteA, key, "0472", false)
		if code := comagic.ErrorCode(imageErr(f, key)); code != comagic.ENOTFOUND {
			t.Fatalf("image of a used captcha: %s, want not_found", code)
		}
	})
	t.Run("wrong value consumes", func(t *testing.T) {
		key := f.issue(t, f.siteA, "1234")
		check(t, f, f.siteA, key, "1235", false)
		check(t, f, f.siteA, key, "1234", false)
	})
	t.Run("empty value consumes", func(t *testing.T) {
		key := f.issue(t, f.siteA, "5555")
		check(t, f, f.siteA, key, "", false)
		check(t, f, f.siteA, key, "5555", false)
	})
	t.Run("expired", func(t *testing.T) {
		key := f.issue(t, f.siteA, "9090")
		if err := imageErr(f, key); err != nil {
			t.Fatal(err)
		}
		f.exec(`UPDATE captchas SET expires_at = now() - interval '1 second' WHERE key = $1`, key)
		if code := comagic.ErrorCode(imageErr(f, key)); code != comagic.ENOTFOUND {
			t.Fatalf("image of an expired captcha: %s, want not_found", code)
		}
		check(t, f, f.siteA, key, "9090", false)
	})
	t.Run("other site's key", func(t *testing.T) {
		key := f.issue(t, f.siteA, "3141")
		check(t, f, f.siteB, key, "3141", false)
		// Not consumed by the other site's attempt.
		check(t, f, f.siteA, key, "3141", true)
	})
	t.Run("unknown and malformed keys", func(t *testing.T) {
		check(t, f, f.siteA, "0123456789abcdef0123456789abcdef", "1234", false)
		check(t, f, f.siteA, "", "", false)
		check(t, f, f.siteA, "'; DROP TABLE captchas; --", "1", false)
		if code := comagic.ErrorCode(imageErr(f, "nope")); code != comagic.ENOTFOUND {
			t.Fatalf("image of a malformed key: %s", code)
		}
	})
	t.Run("concurrent checks: exactly one wins", func(t *testing.T) {
		key := f.issue(t, f.siteA, "7777")
		var wg sync.WaitGroup
		results := make(chan bool, 8)
		for range 8 {
			wg.Go(func() {
				ok, err := f.svc.Check(context.Background(), f.siteA.ID, key, "7777")
				if err != nil {
					t.Error(err)
				}
				results <- ok
			})
		}
		wg.Wait()
		close(results)
		n := 0
		for ok := range results {
			if ok {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d concurrent checks succeeded, want 1", n)
		}
	})
	t.Run("digits never stored in clear", func(t *testing.T) {
		key := f.issue(t, f.siteA, "8642")
		var hash, sealed []byte
		err := f.db.QueryRow(context.Background(), `SELECT answer_hash, sealed FROM captchas WHERE key = $1`, key).Scan(&hash, &sealed)
		if err != nil {
			t.Fatal(err)
		}
		if len(hash) != 32 || bytes.Contains(hash, []byte("8642")) || bytes.Contains(sealed, []byte("8642")) {
			t.Fatalf("stored answer_hash %x, sealed %x", hash, sealed)
		}
	})
	t.Run("purge", func(t *testing.T) {
		key := f.issue(t, f.siteA, "1111")
		f.exec(`UPDATE captchas SET expires_at = now() - interval '2 hours' WHERE key = $1`, key)
		n, err := f.svc.Purge(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n < 1 {
			t.Fatalf("purged %d captchas, want at least 1", n)
		}
		check(t, f, f.siteA, key, "1111", false)
	})
}

func TestImage(t *testing.T) {
	f := setup(t)
	key := f.issue(t, f.siteA, "2580")
	ctx := context.Background()

	for _, bg := range []string{"", "ffffff", "#1A2B3C", "000000"} {
		b, err := f.svc.Image(ctx, key, bg)
		if err != nil {
			t.Fatalf("bg %q: %v", bg, err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("bg %q: not a PNG: %v", bg, err)
		}
		if r := img.Bounds(); r.Dx() != captcha.Width || r.Dy() != captcha.Height {
			t.Fatalf("bg %q: size %v", bg, r)
		}
		if bg != "" {
			want, _ := captcha.ParseColor(bg)
			// The corner is background (or a noise dot); most of the border is.
			same := 0
			for x := range captcha.Width {
				r, g, b, _ := img.At(x, 0).RGBA()
				if uint8(r>>8) == want.R && uint8(g>>8) == want.G && uint8(b>>8) == want.B {
					same++
				}
			}
			if same < captcha.Width/2 {
				t.Fatalf("bg %q: only %d of the top row's pixels are the background", bg, same)
			}
		}
	}
	// The same captcha is drawn the same way every time.
	a, _ := f.svc.Image(ctx, key, "")
	b, _ := f.svc.Image(ctx, key, "")
	if !bytes.Equal(a, b) {
		t.Fatal("two drawings of one captcha differ")
	}
	// Another captcha with the same digits is drawn differently.
	other := f.issue(t, f.siteA, "2580")
	c, _ := f.svc.Image(ctx, other, "")
	if bytes.Equal(a, c) {
		t.Fatal("two captchas with the same digits are drawn identically")
	}

	for _, bg := range []string{"fff", "gggggg", "12345678", "#", "red", "0x1234"} {
		_, err := f.svc.Image(ctx, key, bg)
		if comagic.ErrorCode(err) != comagic.EINVALID || comagic.ErrorField(err) != "bg" {
			t.Fatalf("bg %q: got %v, want invalid bg", bg, err)
		}
	}
	// Drawing does not use the captcha up.
	check(t, f, f.siteA, key, "2580", true)
}

func TestNewService(t *testing.T) {
	if _, err := captcha.NewService(nil, captcha.Options{Secret: []byte("short")}); err == nil {
		t.Fatal("a short secret was accepted")
	}
	f := setup(t)
	f.next <- "12a4"
	if _, err := f.svc.New(context.Background(), f.siteA.ID); err == nil {
		t.Fatal("digits that are not 4 digits were accepted")
	}
	// A site that does not exist.
	f.next <- "1234"
	if _, err := f.svc.New(context.Background(), 987654321); comagic.ErrorCode(err) != comagic.ENOTFOUND {
		t.Fatalf("captcha of a missing site: %v", err)
	}
	// Production digits: crypto/rand, always 4 digits.
	svc, err := captcha.NewService(f.store, captcha.Options{Secret: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		key, err := svc.New(context.Background(), f.siteA.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Image(context.Background(), key, ""); err != nil {
			t.Fatal(err)
		}
	}
}
