package chat

import (
	"context"
	"sync"
	"time"
)

// availableTTL is how long a site's availability is cached for bootstraps.
const availableTTL = 2 * time.Second

// availability caches whether a site has an operator online.
type availability struct {
	mu    sync.Mutex
	sites map[int64]availableAt
}

type availableAt struct {
	ok bool
	at time.Time
}

// AvailableCached is SiteAvailable cached for a couple of seconds per site:
// the page-view bootstrap asks it on every page.
func (s *Service) AvailableCached(ctx context.Context, siteID int64) (bool, error) {
	s.avail.mu.Lock()
	if a, ok := s.avail.sites[siteID]; ok && time.Since(a.at) < availableTTL {
		s.avail.mu.Unlock()
		return a.ok, nil
	}
	s.avail.mu.Unlock()
	ok, err := s.store.SiteAvailable(ctx, siteID)
	if err != nil {
		return false, err
	}
	s.avail.mu.Lock()
	if s.avail.sites == nil || len(s.avail.sites) > 100000 {
		s.avail.sites = map[int64]availableAt{}
	}
	s.avail.sites[siteID] = availableAt{ok: ok, at: time.Now()}
	s.avail.mu.Unlock()
	return ok, nil
}
