package postgres

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// LoadOrCreateSecret returns the server secret stored under name, generating and
// storing a random one on first use. Concurrent first starts agree on one value.
func LoadOrCreateSecret(ctx context.Context, pool *pgxpool.Pool, name string) (string, error) {
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("postgres: generate secret: %w", err)
	}
	const q = `WITH ins AS (
	               INSERT INTO server_secrets (name, value) VALUES ($1, $2)
	               ON CONFLICT (name) DO NOTHING RETURNING value)
	           SELECT value FROM ins UNION ALL SELECT value FROM server_secrets WHERE name = $1
	           LIMIT 1`
	var v string
	if err := pool.QueryRow(ctx, q, name, base64.RawStdEncoding.EncodeToString(buf)).Scan(&v); err != nil {
		return "", fmt.Errorf("postgres: load secret %q: %w", name, err)
	}
	return v, nil
}
