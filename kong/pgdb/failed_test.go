package pgdb

import (
	"errors"
	"testing"

	"github.com/drawbridge/drawbridge/kong"
)

// TestFailedDatabases: the database a rollback kept is listed with its size, with the other
// kept databases in run order and nothing else; it is dropped while a session is still on
// it, and no other name can be dropped this way.
func TestFailedDatabases(t *testing.T) {
	name, dsn := newKongDB(t)
	db := open(t, dsn)
	was := snapshot(t, db)
	upgradeDamage(t, kongTarget{Database: name, User: pg.User})
	res, err := db.Restore(t.Context(), was.backup.Path, was.fp, "7")
	if err != nil {
		t.Fatal(err)
	}
	kept := name + "_failed_7"
	if res.FailedDB != kept {
		t.Fatalf("the rollback kept %q, want %q", res.FailedDB, kept)
	}
	// Another kept database, and names that only look like one.
	other := name + "_failed_12"
	lookalikes := []string{name + "_failed_x1", name + "_failed_07", name + "_restore_3", name + "x_failed_1", name + "_failed_3_old"}
	for _, n := range append([]string{other}, lookalikes...) {
		superExec(t, "postgres", "CREATE DATABASE "+ident(n)+" TEMPLATE template0")
	}

	list, err := db.FailedDatabases(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != kept || list[0].Run != 7 || list[1].Name != other || list[1].Run != 12 {
		t.Fatalf("FailedDatabases = %+v, want %s and %s", list, kept, other)
	}
	var want int64
	if err := superConn(t, "postgres").QueryRow(t.Context(), "SELECT pg_database_size($1)", kept).Scan(&want); err != nil {
		t.Fatal(err)
	}
	if list[0].Size != want || list[0].Size < 1<<20 {
		t.Errorf("size of %s = %d, want pg_database_size %d (the seeded database, over 1 MiB)", kept, list[0].Size, want)
	}

	t.Run("only kept databases", func(t *testing.T) {
		for _, n := range append([]string{name, "postgres", "template1", ""}, lookalikes...) {
			if existed, err := db.DropFailed(t.Context(), n); !errors.Is(err, ErrRefused) || existed {
				t.Errorf("DropFailed(%q) = %v, %v; want ErrRefused", n, existed, err)
			}
		}
		for _, n := range append([]string{name}, lookalikes...) {
			if !databaseExists(t, n) {
				t.Errorf("%s is gone", n)
			}
		}
	})

	t.Run("drop with a session on it", func(t *testing.T) {
		session := superConn(t, kept)
		if existed, err := db.DropFailed(t.Context(), kept); err != nil || !existed {
			t.Fatalf("DropFailed(%s) = %v, %v", kept, existed, err)
		}
		if databaseExists(t, kept) {
			t.Fatal("the kept database survived its drop")
		}
		if _, err := session.Exec(t.Context(), "SELECT 1"); err == nil {
			t.Error("the session on the dropped database survived")
		}
		if existed, err := db.DropFailed(t.Context(), kept); err != nil || existed {
			t.Errorf("second DropFailed = %v, %v; want false, nil", existed, err)
		}
		list, err := db.FailedDatabases(t.Context())
		if err != nil || len(list) != 1 || list[0].Name != other {
			t.Errorf("after the drop: %+v, %v", list, err)
		}
		if got := fingerprint(t, db); !got.Equal(was.fp) {
			t.Errorf("Kong's database changed: %s", kong.DiffString(got.Diff(was.fp)))
		}
	})
}
