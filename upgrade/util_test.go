package upgrade_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/drawbridge/drawbridge/internal/testsvc"
)

func jsonMarshal(v any) ([]byte, error) { return json.MarshalIndent(v, "", " ") }

// execSQL runs SQL on the cluster's database as the test's superuser, the way someone
// changing Kong's configuration behind drawbridge's back would.
func execSQL(t *testing.T, c *cluster, sql string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), c.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), sql); err != nil {
		t.Fatal(err)
	}
}

// startPostgres is a server of the test's own, for tests that kill it.
func startPostgres(t *testing.T) *testsvc.Postgres { return testsvc.StartPostgres(t) }
