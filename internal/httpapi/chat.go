package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/comagicd/comagicd/internal/chat"
	"github.com/comagicd/comagicd/internal/chatws"
	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/files"
	"github.com/comagicd/comagicd/internal/operators"
)

// ChatDeps are what the chat endpoints need; a nil Deps.Chat leaves them out.
type ChatDeps struct {
	Service *chat.Service
	Server  *chatws.Server
	// Verify checks a visitor's credentials for the site (EUNAUTHORIZED).
	Verify  func(site *comagic.Site, creds comagic.Credentials) error
	Files   files.Storage
	Signer  *files.Signer
	BaseURL string
}

// maxPollBody bounds a long-polling request.
const maxPollBody = 256 << 10

// FileURL returns the signed download address of a chat file.
func (d *ChatDeps) FileURL(fileID, chatID int64) string {
	return fmt.Sprintf("%sapi/chat/files/%d?sig=%s", d.BaseURL, fileID, url.QueryEscape(d.Signer.Sign(fileID, chatID)))
}

// chatRoutes mounts the visitor channel, its long-polling fallback, chat
// files and the operator channel.
func (h *Handler) chatRoutes(r chi.Router, limit func(http.Handler) http.Handler) {
	if h.Chat == nil {
		return
	}
	r.Group(func(r chi.Router) {
		r.Use(limit)
		r.With(h.siteCORS).Get("/ws/chat/{site_key}", h.visitorSocket)
		r.With(h.siteCORS).Options("/api/chat/{site_key}/poll", h.visitorPoll)
		r.With(h.siteCORS).Post("/api/chat/{site_key}/poll", h.visitorPoll)
		r.With(h.siteCORS).Options("/api/chat/{site_key}/files", h.visitorFile)
		r.With(h.siteCORS).Post("/api/chat/{site_key}/files", h.visitorFile)
		r.Get("/api/chat/files/{file_id}", h.chatFile)
	})
	if h.Operators != nil {
		ops := h.Operators.WithFail(h.fail)
		r.Group(func(r chi.Router) {
			r.Use(limit, h.sameOrigin, ops.Middleware)
			r.Get("/ws/operator", h.operatorSocket)
			r.Post("/api/chats/{chat_id}/files", h.operatorFile)
		})
	}
}

