package pgengine_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/comagicd/comagicd/internal/hub"
	"github.com/comagicd/comagicd/internal/hub/hubtest"
	"github.com/comagicd/comagicd/internal/hub/pgengine"
	"github.com/comagicd/comagicd/internal/testenv"
)

// newEngine returns an engine of its own (own pool, own listening
// connection, named by a unique application_name) on the database at dbURL,
// and drop, which terminates its listening backend from another connection.
func newEngine(t *testing.T, dbURL string) (hub.Engine, func()) {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "hubtest_" + hex.EncodeToString(b)
	pool := testenv.NewDBAt(t, dbURL)
	e := pgengine.New(pool, dbURL+"&application_name="+name, hubtest.Logger(t))
	drop := func() {
		t.Helper()
		// A backend terminated before may still be listed while it exits:
		// terminate every one of the name, at least one must be alive.
		var n int
		err := pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
			FROM (SELECT pid FROM pg_stat_activity WHERE application_name = $1 OFFSET 0) b`, name).Scan(&n)
		if err != nil || n < 1 {
			t.Fatalf("terminate the listening backend %s: %d terminated, %v", name, n, err)
		}
	}
	return e, drop
}

func TestConformance(t *testing.T) {
	dbURL := testenv.NewDatabase(t)
	hubtest.Run(t, func(t *testing.T) hub.Engine {
		e, _ := newEngine(t, dbURL)
		return e
	})
}

func TestReconnect(t *testing.T) {
	dbURL := testenv.NewDatabase(t)
	hubtest.RunReconnect(t, func(t *testing.T) (hub.Engine, func()) { return newEngine(t, dbURL) })
}
