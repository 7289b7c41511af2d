package pgdb

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/kong/catalog"
)

func TestSchema(t *testing.T) {
	_, emptyDSN := newEmptyDB(t)
	if st := schema(t, open(t, emptyDSN)); !st.NeedsBootstrap || st.Subsystems != nil {
		t.Errorf("empty database: %+v, want NeedsBootstrap", st)
	}

	name, dsn := newKongDB(t)
	db := open(t, dsn)
	st := schema(t, db)
	if st.NeedsBootstrap || len(st.Subsystems) == 0 || st.Subsystems[0].Subsystem != "core" {
		t.Fatalf("bootstrapped database: %+v", st)
	}
	var coreNames []string
	for _, sub := range catalog.Default().Known(catalog.MustParseVersion(fromVersion)) {
		if sub.Name == "core" {
			for _, m := range sub.Migrations {
				coreNames = append(coreNames, m.Name)
			}
		}
	}
	core, _ := st.Subsystem("core")
	if !slices.Equal(core.Executed, coreNames) || core.LastExecuted != coreNames[len(coreNames)-1] {
		t.Errorf("core %+v, want executed %v", core, coreNames)
	}
	if core.Pending == nil || len(core.Pending) != 0 {
		t.Errorf("core pending %#v, want '{}' (empty, not NULL)", core.Pending)
	}
	if session, ok := st.Subsystem("session"); !ok || session.Pending != nil { // none of its migrations has a teardown
		t.Errorf("session %+v (%v), want pending NULL", session, ok)
	}
	if p := st.Pending(); len(p) != 0 {
		t.Errorf("pending after bootstrap: %v", p)
	}

	migrate(t, kongTarget{Database: name, User: pg.User}, "up", toVersion)
	st = schema(t, db)
	for _, want := range []string{"acme:003_350_to_360", "rate-limiting:006_350_to_360", "response-ratelimiting:001_350_to_360"} {
		if !slices.Contains(st.Pending(), want) {
			t.Errorf("pending after up: %v, want %s among them", st.Pending(), want)
		}
	}

	if size, err := db.Size(t.Context()); err != nil || size < 1<<20 {
		t.Errorf("Size = %d, %v", size, err)
	}
	if err := db.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	db.Close()
	if err := db.Ping(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("Ping after Close: %v", err)
	}
}

func TestMigrationLockHeld(t *testing.T) {
	_, emptyDSN := newEmptyDB(t)
	if held, err := open(t, emptyDSN).MigrationLockHeld(t.Context()); err != nil || held {
		t.Errorf("empty database: held %v, %v", held, err)
	}
	name, dsn := newKongDB(t)
	db := open(t, dsn)
	for _, c := range []struct {
		name string
		sql  string
		held bool
	}{
		{"no lock", "", false},
		{"another key", `INSERT INTO locks (key, owner, ttl) VALUES ('other', 'n1', now() + interval '1 minute')`, false},
		{"migrations, live", `INSERT INTO locks (key, owner, ttl) VALUES ('migrations', 'n1', now() + interval '1 minute')`, true},
		{"migrations, expired", `UPDATE locks SET ttl = now() - interval '1 second' WHERE key = 'migrations'`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.sql != "" {
				superExec(t, name, c.sql)
			}
			if held, err := db.MigrationLockHeld(t.Context()); err != nil || held != c.held {
				t.Errorf("held %v, %v; want %v", held, err, c.held)
			}
			if l, err := db.MigrationLock(t.Context()); err != nil || l.Held != c.held || (c.held && (l.Owner != "n1" || !l.Expires.After(time.Now()))) {
				t.Errorf("lock %+v, %v", l, err)
			}
		})
	}
}
