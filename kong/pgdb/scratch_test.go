package pgdb

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestRestoreCopy: a rehearsal's copy holds the backup's configuration, can be migrated
// without touching Kong's database, and is dropped, also when its restore fails half-way.
func TestRestoreCopy(t *testing.T) {
	name, dsn := newKongDB(t)
	db := open(t, dsn)
	b := snapshot(t, db)

	for _, tc := range []struct {
		label, like string
	}{{"like Kong's database", name}, {"another server (no owners)", ""}} {
		t.Run(tc.label, func(t *testing.T) {
			scratch, err := RehearsalName(name, "7")
			if err != nil {
				t.Fatal(err)
			}
			cp, err := db.RestoreCopy(t.Context(), b.backup.Path, scratch, tc.like)
			if err != nil {
				t.Fatal(err)
			}
			if cp.Database != scratch || cp.Port != pg.Port || cp.Duration <= 0 {
				t.Errorf("copy %+v", cp)
			}
			copyDB := db.On(scratch)
			if fp := fingerprint(t, copyDB); !fp.Equal(b.fp) {
				t.Fatalf("the copy's configuration differs: %v", fp.Diff(b.fp))
			}
			migrate(t, kongTarget{Database: scratch, User: pg.User}, "up", toVersion)
			if s := schema(t, db); len(s.Pending()) != 0 {
				t.Fatalf("migrating the copy touched Kong's database: pending %v", s.Pending())
			}
			if s := schema(t, copyDB); len(s.Pending()) == 0 {
				t.Fatal("the copy was not migrated")
			}
			// A second copy of the same name (a repeated rehearsal) replaces the leftover.
			if _, err := db.RestoreCopy(t.Context(), b.backup.Path, scratch, tc.like); err != nil {
				t.Fatal(err)
			}
			if s := schema(t, copyDB); len(s.Pending()) != 0 {
				t.Fatal("the leftover copy was not replaced")
			}
			if tc.like != "" && databaseSettings(t, scratch) != databaseSettings(t, name) {
				t.Errorf("copy made like Kong's database differs:\n%s\n%s", databaseSettings(t, scratch), databaseSettings(t, name))
			}
			list, err := db.Copies(t.Context(), name+"_rehearsal_")
			if err != nil || len(list) != 1 || list[0] != scratch {
				t.Fatalf("copies %v %v", list, err)
			}
			if existed, err := db.DropCopy(t.Context(), scratch); err != nil || !existed {
				t.Fatalf("drop: %v %v", existed, err)
			}
			if databaseExists(t, scratch) {
				t.Fatal("the copy survived its drop")
			}
			if existed, err := db.DropCopy(t.Context(), scratch); err != nil || existed {
				t.Fatalf("second drop: %v %v", existed, err)
			}
		})
	}

	t.Run("only scratch databases", func(t *testing.T) {
		if _, err := db.DropCopy(t.Context(), name); !errors.Is(err, ErrRefused) {
			t.Fatalf("DropCopy of Kong's database: %v", err)
		}
		if _, err := db.RestoreCopy(t.Context(), b.backup.Path, name, name); !errors.Is(err, ErrRefused) {
			t.Fatalf("RestoreCopy over Kong's database: %v", err)
		}
		if !databaseExists(t, name) {
			t.Fatal("Kong's database is gone")
		}
	})

	t.Run("a failed restore leaves no copy", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "cut.dump")
		data, err := os.ReadFile(b.backup.Path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bad, data[:len(data)*2/3], 0o600); err != nil {
			t.Fatal(err)
		}
		scratch, _ := RehearsalName(name, "8")
		if _, err := db.RestoreCopy(t.Context(), bad, scratch, name); err == nil {
			t.Fatal("a truncated archive restored")
		}
		if databaseExists(t, scratch) {
			t.Fatal("the failed copy was left behind")
		}
	})
}

func TestRehearsalName(t *testing.T) {
	if n, err := RehearsalName("kong", "12"); err != nil || n != "kong_rehearsal_12" {
		t.Fatalf("%q %v", n, err)
	}
	if _, err := RehearsalName("kong", "1; drop"); err == nil {
		t.Fatal("a run id with other characters was accepted")
	}
	long := "k123456789012345678901234567890123456789012345678901234567890"
	if _, err := RehearsalName(long, "1"); err == nil {
		t.Fatal("a name over 63 bytes was accepted")
	}
}
