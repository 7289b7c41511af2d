package upgrade_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/storage"
	"github.com/drawbridge/drawbridge/upgrade"
	"github.com/drawbridge/drawbridge/wire"
)

// TestPruneBackups: each cluster keeps the archives of its newest runs, and besides them
// those of a run that may still restore (its rollback failed, or is being retried) and of
// its latest succeeded run; other files are never touched.
func TestPruneBackups(t *testing.T) {
	dir := t.TempDir()
	cfg := &config.Config{StateFile: filepath.Join(dir, "state.db"), BackupDir: filepath.Join(dir, "backups"),
		Clusters: []config.Cluster{{Name: "prod-eu"}, {Name: "staging"}, {Name: "empty"}}}
	store, err := storage.Open(cfg.StateFile, storage.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	eng, err := upgrade.New(wire.EngineOptions(cfg, store, slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(eng.Close)

	// prod-eu's runs 1 to 8, each with its archive, then run 5's failed rollback retried.
	states := []domain.RunState{domain.StateSucceeded, domain.StateRolledBack, domain.StateSucceeded, domain.StateRollbackFailed,
		domain.StateRollbackFailed, domain.StateAborted, domain.StateRejected, domain.StateFailedBeforeDowntime}
	for _, st := range states {
		r, err := store.CreateRun(t.Context(), domain.Run{Cluster: "prod-eu", To: "3.5.0", State: st})
		if err != nil {
			t.Fatal(err)
		}
		path := write(t, filepath.Join(cfg.BackupDir, "prod-eu", r.ID.String()+".dump"))
		if _, err := store.UpdateRun(t.Context(), r.ID, func(r *domain.Run) error {
			r.Facts.Backup = &domain.Backup{Path: path, Size: 5}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.UpdateRun(t.Context(), 5, func(r *domain.Run) error { r.State = domain.StateRollingBack; return nil }); err != nil {
		t.Fatal(err)
	}
	// staging: archives of runs the state file does not know (an older state file's).
	for _, n := range []string{"97", "98", "99"} {
		write(t, filepath.Join(cfg.BackupDir, "staging", n+".dump"))
	}
	// Files drawbridge did not write as archives.
	others := []string{"prod-eu/.9.dump.123.partial", "prod-eu/notes.txt", "prod-eu/01.dump", "prod-eu/1.dump.sha256", "other-cluster/1.dump"}
	for _, o := range others {
		write(t, filepath.Join(cfg.BackupDir, o))
	}
	if err := os.MkdirAll(filepath.Join(cfg.BackupDir, "prod-eu", "2000.dump"), 0o700); err != nil {
		t.Fatal(err)
	}

	if pruned, err := eng.PruneBackups(t.Context(), 0); err != nil || len(pruned) != 0 {
		t.Fatalf("keep 0 pruned %+v, %v; want nothing", pruned, err)
	}
	pruned, err := eng.PruneBackups(t.Context(), 2)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range pruned {
		got = append(got, p.Cluster+"/"+filepath.Base(p.Path)+"#"+p.Run.String())
		if p.Size != 5 {
			t.Errorf("%s: size %d, want 5", p.Path, p.Size)
		}
	}
	slices.Sort(got)
	if want := []string{"prod-eu/1.dump#1", "prod-eu/2.dump#2", "prod-eu/6.dump#6", "staging/97.dump#0"}; !slices.Equal(got, want) {
		t.Errorf("pruned %v, want %v", got, want)
	}
	left := map[string]bool{}
	_ = filepath.WalkDir(cfg.BackupDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && p != cfg.BackupDir {
			rel, _ := filepath.Rel(cfg.BackupDir, p)
			left[rel] = true
		}
		return nil
	})
	for _, n := range []string{"3", "4", "5", "7", "8"} {
		if !left["prod-eu/"+n+".dump"] {
			t.Errorf("prod-eu/%s.dump was deleted", n)
		}
	}
	for _, n := range []string{"1", "2", "6"} {
		if left["prod-eu/"+n+".dump"] {
			t.Errorf("prod-eu/%s.dump is still there", n)
		}
	}
	for _, o := range append(others, "prod-eu/2000.dump", "staging/98.dump", "staging/99.dump") {
		if !left[o] {
			t.Errorf("%s was deleted", o)
		}
	}
	if again, err := eng.PruneBackups(t.Context(), 2); err != nil || len(again) != 0 {
		t.Errorf("pruning again: %+v, %v; want nothing", again, err)
	}
	if _, err := eng.PruneBackups(t.Context(), -1); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Errorf("keep -1: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := eng.PruneBackups(ctx, 1); err == nil {
		t.Error("pruning with a cancelled context succeeded")
	}
	if _, err := os.Stat(filepath.Join(cfg.BackupDir, "prod-eu", "7.dump")); err != nil {
		t.Errorf("the cancelled prune deleted 7.dump (newest but one): %v", err)
	}
}

// write creates a small file (and its directory) and returns its path.
func write(t *testing.T, path string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("dump\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
