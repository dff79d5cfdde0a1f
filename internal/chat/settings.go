package chat

import (
	"encoding/json"

	"github.com/comagicd/comagicd/internal/comagic"
)

// Settings is the chat part of a site's consultant settings
// (reference/widget-settings/consultant.*.json, "chat").
type Settings struct {
	Enabled        bool
	FileTransfer   bool
	Rating         bool
	Fields         []Field
	AllowedGroups  []int64
	Retention      Retention
	IdleTimeoutSec int
	MaxFileBytes   int64
}

// Field is a visitor-card field the chat asks for.
type Field struct {
	Name     string `json:"name"`
	Required bool   `json:"is_required"`
}

// Retention is what the chat says while nobody has answered.
type Retention struct {
	Messages []RetentionMessage `json:"messages"`
	// AlternateEnabled offers another way after AlternateTimeout seconds.
	AlternateEnabled bool   `json:"is_alternate_communication_way_enabled"`
	AlternateTimeout int    `json:"alternate_communication_way_timeout"`
	Alternate        string `json:"alternate_communication_way"`
}

// RetentionMessage is posted Timeout seconds after the previous one (the first
// after the chat starts).
type RetentionMessage struct {
	Timeout int    `json:"timeout"`
	Text    string `json:"text"`
}

// SettingsOf reads the chat settings of the site (desktop settings: the chat
// behaves the same on every device).
func SettingsOf(site *comagic.Site) Settings {
	st := Settings{IdleTimeoutSec: 1800, MaxFileBytes: 10 << 20}
	if site.ChatIdleTimeout > 0 {
		st.IdleTimeoutSec = int(site.ChatIdleTimeout.Seconds())
	}
	if site.ChatMaxFileBytes > 0 {
		st.MaxFileBytes = site.ChatMaxFileBytes
	}
	raw := site.SettingsFor("desktop")["consultant"]
	if raw == nil {
		return st
	}
	var s struct {
		Chat *struct {
			Fields        []Field `json:"fields"`
			FileTransfer  bool    `json:"is_file_transfer"`
			Rating        bool    `json:"is_consultant_operator_rating"`
			AllowedGroups []struct {
				ID int64 `json:"id"`
			} `json:"allowed_groups"`
			Retention *Retention `json:"retention"`
		} `json:"chat"`
	}
	if err := json.Unmarshal(raw, &s); err != nil || s.Chat == nil {
		return st
	}
	st.Enabled = true
	st.FileTransfer = s.Chat.FileTransfer
	st.Rating = s.Chat.Rating
	st.Fields = s.Chat.Fields
	for _, g := range s.Chat.AllowedGroups {
		st.AllowedGroups = append(st.AllowedGroups, g.ID)
	}
	if s.Chat.Retention != nil {
		st.Retention = *s.Chat.Retention
	}
	return st
}

// RequiredInfo returns the names of the required fields the card lacks.
func (s Settings) RequiredInfo(card VisitorCard) []string {
	out := []string{}
	for _, f := range s.Fields {
		if !f.Required {
			continue
		}
		switch f.Name {
		case "name":
			if card.Name == "" {
				out = append(out, f.Name)
			}
		case "email":
			if len(card.Email) == 0 {
				out = append(out, f.Name)
			}
		case "phone":
			if len(card.Phone) == 0 {
				out = append(out, f.Name)
			}
		}
	}
	return out
}
