package httpapi

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/comagicd/comagicd/internal/comagic"
)

// guard refuses TRACE (and TRACK) everywhere with 405 and tells browsers not to
// sniff content types of any answer.
func (h *Handler) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if r.Method == http.MethodTrace || r.Method == "TRACK" {
			h.methodNotAllowed(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// tooManyRequests answers 429. The CORS headers come only from what is known
// without a query: the cached site of /api/track/{site_key}/ or of /vc/s/?sk=,
// or the cached origins of the vendor endpoints.
func (h *Handler) tooManyRequests(w http.ResponseWriter, r *http.Request) {
	if origin := r.Header.Get("Origin"); origin != "" {
		key := chi.URLParam(r, "site_key")
		if key == "" {
			key = r.URL.Query().Get("sk")
		}
		if site := h.Sites.CachedSiteByKey(key); site != nil {
			if site.AllowsOrigin(origin) {
				setCORS(w, r, origin, "GET, POST, OPTIONS")
			}
		} else if r.Method != http.MethodGet {
			h.allowKnownOrigin(w, r)
		}
	}
	h.fail(w, r, comagic.Errorf(comagic.ERATELIMITED, "too many requests, slow down"))
}

// jsonNotFound makes the 404 answers of next (the static assets) use the API's
// error shape, like every other 404 of the server.
func (h *Handler) jsonNotFound(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&notFoundWriter{ResponseWriter: w, h: h, r: r}, r)
	})
}

type notFoundWriter struct {
	http.ResponseWriter
	h        *Handler
	r        *http.Request
	replaced bool
}

func (w *notFoundWriter) WriteHeader(status int) {
	if status != http.StatusNotFound || w.replaced {
		w.ResponseWriter.WriteHeader(status)
		return
	}
	w.replaced = true
	w.Header().Del("Content-Length")
	w.h.notFound(w.ResponseWriter, w.r)
}

func (w *notFoundWriter) Write(b []byte) (int, error) {
	if w.replaced {
		return len(b), nil // the text body of the replaced 404
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *notFoundWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// failureLimiter counts failures per key in fixed windows and blocks a key
// that reached max failures until its window ends. Its memory is bounded: when
// it holds too many keys, windows that ended are dropped, then all.
type failureLimiter struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu   sync.Mutex
	keys map[string]*failureWindow
}

type failureWindow struct {
	start time.Time
	n     int
}

// maxFailureKeys bounds the keys a failureLimiter remembers.
const maxFailureKeys = 100000

func newFailureLimiter(max int, window time.Duration) *failureLimiter {
	return &failureLimiter{max: max, window: window, now: time.Now, keys: map[string]*failureWindow{}}
}

// blocked reports whether key has used up its failures.
func (l *failureLimiter) blocked(_ context.Context, key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.keys[key]
	return f != nil && l.now().Sub(f.start) < l.window && f.n >= l.max
}

// fail counts a failure for key.
func (l *failureLimiter) fail(_ context.Context, key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.keys) >= maxFailureKeys {
		for k, f := range l.keys {
			if now.Sub(f.start) >= l.window {
				delete(l.keys, k)
			}
		}
		if len(l.keys) >= maxFailureKeys {
			clear(l.keys)
		}
	}
	f := l.keys[key]
	if f == nil || now.Sub(f.start) >= l.window {
		f = &failureWindow{start: now}
		l.keys[key] = f
	}
	f.n++
}
