package pgdb

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// PostgreSQL dies while pg_dump waits for a lock a migration holds: Backup fails as
// unreachable and leaves nothing at path. While it is down, Ping and Backup fail the same
// way. The shared server is restarted afterwards.
func TestBackupServerKilled(t *testing.T) {
	name, dsn := newKongDB(t)
	db := open(t, dsn)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := pg.Restart(ctx); err != nil {
			t.Fatalf("restart the shared server: %v", err)
		}
	})
	// A "migration" holds an exclusive lock, so pg_dump blocks at its start.
	locker := superConn(t, name)
	if _, err := locker.Exec(t.Context(), "BEGIN; LOCK TABLE services IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "killed.dump")
	done := make(chan error, 1)
	go func() {
		_, err := db.Backup(context.Background(), path)
		done <- err
	}()
	waitForLockWaiter(t, name, done)
	if err := pg.Kill(); err != nil {
		t.Fatal(err)
	}
	err := <-done
	if !errors.Is(err, ErrUnreachable) {
		t.Errorf("Backup during the crash: %v, want ErrUnreachable", err)
	}
	if got := dirEntries(t, dir); len(got) != 0 {
		t.Errorf("left %v behind", got)
	}

	if err := db.Ping(t.Context()); !errors.Is(err, ErrUnreachable) {
		t.Errorf("Ping while down: %v, want ErrUnreachable", err)
	}
	if _, err := db.Backup(t.Context(), path); !errors.Is(err, ErrUnreachable) {
		t.Errorf("Backup while down: %v, want ErrUnreachable", err)
	}
	if got := dirEntries(t, dir); len(got) != 0 {
		t.Errorf("left %v behind", got)
	}
}

// waitForLockWaiter polls pg_stat_activity until a session on database waits for a lock,
// failing if the backup ends first.
func waitForLockWaiter(t *testing.T, database string, done <-chan error) {
	t.Helper()
	conn := superConn(t, "postgres")
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(20 * time.Second)
	for {
		var waiting bool
		err := conn.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
		    WHERE datname = $1 AND wait_event_type = 'Lock')`, database).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting {
			return
		}
		select {
		case err := <-done:
			t.Fatalf("Backup ended before blocking on the lock: %v", err)
		case <-deadline:
			t.Fatal("pg_dump never waited for the lock")
		case <-tick.C:
		}
	}
}
