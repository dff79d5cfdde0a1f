package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/comagicd/comagicd/internal/chat"
	"github.com/comagicd/comagicd/internal/chatws"
	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/config"
	"github.com/comagicd/comagicd/internal/files"
	"github.com/comagicd/comagicd/internal/httpapi"
	"github.com/comagicd/comagicd/internal/hub"
	"github.com/comagicd/comagicd/internal/mail"
	"github.com/comagicd/comagicd/internal/operators"
	"github.com/comagicd/comagicd/internal/postgres"
)

// ChatConfig is what the chat needs from the configuration.
type ChatConfig struct {
	BaseURL  string
	Secret   string // signs file addresses
	FilesDir string
	SMTPURL  string // "" = no mail
	MailFrom string
	// ChatOptions tune timers (tests shorten them).
	ChatOptions chat.Options
}

// chatParts are the chat's services and the workers they need.
type chatParts struct {
	Service   *chat.Service
	Server    *chatws.Server
	Operators *operators.Service
	Employees *postgres.Employees
	Chats     *postgres.Chats
	Deps      *httpapi.ChatDeps
	Outbox    *mail.Outbox // nil without SMTP
	workers   map[string]func(ctx context.Context) error
}

// outboxMailer queues chat mail in the durable outbox and wakes the sender.
type outboxMailer struct {
	queue  *postgres.MailOutbox
	db     *pgxpool.Pool
	outbox *mail.Outbox
}

func (m *outboxMailer) Enqueue(ctx context.Context, c chat.Mail) error {
	msg := mail.Message{Kind: c.Kind, To: c.To, Subject: c.Subject, Body: c.Body}
	if err := msg.Validate(); err != nil {
		return err
	}
	if _, err := m.queue.Enqueue(ctx, m.db, msg); err != nil {
		return err
	}
	m.outbox.Notify()
	return nil
}

// newChat builds the chat: store, service, websocket server, operators, file
// storage and (with SMTP) the mail outbox.
func newChat(db *pgxpool.Pool, sites *postgres.Sites, h *hub.Hub, verify func(*comagic.Site, comagic.Credentials) error,
	cfg ChatConfig, logger *slog.Logger) (*chatParts, error) {
	if cfg.FilesDir == "" {
		cfg.FilesDir = config.DefaultFilesDir
	}
	storage, err := files.NewDisk(cfg.FilesDir)
	if err != nil {
		return nil, fmt.Errorf("app: chat files: %w", err)
	}
	signer, err := files.NewSigner(cfg.Secret + "/chat-files")
	if err != nil {
		return nil, fmt.Errorf("app: chat file signer: %w", err)
	}
	p := &chatParts{workers: map[string]func(ctx context.Context) error{}}
	var mailer chat.Mailer
	if cfg.SMTPURL != "" {
		sender, err := mail.NewSMTPSender(mail.SMTPConfig{URL: cfg.SMTPURL, From: cfg.MailFrom})
		if err != nil {
			return nil, fmt.Errorf("app: %w", err)
		}
		queue := postgres.NewMailOutbox(db)
		p.Outbox = mail.NewOutbox(queue, sender, logger, mail.OutboxOptions{})
		mailer = &outboxMailer{queue: queue, db: db, outbox: p.Outbox}
		p.workers["mail outbox"] = p.Outbox.Run
	}
	p.Chats = postgres.NewChats(db)
	p.Service = chat.NewService(p.Chats, h, sites, mailer, logger, cfg.ChatOptions)
	p.Deps = &httpapi.ChatDeps{Service: p.Service, Verify: verify, Files: storage, Signer: signer, BaseURL: cfg.BaseURL}
	p.Server = chatws.New(p.Service, h, logger, p.Deps.FileURL)
	p.Deps.Server = p.Server
	p.Employees = postgres.NewEmployees(db)
	p.Operators = operators.NewService(p.Employees)
	p.workers["chat timers"] = p.Service.Run
	p.workers["operator presence"] = p.Service.RunPresence
	p.workers["chat sockets"] = p.Server.Run
	return p, nil
}
