package upgrade

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/storage"
)

// PrunedBackup is a backup archive PruneBackups deleted.
type PrunedBackup struct {
	Cluster string
	Path    string
	Size    int64
	// Run is the run that took it, from the file's name; 0 when the state file does not
	// know that run.
	Run domain.RunID
}

// PruneBackups deletes the backup archives of each configured cluster
// (backup_dir/<cluster>/<run>.dump) but those of its keep newest runs, by run number; keep 0
// deletes nothing. Whatever keep says, it never deletes the archive of a run that may still
// restore it (one not ended, or whose rollback failed: a person may retry it), found by the
// run's number and by the path in its facts, nor the archive of the cluster's latest
// succeeded run: the last copy of Kong's configuration as X ran it, for a person who wants
// X back after drawbridge is done. Other files (pg_dump's .partial leftovers, a person's
// own) are left alone. It goes on past a file it cannot delete and returns every error.
func (e *Engine) PruneBackups(ctx context.Context, keep int) ([]PrunedBackup, error) {
	if keep < 0 {
		return nil, fmt.Errorf("prune backups: keep %d is negative", keep)
	}
	if keep == 0 {
		return nil, nil
	}
	// The directories are read before the runs: an archive found belongs to a run that
	// exists by the time the runs are listed, so a run still taking its backup is seen
	// as the run in progress it is.
	found := map[string][]archive{}
	var errs []error
	for i := range e.opts.Config.Clusters {
		c := &e.opts.Config.Clusters[i]
		as, err := e.archives(c)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		found[c.Name] = as
	}
	runs, err := e.opts.Store.ListRuns(ctx, storage.RunFilter{Limit: 1 << 20})
	if err != nil {
		return nil, errors.Join(append(errs, fmt.Errorf("prune backups: list runs: %w", err))...)
	}
	keepers := backupKeepers(runs)
	known := map[domain.RunID]bool{}
	for _, r := range runs {
		known[r.ID] = true
	}
	var pruned []PrunedBackup
	for _, c := range e.opts.Config.Clusters {
		as := found[c.Name]
		slices.SortFunc(as, func(a, b archive) int { return cmp.Compare(b.run, a.run) }) // newest first
		for i, a := range as {
			if i < keep || keepers.keeps(a) || ctx.Err() != nil {
				continue
			}
			if err := os.Remove(a.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("prune backups of %s: %w", c.Name, err))
				continue
			}
			p := PrunedBackup{Cluster: c.Name, Path: a.path, Size: a.size}
			if known[a.run] {
				p.Run = a.run
			}
			pruned = append(pruned, p)
		}
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, fmt.Errorf("prune backups: %w", err))
	}
	return pruned, errors.Join(errs...)
}

// archive is a backup archive of a cluster: <run>.dump.
type archive struct {
	path string
	run  domain.RunID
	size int64
}

// archives lists the backup archives in a cluster's backup directory (none when it does
// not exist).
func (e *Engine) archives(c *config.Cluster) ([]archive, error) {
	dir := filepath.Join(e.opts.Config.BackupDir, c.Name)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("prune backups of %s: %w", c.Name, err)
	}
	var out []archive
	for _, ent := range entries {
		id, ok := archiveRun(ent.Name())
		if !ok || !ent.Type().IsRegular() {
			continue
		}
		info, err := ent.Info()
		if err != nil {
			continue // deleted meanwhile
		}
		out = append(out, archive{path: filepath.Join(dir, ent.Name()), run: id, size: info.Size()})
	}
	return out, nil
}

// archiveRun reads the run of an archive's file name, <run>.dump.
func archiveRun(name string) (domain.RunID, bool) {
	num, ok := strings.CutSuffix(name, ".dump")
	if !ok || num == "" || num[0] == '0' || strings.TrimLeft(num, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return 0, false
	}
	return domain.RunID(n), true
}

// keepers are the archives that stay whatever their age: those of runs that may still
// restore them, and those of each cluster's latest succeeded run.
type keepers struct {
	runs  map[domain.RunID]bool
	paths map[string]bool // absolute
}

// backupKeepers picks the keepers among runs, listed newest first.
func backupKeepers(runs []domain.Run) keepers {
	k := keepers{runs: map[domain.RunID]bool{}, paths: map[string]bool{}}
	succeeded := map[string]bool{}
	for _, r := range runs {
		latestSucceeded := r.State == domain.StateSucceeded && !succeeded[r.Cluster]
		if r.State == domain.StateSucceeded {
			succeeded[r.Cluster] = true
		}
		if !r.MayRestore() && !latestSucceeded {
			continue
		}
		k.runs[r.ID] = true
		if r.Facts.Backup != nil && r.Facts.Backup.Path != "" {
			k.paths[absPath(r.Facts.Backup.Path)] = true
		}
	}
	return k
}

func (k keepers) keeps(a archive) bool { return k.runs[a.run] || k.paths[absPath(a.path)] }

// absPath makes a path absolute for comparison; a path that cannot be is compared as it is.
func absPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return filepath.Clean(p)
}