// sameOrigin refuses browser requests from other origins than this server's
// (the workstation's): the operator's cookie must not work from elsewhere.
func (h *Handler) sameOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" && !h.ownOrigin(origin, r) {
			h.fail(w, r, &comagic.Error{Code: comagic.EFORBIDDEN, Field: "origin", Message: "origin is not this server's"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ownOrigin reports whether origin is the server's base URL or the host the
// request was made to.
func (h *Handler) ownOrigin(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if b, err := url.Parse(h.BaseURL); err == nil && strings.EqualFold(b.Host, u.Host) {
		return true
	}
	return strings.EqualFold(u.Host, r.Host)
}

// visitorCreds reads and verifies the credentials of a chat request.
func (h *Handler) visitorCreds(site *comagic.Site, visitorID, sessionID, key string) (chat.Visitor, error) {
	v, err1 := strconv.ParseInt(visitorID, 10, 64)
	s, err2 := strconv.ParseInt(sessionID, 10, 64)
	if err1 != nil || err2 != nil || v <= 0 || s <= 0 || key == "" {
		return chat.Visitor{}, &comagic.Error{Code: comagic.EUNAUTHORIZED, Field: "key", Message: "visitor_id, session_id and key are required"}
	}
	if err := h.Chat.Verify(site, comagic.Credentials{VisitorID: v, SessionID: s, Key: key}); err != nil {
		return chat.Visitor{}, err
	}
	return chat.Visitor{SiteID: site.ID, VisitorID: v, SessionID: s}, nil
}

func (h *Handler) visitorSocket(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v, err := h.visitorCreds(siteOf(r), q.Get("visitor_id"), q.Get("session_id"), q.Get("key"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	chatID, _ := strconv.ParseInt(q.Get("chat_id"), 10, 64)
	after, _ := strconv.ParseInt(q.Get("after"), 10, 64)
	if chatID < 0 || after < 0 {
		chatID, after = 0, 0
	}
	h.Chat.Server.ServeVisitor(noDeadlines(w), r, v, chatID, after)
}

// noDeadlines lifts the server's read and write timeouts from a request that
// becomes a long-lived websocket (or a long poll).
func noDeadlines(w http.ResponseWriter) http.ResponseWriter {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	return w
}

func (h *Handler) visitorPoll(w http.ResponseWriter, r *http.Request) {
	o, err := decodeJSON(w, r, maxPollBody)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	str := func(name string) string {
		raw := o[name]
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
		return strings.Trim(string(raw), `"`)
	}
	v, err := h.visitorCreds(siteOf(r), str("visitor_id"), str("session_id"), str("key"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var req chatws.PollRequest
	for name, dst := range map[string]any{"chat_id": &req.ChatID, "after": &req.After, "state_tag": &req.StateTag, "frames": &req.Frames} {
		if raw, ok := o[name]; ok && string(raw) != "null" {
			if err := json.Unmarshal(raw, dst); err != nil {
				h.fail(w, r, comagic.Invalid(name, "%s has the wrong type", name))
				return
			}
		}
	}
	// A long poll outlives the 30 s write timeout of ordinary requests.
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(h.Chat.Server.PollWait + 15*time.Second))
	resp, err := h.Chat.Server.Poll(r.Context(), v, &req)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return
		}
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (h *Handler) operatorSocket(w http.ResponseWriter, r *http.Request) {
	p := operators.FromContext(r.Context())
	token, _ := operators.TokenFromRequest(r)
	valid := func(ctx context.Context) error {
		_, err := h.Operators.Authenticate(ctx, token)
		return err
	}
	h.Chat.Server.ServeOperator(noDeadlines(w), r, p.EmployeeID, valid)
}

// maxFileName bounds a chat file's name.
const maxFileName = 255

// receiveFile stores the multipart "file" part of r in the file storage and
// returns its name, sniffed type, size and storage key. Every other part must
// come before it (and is returned in fields).
func (h *Handler) receiveFile(w http.ResponseWriter, r *http.Request, max int64) (fields map[string]string, name, ctype string, size int64, key string, err error) {
	mt, params, perr := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if perr != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, "", "", 0, "", comagic.Invalid("body", "send the file as multipart/form-data")
	}
	r.Body = http.MaxBytesReader(w, r.Body, max+64<<10)
	mr, perr := r.MultipartReader()
	if perr != nil {
		return nil, "", "", 0, "", comagic.Invalid("body", "malformed multipart body")
	}
	fields = map[string]string{}
	for {
		part, perr := mr.NextPart()
		if perr == io.EOF {
			return nil, "", "", 0, "", comagic.Invalid("file", "file is required")
		}
		if perr != nil {
			return nil, "", "", 0, "", comagic.Invalid("body", "malformed multipart body")
		}
		if part.FormName() != "file" {
			b, _ := io.ReadAll(io.LimitReader(part, 4096))
			fields[part.FormName()] = string(b)
			continue
		}
		name = strings.TrimSpace(filepath.Base(strings.ReplaceAll(part.FileName(), "\\", "/")))
		if name == "" || name == "." || name == "/" {
			name = "file"
		}
		if len([]rune(name)) > maxFileName {
			name = string([]rune(name)[:maxFileName])
		}
		head := make([]byte, 512)
		n, _ := io.ReadFull(part, head)
		head = head[:n]
		var ok bool
		if ctype, ok = files.Sniff(name, head); !ok {
			return nil, "", "", 0, "", comagic.Invalid("file", "this type of file cannot be sent")
		}
		var rnd [16]byte
		_, _ = rand.Read(rnd[:])
		key = hex.EncodeToString(rnd[:])
		size, err = h.Chat.Files.Put(r.Context(), key, io.MultiReader(strings.NewReader(string(head)), part), max)
		if err != nil {
			return nil, "", "", 0, "", err
		}
		return fields, name, ctype, size, key, nil
	}
}

// visitorFile takes a file from a visitor into their chat.
func (h *Handler) visitorFile(w http.ResponseWriter, r *http.Request) {
	site := siteOf(r)
	// Credentials travel in the query or as parts before the file.
	q := r.URL.Query()
	max, err := h.Chat.Service.MaxFileBytes(r.Context(), site.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if max <= 0 || !chat.SettingsOf(site).FileTransfer {
		h.fail(w, r, comagic.Errorf(comagic.EFORBIDDEN, "files are off on this site"))
		return
	}
	var v chat.Visitor
	if q.Get("key") != "" {
		if v, err = h.visitorCreds(site, q.Get("visitor_id"), q.Get("session_id"), q.Get("key")); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	fields, name, ctype, size, key, err := h.receiveFile(w, r, max)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if v.VisitorID == 0 {
		if v, err = h.visitorCreds(site, fields["visitor_id"], fields["session_id"], fields["key"]); err != nil {
			_ = h.Chat.Files.Delete(r.Context(), key)
			h.fail(w, r, err)
			return
		}
	}
	c, err := h.Chat.Service.FileChat(r.Context(), v)
	var ev *chat.Event
	if err == nil {
		ev, err = h.Chat.Service.AddVisitorFile(r.Context(), v, c.ID, name, ctype, size, key)
	}
	if err != nil {
		_ = h.Chat.Files.Delete(context.WithoutCancel(r.Context()), key)
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "event": chatws.EventOf(ev, h.Chat.FileURL)})
}

// operatorFile takes a file from an operator into a chat they hold.
func (h *Handler) operatorFile(w http.ResponseWriter, r *http.Request) {
	p := operators.FromContext(r.Context())
	chatID, err := strconv.ParseInt(chi.URLParam(r, "chat_id"), 10, 64)
	if err != nil || chatID <= 0 {
		h.fail(w, r, comagic.Invalid("chat_id", "chat_id must be a positive integer"))
		return
	}
	e, err := h.Chat.Service.Employee(r.Context(), p.EmployeeID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	c, err := h.Chat.Service.Item(r.Context(), e, chatID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	max, err := h.Chat.Service.MaxFileBytes(r.Context(), c.Chat.SiteID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	_, name, ctype, size, key, err := h.receiveFile(w, r, max)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ev, err := h.Chat.Service.AddOperatorFile(r.Context(), e, chatID, name, ctype, size, key)
	if err != nil {
		_ = h.Chat.Files.Delete(context.WithoutCancel(r.Context()), key)
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "event": chatws.EventOf(ev, h.Chat.FileURL)})
}

// chatFile serves a chat file to whoever holds its signed address (the
// chat's participants receive it in the file event), as an attachment.
func (h *Handler) chatFile(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(chi.URLParam(r, "file_id"), 10, 64)
	if err != nil || id <= 0 {
		h.fail(w, r, comagic.Errorf(comagic.ENOTFOUND, "no such file"))
		return
	}
	chatID, name, ctype, key, err := h.Chat.Service.File(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !h.Chat.Signer.Verify(id, chatID, r.URL.Query().Get("sig")) {
		h.fail(w, r, comagic.Errorf(comagic.ENOTFOUND, "no such file"))
		return
	}
	f, err := h.Chat.Files.Open(r.Context(), key)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defer f.Close()
	hd := w.Header()
	hd.Set("Content-Type", ctype)
	hd.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	hd.Set("Cache-Control", "private, max-age=3600")
	_, _ = io.Copy(w, f)
}
