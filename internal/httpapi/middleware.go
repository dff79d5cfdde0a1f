package httpapi

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/comagicd/comagicd/internal/comagic"
)

type ctxKey int

const (
	ctxClientIP ctxKey = iota
	ctxSite
)

// clientIP works out the client's address: the peer's, or, when the peer is a
// trusted proxy, the right-most untrusted address of X-Forwarded-For.
func (h *Handler) clientIP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := peerIP(r.RemoteAddr)
		if len(h.TrustedProxies) > 0 && h.trusted(ip) {
			hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
			for i := len(hops) - 1; i >= 0; i-- {
				a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
				if err != nil {
					break
				}
				ip = a.Unmap()
				if !h.trusted(ip) {
					break
				}
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxClientIP, ip.String())))
	})
}

func peerIP(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

func (h *Handler) trusted(ip netip.Addr) bool {
	for _, p := range h.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func clientIPOf(r *http.Request) string {
	ip, _ := r.Context().Value(ctxClientIP).(string)
	return ip
}

// instrument counts requests and measures latency by route pattern.
func (h *Handler) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Websockets live for hours: they are counted by the chat's own
		// metrics, not as requests with a latency.
		if strings.HasPrefix(r.URL.Path, "/ws/") {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		route := chi.RouteContext(r.Context()).RoutePattern()
		if route == "" {
			route = "unmatched"
		}
		status := ww.Status()
		if status == 0 {
			status = http.StatusOK
		}
		method := metricMethod(r.Method)
		h.Metrics.Requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
		h.Metrics.Latency.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
	})
}

// metricMethod bounds the method label: any method outside the standard set is
// "other", so that random method strings cannot grow the metrics.
func metricMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// siteCORS resolves the site of /api/track/{site_key}/..., refuses browser
// requests from origins that are not the site's, answers CORS for the site's own
// origins (preflight included) and hands the site to the handler.
func (h *Handler) siteCORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		site, err := h.Sites.SiteByKey(r.Context(), chi.URLParam(r, "site_key"))
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if !h.allowOrigin(w, r, site) {
			h.fail(w, r, &comagic.Error{Code: comagic.EFORBIDDEN, Field: "origin", Message: "origin is not one of the site's domains"})
			return
		}
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxSite, site)))
	})
}

// allowOrigin sets the CORS headers for a request from one of the site's
// origins. It reports false for a browser request from any other origin;
// requests without Origin (server to server) are allowed without headers.
func (h *Handler) allowOrigin(w http.ResponseWriter, r *http.Request, site *comagic.Site) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if !site.AllowsOrigin(origin) {
		return false
	}
	setCORS(w, r, origin, "GET, POST, OPTIONS")
	return true
}

// setCORS lets the page of origin read the answer; a preflight learns the
// methods and headers it may use.
func setCORS(w http.ResponseWriter, r *http.Request, origin, methods string) {
	hd := w.Header()
	hd.Set("Access-Control-Allow-Origin", origin)
	hd.Set("Vary", "Origin")
	if r.Method == http.MethodOptions {
		hd.Set("Access-Control-Allow-Methods", methods)
		hd.Set("Access-Control-Allow-Headers", "Content-Type, Idempotency-Key")
		hd.Set("Access-Control-Max-Age", "86400")
	}
}

// allowKnownOrigin sets the CORS headers of the vendor endpoints, whose site is
// not known before the body is read (or at all, on a preflight), when some site
// allows the request's origin. It reports whether it did.
func (h *Handler) allowKnownOrigin(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	known, err := h.Sites.OriginKnown(r.Context(), origin)
	if err != nil || !known {
		return false
	}
	setCORS(w, r, origin, "POST, OPTIONS")
	return true
}

func siteOf(r *http.Request) *comagic.Site {
	s, _ := r.Context().Value(ctxSite).(*comagic.Site)
	return s
}
