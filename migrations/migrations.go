// Package migrations embeds the numbered SQL migrations of comagicd's schema. They
// are applied by internal/postgres with jackc/tern under an advisory lock.
package migrations

import "embed"

// FS holds the migration files, named NNN_description.sql.
//
//go:embed *.sql
var FS embed.FS
