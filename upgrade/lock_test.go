package upgrade_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/kong"
	"github.com/drawbridge/drawbridge/kong/nodecmd"
	"github.com/drawbridge/drawbridge/upgrade"
)

// holdLock writes Kong's migrations lock as another kong migrations command holds it: the
// "migrations" row of the locks table, owned by owner until until.
func holdLock(ctx context.Context, dsn, owner string, until time.Time) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, `INSERT INTO locks (key, owner, ttl) VALUES ('migrations', $1, $2)
ON CONFLICT (key) DO UPDATE SET owner = EXCLUDED.owner, ttl = EXCLUDED.ttl`, owner, until)
	return err
}

// lockAfter runs the cluster's commands, then takes Kong's migrations lock once a command
// of action has run: another node's kong migrations starting just after it.
type lockAfter struct {
	upgrade.Commands
	action string
	take   func(context.Context) error
	errs   chan<- error
}

func (l lockAfter) RunAll(ctx context.Context, jobs []nodecmd.Job) []kong.CommandResult {
	res := l.Commands.RunAll(ctx, jobs)
	for _, j := range jobs {
		if j.Action == l.action {
			l.errs <- l.take(ctx)
		}
	}
	return res
}

// TestMigrationsLockOutlastsTimeout: another kong migrations command holds Kong's lock
// beyond the cluster's command_timeout, before migrations up or before migrations finish.
// drawbridge waits command_timeout, then fails the step naming the lock's owner and expiry,
// and runs no kong migrations command under the other's lock.
func TestMigrationsLockOutlastsTimeout(t *testing.T) {
	t.Parallel()
	until := time.Date(2099, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name   string
		after  string // the lock is taken after this command ran; "": before the approval
		step   string
		ran    int    // kong migrations up commands run
		notRan string // the command that must not run under the other's lock
	}{
		{name: "before up", step: "migrations_up", ran: 0, notRan: "migrations up"},
		{name: "before finish", after: "migrations_up", step: "migrations_finish", ran: 1, notRan: "migrations finish"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, clusterOpts{nodes: 1})
			c.cfg.Clusters[0].CommandTimeout = config.Duration(3 * time.Second)
			take := func(ctx context.Context) error { return holdLock(ctx, c.DSN(), "other-node", until) }
			errs := make(chan error, 4)
			h := newHarness(t, c, func(o *upgrade.Options) {
				if tt.after == "" {
					return
				}
				run := o.Commands
				o.Commands = func(cl *config.Cluster, outDir string) upgrade.Commands {
					return lockAfter{Commands: run(cl, outDir), action: tt.after, take: take, errs: errs}
				}
			})
			run := h.startToGate("3.5.0")
			if tt.after == "" {
				if err := take(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := h.engine.Approve(t.Context(), run.ID, "U0APPROVER"); err != nil {
				t.Fatal(err)
			}
			failed := h.waitState(run.ID, long, domain.StateNeedsAttention)
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatalf("take the lock: %v", err)
				}
			}
			want := "Kong's migrations lock (table locks, key migrations) is held by node other-node until 2099-01-02T03:04:05Z: another kong migrations command is working on test's database; drawbridge waited 3s"
			if !strings.Contains(failed.Reason, want) {
				t.Errorf("reason lacks %q:\n%s", want, failed.Reason)
			}
			steps := h.steps(run.ID)
			if st := steps[tt.step]; st.Status != domain.StepFailed ||
				!strings.Contains(st.OutputTail, "Kong's migrations lock is held by node other-node until 2099-01-02T03:04:05Z: waiting (at most 3s)") {
				t.Errorf("%s is %s:\n%s", tt.step, st.Status, st.OutputTail)
			}
			if got := c.CommandCount("migrations up"); got != tt.ran {
				t.Errorf("%d kong migrations up commands ran, want %d", got, tt.ran)
			}
			if got := c.CommandCount(tt.notRan); got != 0 {
				t.Errorf("kong %s ran %d times under another's lock", tt.notRan, got)
			}
		})
	}
}
