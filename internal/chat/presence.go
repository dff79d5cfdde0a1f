package chat

import (
	"context"
	"time"
)

// Presence: an operator's open sockets mark them seen every half minute
// (OperatorSeen); when the last one closes (OperatorGone) or the node holding
// it dies, RunPresence sets the operator offline once PresenceTimeout has
// passed without a sign of life, so that the site's availability is true.
const (
	// PresenceTimeout is how long an online operator may go unseen.
	PresenceTimeout = 75 * time.Second
	// goneGrace is how long after the last socket closed the operator is
	// set offline (another tab or a reconnect within it keeps them online).
	goneGrace     = 30 * time.Second
	presenceCheck = 15 * time.Second
)

// OperatorSeen records a sign of life of the operator's workstation.
func (s *Service) OperatorSeen(ctx context.Context, employeeID int64) error {
	return s.store.TouchEmployee(ctx, employeeID, time.Now())
}

// OperatorGone records that a socket of the operator closed: unless another
// one shows up within goneGrace, the operator goes offline.
func (s *Service) OperatorGone(ctx context.Context, employeeID int64) error {
	return s.store.TouchEmployee(ctx, employeeID, time.Now().Add(goneGrace-PresenceTimeout))
}

// RunPresence sets online operators who have not been seen for
// PresenceTimeout offline, until ctx ends.
func (s *Service) RunPresence(ctx context.Context) error {
	t := time.NewTicker(presenceCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := s.ExpirePresence(ctx); err != nil && ctx.Err() == nil {
				s.logger.Warn("chat: operator presence", "err", err)
			}
		}
	}
}

// ExpirePresence sets online operators unseen for PresenceTimeout offline (and
// tells their sites' visitors); RunPresence calls it periodically.
func (s *Service) ExpirePresence(ctx context.Context) error {
	ids, err := s.store.StaleOnline(ctx, time.Now().Add(-PresenceTimeout))
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := s.SetStatus(ctx, id, StatusOffline); err != nil {
			return err
		}
		s.logger.Info("operator went offline: no workstation open", "employee", id)
	}
	return nil
}
