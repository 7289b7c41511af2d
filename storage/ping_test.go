package storage

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/drawbridge/drawbridge/domain"
)

// TestPingWritesNothing: /readyz calls Ping for every probe and for anyone who can
// reach the port, so Ping reads the file and leaves it as it was.
func TestPingWritesNothing(t *testing.T) {
	s := newStore(t, nil)
	mustRun(t, s, "prod", domain.StateScheduled)
	before, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	stats := s.db.Stats()

	const pings = 100
	for range pings {
		if err := s.Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	}

	after := s.db.Stats()
	if n := after.TxStats.GetWrite() - stats.TxStats.GetWrite(); n != 0 {
		t.Errorf("%d Pings wrote %d pages", pings, n)
	}
	if n := after.TxN - stats.TxN; n < pings {
		t.Errorf("%d Pings began %d read transactions; want one each", pings, n)
	}
	now, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, now) {
		t.Errorf("%d Pings changed the state file", pings)
	}
}

// TestPingReadsTheSchemaVersion: what Ping reads must be drawbridge's state file at
// the schema version this code writes.
func TestPingReadsTheSchemaVersion(t *testing.T) {
	s := newStore(t, nil)
	setVersion := func(v int) {
		t.Helper()
		if err := s.db.Update(func(tx *bolt.Tx) error { return writeVersion(tx, v) }); err != nil {
			t.Fatal(err)
		}
	}
	setVersion(currentVersion + 1)
	want := fmt.Sprintf("schema version %d, want %d", currentVersion+1, currentVersion)
	if err := s.Ping(t.Context()); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Ping = %v, want an error saying %q", err, want)
	}
	setVersion(currentVersion)
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping = %v once the version is right again", err)
	}
}
