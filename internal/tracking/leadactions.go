package tracking

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/fields"
	"github.com/comagicd/comagicd/internal/webhooks"
)

// Limits on the data sent with a lead action: a few flat values, such as the
// fields of a personal form.
const (
	maxLeadDataKeys = 20
	maxLeadDataKey  = 64   // characters of a key
	maxLeadDataText = 1024 // characters of a text value
)

// RecordLeadAction stores a show, submit or cancel of a lead form (SPEC §10)
// once the credentials are verified and the input is clean: the widget and the
// action from their fixed sets, the data flat. Returns EINVALID naming widget,
// action or data, EUNAUTHORIZED, ENOTFOUND for a purged session.
func (s *Service) RecordLeadAction(ctx context.Context, site *comagic.Site, creds comagic.Credentials, a *comagic.LeadAction) error {
	if err := s.Verify(site, creds); err != nil {
		return err
	}
	if !slices.Contains(comagic.LeadWidgets[:], a.Widget) {
		return comagic.Invalid("widget", "widget must be one of call_generator, offline_message_generator, personal_form")
	}
	if !slices.Contains(comagic.LeadActionNames[:], a.Action) {
		return comagic.Invalid("action", "action must be one of show, submit, cancel")
	}
	data, err := CleanLeadData(a.Data)
	if err != nil {
		return err
	}
	a.Data, a.SiteID, a.VisitorID, a.SessionID = data, site.ID, creds.VisitorID, creds.SessionID
	if err := s.store.RecordLeadAction(ctx, a); err != nil {
		return err
	}
	if s.events != nil {
		// Group committed: published after the commit.
		s.events.Publish(ctx, site.AccountID, webhooks.EventLeadActionCreated, webhooks.LeadActionData(site.Key, a))
	}
	return nil
}

// CleanLeadData checks the data of a lead action: at most 20 keys of 1 to 64
// characters, each value a string (trimmed, at most 1024 characters), a
// json.Number a double holds, or a bool; null values are dropped as not given.
// It returns a new map. Returns EINVALID naming data.
func CleanLeadData(data map[string]any) (map[string]any, error) {
	if len(data) > maxLeadDataKeys {
		return nil, comagic.Invalid("data", "data has %d keys, more than %d", len(data), maxLeadDataKeys)
	}
	out := make(map[string]any, len(data))
	for k, v := range data {
		if n := utf8.RuneCountInString(k); !utf8.ValidString(k) || strings.ContainsRune(k, 0) || n == 0 || n > maxLeadDataKey {
			return nil, comagic.Invalid("data", "data keys must be 1 to %d characters of valid text", maxLeadDataKey)
		}
		var err error
		switch t := v.(type) {
		case nil:
			continue
		case string:
			v, err = fields.Text("data."+k, t, maxLeadDataText)
		case json.Number:
			err = fields.Number("data."+k, t)
		case bool:
		default:
			err = comagic.Invalid("data", "data.%s must be a string, number or boolean", k)
		}
		if err != nil {
			return nil, asDataError(err)
		}
		out[k] = v
	}
	return out, nil
}

// asDataError names data as the field of an invalid value inside it, keeping
// the message that names the key.
func asDataError(err error) error {
	var e *comagic.Error
	if errors.As(err, &e) && e.Code == comagic.EINVALID {
		return comagic.Invalid("data", "%s", e.Message)
	}
	return err
}
