package upgrade

import (
	"context"
	"errors"
	"fmt"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/notify/words"
	"github.com/drawbridge/drawbridge/storage"
)

// A rollback swaps the backup in and keeps Kong's database as the upgrade left it,
// <Kong's database>_failed_<run>, for forensics. Nothing drops it on its own: plan and
// status list it with its size, and a person drops it (drop-failed) once nothing needs it.

// FailedDatabases lists the databases the rollbacks of cluster kept on its server, with
// their sizes, in run order.
func (e *Engine) FailedDatabases(ctx context.Context, cluster string) ([]domain.FailedDatabase, error) {
	c, err := e.cluster(cluster)
	if err != nil {
		return nil, err
	}
	return e.failedDatabases(ctx, c)
}

func (e *Engine) failedDatabases(ctx context.Context, c *config.Cluster) ([]domain.FailedDatabase, error) {
	db, err := e.opts.OpenDB(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	defer db.Close()
	list, err := db.FailedDatabases(ctx)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	return list, nil
}

// DropFailedDatabase drops name, a database a rollback of cluster kept, once nothing may
// need it: it must be one FailedDatabases lists, and the run whose rollback kept it must
// not be one that may still restore (a run not ended, or one whose rollback failed: a
// person may retry the rollback, or go forward with the database it kept). It returns what
// it dropped, with Run 0 when the run is not in the state file (nothing of drawbridge's
// then needs it) or is another cluster's.
func (e *Engine) DropFailedDatabase(ctx context.Context, cluster, name string) (domain.FailedDatabase, error) {
	c, err := e.cluster(cluster)
	if err != nil {
		return domain.FailedDatabase{}, err
	}
	db, err := e.opts.OpenDB(ctx, c)
	if err != nil {
		return domain.FailedDatabase{}, fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	defer db.Close()
	list, err := db.FailedDatabases(ctx)
	if err != nil {
		return domain.FailedDatabase{}, fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	var kept domain.FailedDatabase
	for _, f := range list {
		if f.Name == name {
			kept = f
		}
	}
	if kept.Name == "" {
		return domain.FailedDatabase{}, fmt.Errorf("%q is not a database a rollback of %s kept; %s", name, c.Name, words.Kept(list))
	}
	run, err := e.opts.Store.GetRun(ctx, kept.Run)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		kept.Run = 0
	case err != nil:
		return domain.FailedDatabase{}, fmt.Errorf("drop %s: %w", name, err)
	case run.MayRestore():
		return domain.FailedDatabase{}, stillNeeded(run, name)
	case run.Cluster != c.Name:
		kept.Run = 0
	}
	existed, err := db.DropFailed(ctx, name)
	if err != nil {
		return domain.FailedDatabase{}, fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	if !existed {
		return domain.FailedDatabase{}, fmt.Errorf("%s of %s was dropped meanwhile", name, c.Name)
	}
	return kept, nil
}

// stillNeeded refuses to drop the database run's rollback kept while the run may restore.
func stillNeeded(run domain.Run, name string) error {
	if run.State == domain.StateRollbackFailed {
		return fmt.Errorf("run %s's rollback failed, and %s is what it kept: a person may retry the rollback or go forward with it; drop it by hand (DROP DATABASE) once you are sure", run.ID, name)
	}
	return fmt.Errorf("run %s (%s) may still roll back, which keeps and finishes with %s; drop it once the run has ended", run.ID, run.State.Human(), name)
}
