package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/comagicd/comagicd/internal/chat"
	"github.com/comagicd/comagicd/internal/webhooks"
)

// webhookParts are the webhook outbox's publisher and dispatcher.
type webhookParts struct {
	db         *pgxpool.Pool
	logger     *slog.Logger
	Publisher  *webhooks.Publisher
	Dispatcher *webhooks.Dispatcher
}

func newWebhooks(db *pgxpool.Pool, logger *slog.Logger) *webhookParts {
	d := webhooks.NewDispatcher(webhooks.NewStore(db), logger, webhooks.Options{})
	return &webhookParts{db: db, logger: logger, Dispatcher: d, Publisher: webhooks.NewPublisher(db, logger, d.Notify)}
}

// chatClosed publishes chat.closed for a chat that was just closed (after the
// commit of the close).
func (w *webhookParts) chatClosed(ctx context.Context, c *chat.Chat) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	d := webhooks.ChatClosed{ChatID: c.ID, SiteID: c.SiteID, VisitorID: c.VisitorID, ClosedBy: c.ClosedBy, Rating: c.Rating,
		EmployeeID: c.EmployeeID, CreatedAt: c.CreatedAt.UTC(), ClosedAt: c.ClosedAt}
	var accountID int64
	err := w.db.QueryRow(ctx, `SELECT s.account_id, s.site_key,
			(SELECT count(*) FROM chat_events e WHERE e.chat_id = $2 AND e.kind IN ('message', 'file') AND e.sender <> 'system')
		FROM sites s WHERE s.id = $1`, c.SiteID, c.ID).Scan(&accountID, &d.SiteKey, &d.Messages)
	if err != nil {
		w.logger.Error("webhooks: chat.closed: read the chat's site", "chat", c.ID, "err", err)
		return
	}
	w.Publisher.Publish(ctx, accountID, webhooks.EventChatClosed, d)
}
