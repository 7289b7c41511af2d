package bot_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/drawbridge/drawbridge/domain"
)

// TestFailedDatabaseFromSlack: a rollback keeps Kong's damaged database; plan, status and
// status <cluster> list it with its size; only an operator may drop it, only by its own
// name and once its run has ended; the drop is audited under the run; a database a run in
// progress may still need is refused.
func TestFailedDatabaseFromSlack(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOpts{})
	w.command("U0OPERATOR", channel, "start test 3.5.0")
	w.click("U0APPROVER", "approve", w.waitButton("approve"), "")
	w.waitRun(1, domain.StateAwaitingDecommission)
	w.command("U0OPERATOR", channel, "rollback 1")
	w.waitRun(1, domain.StateRolledBack)
	failed := w.c.DB + "_failed_1"
	if !w.databaseExists(failed) {
		t.Fatalf("the rollback kept no %s", failed)
	}

	// Listed with its size: pg_database_size in the one size formatter's units.
	size := `[0-9.]+ (B|KiB|MiB|GiB)`
	w.command("U0OPERATOR", channel, "plan test 3.5.0")
	w.ephemeralMatching("U0OPERATOR", `databases kept by rollbacks[^\n]*\n\s+`+regexp.QuoteMeta(failed)+`\s+`+size+`\s+run 1\n`)
	w.command("U0SOMEONE", channel, "status")
	w.ephemeralMatching("U0SOMEONE", "`"+regexp.QuoteMeta(failed)+"` "+size+", kept by run 1's rollback; `/kong-upgrade drop-failed test "+regexp.QuoteMeta(failed)+"` drops it")
	w.command("U0SOMEONE", channel, "status test")
	w.ephemeralMatching("U0SOMEONE", `No run is in progress\.\n\n\*test\*: its rollbacks kept 1 database:\n• `+"`"+regexp.QuoteMeta(failed)+"` "+size)

	// Refused: not an operator, Kong's own database, another cluster.
	w.command("U0APPROVER", channel, "drop-failed test "+failed)
	w.ephemeralTo("U0APPROVER", "`drop-failed` needs an operator")
	w.command("U0OPERATOR", channel, "drop-failed test "+w.c.DB)
	w.ephemeralTo("U0OPERATOR", "is not a database a rollback of test kept; its rollbacks kept "+failed)
	w.command("U0OPERATOR", channel, "drop-failed prod "+failed)
	w.ephemeralTo("U0OPERATOR", `no cluster "prod"`)
	if !w.databaseExists(failed) || !w.databaseExists(w.c.DB) {
		t.Fatal("a refused drop dropped a database")
	}

	w.command("U0OPERATOR", channel, "drop-failed test "+failed)
	w.ephemeralMatching("U0OPERATOR", "Dropped `"+regexp.QuoteMeta(failed)+"` \\("+size+"\\), which run 1's rollback kept on test\\.")
	if w.databaseExists(failed) {
		t.Fatalf("%s survived drop-failed", failed)
	}
	var dropped, typed bool
	for _, e := range w.audit(1) {
		dropped = dropped || (e.Actor == "U0OPERATOR" && e.Action == "failed_db_dropped" && strings.HasPrefix(e.Detail, failed+" ("))
	}
	for _, e := range w.allAudit() {
		typed = typed || (e.Actor == "U0OPERATOR" && e.Action == "command" && strings.HasPrefix(e.Detail, "drop-failed test "+failed+" ("))
	}
	if !dropped || !typed {
		t.Errorf("audit: the drop under run 1 %v, the command %v\n%+v", dropped, typed, w.allAudit())
	}
	w.command("U0SOMEONE", channel, "status test")
	w.ephemeralTo("U0SOMEONE", "*test*: its rollbacks kept no database.")

	// A database named for a run that has not ended stays.
	w.command("U0OPERATOR", channel, "start test 3.5.0")
	w.waitRun(2, domain.StateAwaitingApproval)
	second := w.c.DB + "_failed_2"
	if _, err := sharedPG.CreateDatabase(t.Context(), second); err != nil {
		t.Fatal(err)
	}
	w.command("U0OPERATOR", channel, "drop-failed test "+second)
	w.ephemeralTo("U0OPERATOR", "run 2 (awaiting approval) may still roll back")
	if !w.databaseExists(second) {
		t.Fatalf("%s, which run 2 may need, was dropped", second)
	}
}

// databaseExists asks the world's PostgreSQL whether a database exists.
func (w *world) databaseExists(name string) bool {
	w.t.Helper()
	conn, err := pgx.Connect(context.Background(), sharedPG.DSN("postgres"))
	if err != nil {
		w.t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var ok bool
	if err := conn.QueryRow(context.Background(), "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&ok); err != nil {
		w.t.Fatal(err)
	}
	return ok
}

// ephemeralMatching waits for an ephemeral message to user that matches the regular
// expression re; failing, it shows the ephemerals the user got.
func (w *world) ephemeralMatching(user, re string) {
	w.t.Helper()
	rx := regexp.MustCompile(re)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	err := w.slack.WaitFor(ctx, func() bool {
		for _, e := range w.slack.Ephemerals() {
			if e.User == user && rx.MatchString(e.Text) {
				return true
			}
		}
		return false
	})
	if err != nil {
		var got []string
		for _, e := range w.slack.Ephemerals() {
			if e.User == user {
				got = append(got, fmt.Sprintf("%q", e.Text))
			}
		}
		w.t.Fatalf("waiting for an ephemeral to %s matching %s: %v; got:\n%s", user, re, err, strings.Join(got, "\n"))
	}
}
