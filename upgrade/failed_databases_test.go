package upgrade_test

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/storage"
	"github.com/drawbridge/drawbridge/upgrade"
	"github.com/drawbridge/drawbridge/wire"
)

var failedSeq atomic.Int64

// TestDropFailedDatabase: the engine drops a kept database only once the run that kept it
// can no longer restore; one of a run the state file does not know is nobody's; nothing but
// a kept database is dropped.
func TestDropFailedDatabase(t *testing.T) {
	services(t)
	kongDB := fmt.Sprintf("kong_kept_%d", failedSeq.Add(1))
	dsn, err := sharedPG.CreateDatabase(t.Context(), kongDB)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := &config.Config{StateFile: filepath.Join(dir, "state.db"), BackupDir: filepath.Join(dir, "backups"),
		Clusters: []config.Cluster{{Name: "test", Database: config.Database{DSN: config.Secret(dsn)}}}}
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
	for _, st := range []domain.RunState{domain.StateRollbackFailed, domain.StateRolledBack, domain.StateNeedsAttention} {
		if _, err := store.CreateRun(t.Context(), domain.Run{Cluster: "test", To: "3.5.0", State: st}); err != nil {
			t.Fatal(err)
		}
	}
	for _, run := range []domain.RunID{1, 2, 3, 99} {
		if _, err := sharedPG.CreateDatabase(t.Context(), domain.FailedDatabaseName(kongDB, run)); err != nil {
			t.Fatal(err)
		}
	}
	list, err := eng.FailedDatabases(t.Context(), "test")
	if err != nil || len(list) != 4 || list[3].Name != kongDB+"_failed_99" || list[3].Size <= 0 {
		t.Fatalf("FailedDatabases = %+v, %v", list, err)
	}

	for _, tc := range []struct {
		cluster, name string
		refusal       string // "" = dropped
		run           domain.RunID
	}{
		{"test", kongDB + "_failed_1", "run 1's rollback failed", 0},
		{"test", kongDB + "_failed_3", "run 3 (needs attention) may still roll back", 0},
		{"test", kongDB, "is not a database a rollback of test kept; its rollbacks kept " + kongDB + "_failed_1 (", 0},
		{"test", kongDB + "_failed_4", "is not a database a rollback of test kept", 0},
		{"prod", kongDB + "_failed_2", `cluster "prod" is not in the configuration`, 0},
		{"test", kongDB + "_failed_2", "", 2},
		{"test", kongDB + "_failed_99", "", 0}, // the state file does not know run 99
		{"test", kongDB + "_failed_2", "is not a database a rollback of test kept", 0},
	} {
		d, err := eng.DropFailedDatabase(t.Context(), tc.cluster, tc.name)
		switch {
		case tc.refusal == "" && (err != nil || d.Name != tc.name || d.Run != tc.run || d.Size <= 0):
			t.Errorf("drop %s = %+v, %v; want it dropped, run %s", tc.name, d, err, tc.run)
		case tc.refusal != "" && (err == nil || !strings.Contains(err.Error(), tc.refusal)):
			t.Errorf("drop %s on %s = %v; want %q", tc.name, tc.cluster, err, tc.refusal)
		}
	}
	list, err = eng.FailedDatabases(t.Context(), "test")
	if err != nil || len(list) != 2 || list[0].Run != 1 || list[1].Run != 3 {
		t.Errorf("kept after the drops: %+v, %v; want runs 1 and 3's", list, err)
	}
}
