package wire

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/storage"
	"github.com/drawbridge/drawbridge/units"
	"github.com/drawbridge/drawbridge/upgrade"
)

// janitorEvery is how often the janitor sweeps after the sweep at start: retention is
// counted in hours and days, and a sweep reads the whole claimed keys and dead letters
// buckets and every cluster's backup directory.
const janitorEvery = time.Hour

// janitor applies config.Retention in the serving process: it forgets idempotency keys and
// dead letters older than configured, prunes change records past retention.records, and
// deletes the backup archives beyond each cluster's
// newest (upgrade.Engine.PruneBackups says which stay). It sweeps at start and every
// janitorEvery until its context ends. A part that fails is logged and tried again at the
// next sweep; a deleted archive is logged and audited. A retention of zero (a Config not
// loaded from a file, which would have its defaults) keeps everything of its kind.
type janitor struct {
	store     *storage.Store
	backups   backupPruner
	retention config.Retention
	clock     upgrade.Clock // times the sweeps; ages are measured on the store's clock
	log       *slog.Logger
}

// backupPruner deletes old backup archives (upgrade.Engine).
type backupPruner interface {
	PruneBackups(ctx context.Context, keep int) ([]upgrade.PrunedBackup, error)
}

// run sweeps now and every janitorEvery until ctx ends.
func (j *janitor) run(ctx context.Context) {
	for {
		j.sweep(ctx)
		select {
		case <-ctx.Done():
			return
		case <-j.clock.After(janitorEvery):
		}
	}
}

// sweep does one round of every part; each goes on when another fails.
func (j *janitor) sweep(ctx context.Context) {
	now := j.store.Now()
	var keys, dead int
	var err error
	if age := j.retention.IdempotencyKeys.D(); age > 0 {
		keys, err = j.store.PurgeKeys(ctx, now.Add(-age))
		j.failed(ctx, "forget old idempotency keys", err)
	}
	if age := j.retention.DeadLetters.D(); age > 0 {
		dead, err = j.store.PurgeDeadLetters(ctx, now.Add(-age))
		j.failed(ctx, "forget old dead letters", err)
	}
	if keys > 0 || dead > 0 {
		j.log.Info("retention: forgot idempotency keys and dead letters", "keys", keys, "keys_older_than", j.retention.IdempotencyKeys.String(),
			"dead_letters", dead, "dead_letters_older_than", j.retention.DeadLetters.String())
	}

	if age := j.retention.Records.D(); age > 0 {
		p, err := j.store.PruneRecords(ctx, now.Add(-age))
		j.failed(ctx, "prune old change records", err)
		for c, ids := range p.Runs {
			j.log.Info("retention: pruned change records", "cluster", c, "runs", len(ids), "ended_before", now.Add(-age).UTC().Format(time.RFC3339))
		}
	}

	keep := j.retention.BackupsPerCluster
	pruned, err := j.backups.PruneBackups(ctx, keep)
	for _, p := range pruned {
		j.log.Info("retention: deleted a backup archive", "cluster", p.Cluster, "path", p.Path, "size", units.Bytes(p.Size), "run", p.Run.String(), "keep", keep)
		ev := storage.AuditEvent{Run: p.Run, Actor: "drawbridge", Action: "backup_deleted",
			Detail: fmt.Sprintf("%s (%s): %s keeps the archives of its last %d runs (retention.backups_per_cluster)", p.Path, units.Bytes(p.Size), p.Cluster, keep)}
		// The archive is gone: its record is written even when the sweep is being stopped.
		if _, err := j.store.AppendAudit(context.WithoutCancel(ctx), ev); err != nil {
			j.log.Error("retention: audit a deleted backup archive", "path", p.Path, "err", err)
		}
	}
	j.failed(ctx, "delete old backup archives", err)
}

// failed logs a part's error, unless the sweep is only being stopped.
func (j *janitor) failed(ctx context.Context, what string, err error) {
	if err != nil && ctx.Err() == nil {
		j.log.Error("retention: "+what, "err", err)
	}
}
