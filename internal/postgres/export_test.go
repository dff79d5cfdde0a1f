package postgres

// Exported for the tests of package postgres_test.
var (
	PoolConfig      = poolConfig
	InsertEventsSQL = insertEventsSQL
)
