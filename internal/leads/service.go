package leads

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/credentials"
	"github.com/comagicd/comagicd/internal/webhooks"
)

// Store is the storage the lead service needs.
type Store interface {
	SessionByID(ctx context.Context, sessionID int64) (*comagic.SessionRef, error)
	CreateOfflineRequest(ctx context.Context, r *comagic.OfflineRequest) error
}

// Sites finds sites.
type Sites interface {
	SiteByKey(ctx context.Context, key string) (*comagic.Site, error)
	SiteByID(ctx context.Context, id int64) (*comagic.Site, error)
}

// Events is the account's webhooks (internal/webhooks.Publisher): a stored
// request queues offline_request.created in its own transaction, and Notify
// wakes the dispatcher then.
type Events interface {
	Notify()
}

// Service stores offline requests from browsers and site backends.
type Service struct {
	// Created, when set, is called after a new request was stored (not for
	// a replay): the workstation tells the site's operators.
	Created func(ctx context.Context, r *comagic.OfflineRequest)

	store  Store
	sites  Sites
	signer *credentials.Signer
	events Events
}

// NewService returns the lead service; events may be nil (no webhooks).
func NewService(store Store, sites Sites, signer *credentials.Signer, events Events) *Service {
	return &Service{store: store, sites: sites, signer: signer, events: events}
}

// Submit attributes and stores a parsed request. site is the site the request was
// addressed to (the browser endpoint's path) or nil (the backend API), in which
// case the site comes from the tracking ids or from site_key. Tracking ids with a
// wrong key are refused with EUNAUTHORIZED, never stored against the visitor;
// ids without a key are kept with an unattributed lead as unverified claims.
// A request whose idempotency key (per site) was seen is not stored again: the
// stored request is returned with Replayed set, or ECONFLICT when the key came
// with another request.
// Returns EINVALID, EUNAUTHORIZED, ECONFLICT; on success the row is committed.
// allow, when not nil, vets the resolved site before anything is stored (the
// HTTP layer checks the browser's origin with it).
func (s *Service) Submit(ctx context.Context, site *comagic.Site, in *Input, source string, allow func(*comagic.Site) error) (*comagic.OfflineRequest, error) {
	r := &in.Request
	r.Source = source
	if in.HasCreds {
		ref, err := s.store.SessionByID(ctx, in.Creds.SessionID)
		if comagic.ErrorCode(err) == comagic.ENOTFOUND {
			return nil, badKey()
		}
		if err != nil {
			return nil, err
		}
		if ref.VisitorID != in.Creds.VisitorID || !s.signer.Verify(ref.SiteID, in.Creds.VisitorID, in.Creds.SessionID, in.Creds.Key) {
			return nil, badKey()
		}
		if site != nil && site.ID != ref.SiteID {
			return nil, badKey()
		}
		if site, err = s.sites.SiteByID(ctx, ref.SiteID); err != nil {
			return nil, err
		}
		if r.SiteKey != "" && r.SiteKey != site.Key {
			return nil, comagic.Invalid("site_key", "site_key does not match the site of the session")
		}
		r.VisitorID, r.SessionID = in.Creds.VisitorID, in.Creds.SessionID
	} else {
		if site != nil && r.SiteKey != "" && r.SiteKey != site.Key {
			return nil, comagic.Invalid("site_key", "site_key does not match the site the request was sent to")
		}
		if site == nil {
			var err error
			site, err = s.sites.SiteByKey(ctx, r.SiteKey)
			if comagic.ErrorCode(err) == comagic.ENOTFOUND {
				return nil, comagic.Invalid("site_key", "unknown site_key")
			}
			if err != nil {
				return nil, err
			}
		}
		unattribute(in)
	}
	if allow != nil {
		if err := allow(site); err != nil {
			return nil, err
		}
	}
	r.SiteID, r.SiteKey = site.ID, site.Key
	if err := in.NormalizePhone(site.Region); err != nil {
		return nil, err
	}
	err := s.create(ctx, site, r)
	if comagic.ErrorCode(err) == comagic.ENOTFOUND && r.VisitorID != 0 {
		// The visitor or session was purged after the check: keep the lead
		// unattributed rather than lose it.
		unattribute(in)
		err = s.create(ctx, site, r)
	}
	if err != nil {
		return nil, err
	}
	if s.events != nil && r.Announced > 0 {
		s.events.Notify()
	}
	if s.Created != nil && !r.Replayed {
		s.Created(ctx, r)
	}
	return r, nil
}

// create stores r, with offline_request.created for the account's webhooks
// in the same transaction when the service has webhooks.
func (s *Service) create(ctx context.Context, site *comagic.Site, r *comagic.OfflineRequest) error {
	r.AccountID, r.Announce = site.AccountID, nil
	if s.events != nil {
		data, err := json.Marshal(webhooks.OfflineRequestData(r)) // id and created_at: the store's
		if err != nil {
			return fmt.Errorf("leads: webhook data: %w", err)
		}
		r.Announce = data
	}
	return s.store.CreateOfflineRequest(ctx, r)
}

// unattribute moves the request's tracking ids to its unverified claims.
func unattribute(in *Input) {
	r := &in.Request
	r.ClaimedVisitorID, r.ClaimedSessionID, r.ClaimedHitID = in.Creds.VisitorID, in.Creds.SessionID, r.HitID
	r.VisitorID, r.SessionID, r.HitID = 0, 0, 0
}

func badKey() error {
	return &comagic.Error{Code: comagic.EUNAUTHORIZED, Field: "key", Message: "key, visitor_id and session_id do not identify a session"}
}
