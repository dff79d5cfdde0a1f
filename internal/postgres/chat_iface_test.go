package postgres_test

import (
	"github.com/comagicd/comagicd/internal/chat"
	"github.com/comagicd/comagicd/internal/postgres"
)

var _ chat.Store = (*postgres.Chats)(nil)
