package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/comagicd/comagicd/internal/captcha"
	"github.com/comagicd/comagicd/internal/comagic"
)

// Captcha issues and draws the sitephone's captchas (captcha.Service).
type Captcha interface {
	// New issues a captcha of the site and returns its key.
	New(ctx context.Context, siteID int64) (string, error)
	// Image draws a captcha that is neither used nor expired as a PNG on the
	// background bg (RRGGBB or ""); ENOTFOUND otherwise.
	Image(ctx context.Context, key, bg string) ([]byte, error)
}

// captchaRoutes mounts the captcha endpoints, rate limited like every public
// endpoint; nothing when Deps.Captcha is nil.
func (h *Handler) captchaRoutes(r chi.Router, limit func(http.Handler) http.Handler) {
	if h.Captcha == nil {
		return
	}
	r.With(limit, h.siteCORS).Options("/api/track/{site_key}/captcha", h.newCaptcha) // siteCORS answers
	r.With(limit, h.siteCORS).Post("/api/track/{site_key}/captcha", h.newCaptcha)
	r.With(limit).Get("/api/captcha/{key}.png", h.captchaImage)
}

// captchaAnswer is what Comagic.getCaptcha gives its callback (plus success).
type captchaAnswer struct {
	Success bool   `json:"success"`
	Key     string `json:"key"`
	URL     string `json:"url"`
}

// newCaptcha serves Comagic.getCaptcha and Comagic.Captcha.get_captcha: a new
// captcha of the site and the URL of its image. The body is optional (the
// embed script sends the visitor's credentials, which are not needed); its bg,
// or the query's, is the image's background colour.
func (h *Handler) newCaptcha(w http.ResponseWriter, r *http.Request) {
	bg, err := captchaBackground(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	key, err := h.Captcha.New(r.Context(), siteOf(r).ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	u := h.BaseURL + "api/captcha/" + key + ".png"
	if bg != "" {
		u += "?bg=" + url.QueryEscape(bg)
	}
	writeJSON(w, http.StatusOK, captchaAnswer{Success: true, Key: key, URL: u})
}

// captchaBackground reads bg from the JSON body (absent, empty or null: none)
// or else from the query, checked and normalised to six lowercase hex digits.
func captchaBackground(w http.ResponseWriter, r *http.Request) (string, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxTrackBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return "", comagic.Invalid("body", "request body is larger than %d bytes", maxTrackBody)
	}
	if err != nil {
		return "", comagic.Invalid("body", "cannot read request body: %v", err)
	}
	bg := r.URL.Query().Get("bg")
	if len(bytes.TrimSpace(body)) > 0 {
		var o object
		if err := unmarshalObject(body, &o); err != nil || o == nil {
			return "", comagic.Invalid("body", "request body must be one JSON object")
		}
		v, present, err := o.optText("bg")
		if err != nil {
			return "", err
		}
		if present {
			bg = v
		}
	}
	if bg == "" {
		return "", nil
	}
	c, err := captcha.ParseColor(bg)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%02x%02x%02x", c.R, c.G, c.B), nil
}

// captchaImage serves the PNG of a captcha that is neither used nor expired;
// 404 in the API's error shape otherwise. Never cached: a used captcha must
// not be shown again.
func (h *Handler) captchaImage(w http.ResponseWriter, r *http.Request) {
	png, err := h.Captcha.Image(r.Context(), chi.URLParam(r, "key"), r.URL.Query().Get("bg"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Content-Length", strconv.Itoa(len(png)))
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cross-Origin-Resource-Policy", "cross-origin")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(png)
}
