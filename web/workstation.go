package web

import (
	"fmt"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
)

// The operator workstation: a single-page app under /operator/, built from
// the ES2017 modules under operator/src (entry workstationEntry) into
// /operator/app.js, with operator/app.css and operator/index.html beside it.
const (
	workstationEntry = "operator/src/main.js"
	workstationCSS   = "operator/app.css"
	workstationHTML  = "operator/index.html"
	workstationIcon  = "operator/icon.svg"
)

// WorkstationCSP is the Content-Security-Policy of every /operator/ answer:
// the app's own script and styles only (no inline code, no eval), its API and
// websocket on the same origin, chat files and images from the same origin.
// The websocket's origin is also named with the ws: and wss: schemes (for
// browsers whose 'self' does not cover them) when the request's host is a
// plain host[:port]; see WorkstationCSPFor.
const WorkstationCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"connect-src 'self'; media-src 'self'; font-src 'self'; manifest-src 'self'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// plainHost matches a host[:port] that may stand in a CSP source expression.
var plainHost = regexp.MustCompile(`^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$`)

// WorkstationCSPFor is WorkstationCSP for a request to host: connect-src also
// names ws://host and wss://host.
func WorkstationCSPFor(host string) string {
	if !plainHost.MatchString(host) {
		return WorkstationCSP
	}
	return strings.Replace(WorkstationCSP, "connect-src 'self'", "connect-src 'self' ws://"+host+" wss://"+host, 1)
}

// buildWorkstation adds the workstation's files (skipped when fsys has none,
// as in build tests).
func (a *Assets) buildWorkstation(fsys fs.FS) error {
	if _, err := fs.Stat(fsys, workstationEntry); err != nil {
		return nil
	}
	js, err := bundleAs(fsys, workstationEntry, true, "comagicd operator workstation")
	if err != nil {
		return err
	}
	a.files["/operator/app.js"] = newAsset("application/javascript; charset=utf-8", js)
	css, err := minifyCSS(fsys, workstationCSS)
	if err != nil {
		return err
	}
	a.files["/operator/app.css"] = newAsset("text/css; charset=utf-8", css)
	html, err := fs.ReadFile(fsys, workstationHTML)
	if err != nil {
		return fmt.Errorf("web: read %s: %w", workstationHTML, err)
	}
	a.files["/operator/"] = newAsset("text/html; charset=utf-8", html)
	icon, err := fs.ReadFile(fsys, workstationIcon)
	if err != nil {
		return fmt.Errorf("web: read %s: %w", workstationIcon, err)
	}
	a.files["/operator/icon.svg"] = newAsset("image/svg+xml", icon)
	return nil
}

// workstationHeaders sets the security headers of a workstation answer; the
// page itself is revalidated on every load so that a new release shows at once.
func workstationHeaders(h http.Header, path, host string) {
	h.Set("Content-Security-Policy", WorkstationCSPFor(host))
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if path == "/operator/" {
		h.Set("Cache-Control", "no-cache")
	}
}
