package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/drawbridge/drawbridge/domain"
	bolt "go.etcd.io/bbolt"
)

// RunFilter selects runs for ListRuns.
type RunFilter struct {
	Cluster string            // "" = all clusters
	States  []domain.RunState // empty = all states
	Limit   int               // 0 = 50
	Before  domain.RunID      // only runs with a smaller ID; 0 = from the newest
}

const defaultRunLimit = 50

// CreateRun stores a new run and returns it with its ID, CreatedAt,
// UpdatedAt and Revision (1) set. r.State must be valid and r.ID zero. If the
// cluster already has a non-terminal run, the error wraps ErrClusterBusy and
// names that run. The audit events, if any, are appended to the new run's log in the
// same transaction.
func (s *Store) CreateRun(ctx context.Context, r domain.Run, audit ...AuditEvent) (domain.Run, error) {
	if err := errors.Join(validateNewRun(r), validAudit(audit...)); err != nil {
		return domain.Run{}, fmt.Errorf("create run for cluster %q: %w", r.Cluster, err)
	}
	err := s.update(ctx, func(tx *bolt.Tx) error {
		var err error
		if r, err = s.createRunTx(tx, r); err != nil {
			return err
		}
		return s.auditFor(tx, r.ID, audit)
	})
	if err != nil {
		return domain.Run{}, fmt.Errorf("create run for cluster %q: %w", r.Cluster, err)
	}
	return r, nil
}

// CreateScheduledRun is CreateRun and PutSchedule in one transaction: a scheduled run
// never exists without its schedule. sc.Run is set to the new run's ID.
func (s *Store) CreateScheduledRun(ctx context.Context, r domain.Run, sc Schedule, audit ...AuditEvent) (domain.Run, Schedule, error) {
	if err := errors.Join(validateNewRun(r), validAudit(audit...)); err != nil {
		return domain.Run{}, Schedule{}, fmt.Errorf("create scheduled run for cluster %q: %w", r.Cluster, err)
	}
	if sc.OpensAt.IsZero() {
		return domain.Run{}, Schedule{}, fmt.Errorf("create scheduled run for cluster %q: the schedule's opens-at time is zero", r.Cluster)
	}
	err := s.update(ctx, func(tx *bolt.Tx) error {
		var err error
		if r, err = s.createRunTx(tx, r); err != nil {
			return err
		}
		sc.Run = r.ID
		if sc, err = s.putScheduleTx(tx, sc); err != nil {
			return err
		}
		return s.auditFor(tx, r.ID, audit)
	})
	if err != nil {
		return domain.Run{}, Schedule{}, fmt.Errorf("create scheduled run for cluster %q: %w", r.Cluster, err)
	}
	return r, sc, nil
}

// createRunTx stores the new run r inside tx, assigning its ID, times and revision.
func (s *Store) createRunTx(tx *bolt.Tx, r domain.Run) (domain.Run, error) {
	if err := clusterFree(tx, r.Cluster, 0); err != nil {
		return r, err
	}
	seq, err := tx.Bucket(bucketRuns).NextSequence()
	if err != nil {
		return r, err
	}
	r.ID = domain.RunID(seq)
	r.CreatedAt = s.stamp()
	r.UpdatedAt = r.CreatedAt
	r.Revision = 1
	return r, putRun(tx, r, "")
}

func validateNewRun(r domain.Run) error {
	switch {
	case r.ID != 0:
		return fmt.Errorf("run ID %s was set by the caller; the store assigns IDs", r.ID)
	case r.Cluster == "":
		return errors.New("cluster is empty")
	case !r.State.Valid():
		return fmt.Errorf("state %q is not a run state", r.State)
	}
	return nil
}

// GetRun returns the run with the given ID, or an error wrapping ErrNotFound.
func (s *Store) GetRun(ctx context.Context, id domain.RunID) (domain.Run, error) {
	var r domain.Run
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		r, err = getRun(tx, id)
		return err
	})
	if err != nil {
		return domain.Run{}, fmt.Errorf("get run %s: %w", id, err)
	}
	return r, nil
}

// UpdateRun loads run id, lets fn change it, and stores it with Revision
// incremented and UpdatedAt stamped, all in one transaction. fn must be pure
// (no I/O): it may refuse by returning an error, which UpdateRun returns
// wrapped (errors.Is works) and nothing is written. fn may not change ID or
// Cluster; changes it makes to CreatedAt and Revision are ignored. Turning
// the run terminal frees its cluster; turning a terminal run non-terminal
// again fails with ErrClusterBusy if the cluster has another active run. A run that
// leaves StateScheduled loses its schedule in the same transaction. The audit
// events, if any, are appended to the run's log in the same transaction: the change and
// its record are stored together or not at all.
func (s *Store) UpdateRun(ctx context.Context, id domain.RunID, fn func(*domain.Run) error, audit ...AuditEvent) (domain.Run, error) {
	return s.UpdateRunSteps(ctx, id, fn, nil, audit...)
}

// UpdateRunSteps is UpdateRun that also stores step records of the run (each replacing the
// record of its Index), in the same transaction: a step's status, the run's state and facts
// that go with it, and their audit events are stored together or not at all.
func (s *Store) UpdateRunSteps(ctx context.Context, id domain.RunID, fn func(*domain.Run) error, steps []domain.StepRecord, audit ...AuditEvent) (domain.Run, error) {
	if fn == nil {
		return domain.Run{}, fmt.Errorf("update run %s: nil update function", id)
	}
	if err := validAudit(audit...); err != nil {
		return domain.Run{}, fmt.Errorf("update run %s: %w", id, err)
	}
	for _, rec := range steps {
		if err := validStep(rec); err != nil {
			return domain.Run{}, fmt.Errorf("update run %s: step %d: %w", id, rec.Index, err)
		}
	}
	var r domain.Run
	err := s.update(ctx, func(tx *bolt.Tx) error {
		var err error
		if r, err = s.updateRunTx(tx, id, fn); err != nil {
			return err
		}
		for _, rec := range steps {
			if err := putStepTx(tx, id, rec); err != nil {
				return err
			}
		}
		return s.auditFor(tx, id, audit)
	})
	if err != nil {
		return domain.Run{}, fmt.Errorf("update run %s: %w", id, err)
	}
	return r, nil
}

// updateRunTx applies fn to run id inside tx, as UpdateRun describes.
func (s *Store) updateRunTx(tx *bolt.Tx, id domain.RunID, fn func(*domain.Run) error) (domain.Run, error) {
	old, err := getRun(tx, id)
	if err != nil {
		return domain.Run{}, err
	}
	// fn edits a copy of its own: old keeps what is stored, slices and pointers too.
	r, err := getRun(tx, id)
	if err != nil {
		return domain.Run{}, err
	}
	if err := fn(&r); err != nil {
		return domain.Run{}, err
	}
	if err := validateUpdate(old, r); err != nil {
		return domain.Run{}, err
	}
	if old.State.Terminal() && !r.State.Terminal() {
		if err := clusterFree(tx, r.Cluster, r.ID); err != nil {
			return domain.Run{}, err
		}
	}
	r.CreatedAt = old.CreatedAt
	r.Revision = old.Revision + 1
	r.UpdatedAt = s.stamp()
	if err := putRun(tx, r, old.State); err != nil {
		return domain.Run{}, err
	}
	if old.State == domain.StateScheduled && r.State != domain.StateScheduled {
		// A schedule is the scheduler's wake-up for a run that waits for it; a run
		// that prepares or ends no longer does.
		if err := tx.Bucket(bucketSchedules).Delete(u64Key(uint64(id))); err != nil {
			return domain.Run{}, err
		}
	}
	return r, nil
}

func validateUpdate(old, r domain.Run) error {
	switch {
	case r.ID != old.ID:
		return fmt.Errorf("run ID may not change (to %s)", r.ID)
	case r.Cluster != old.Cluster:
		return fmt.Errorf("cluster may not change (from %q to %q)", old.Cluster, r.Cluster)
	case !r.State.Valid():
		return fmt.Errorf("state %q is not a run state", r.State)
	}
	return nil
}

// ListRuns returns runs matching f, newest (highest ID) first.
func (s *Store) ListRuns(ctx context.Context, f RunFilter) ([]domain.Run, error) {
	if f.Limit < 0 {
		return nil, fmt.Errorf("list runs: limit %d is negative", f.Limit)
	}
	limit := f.Limit
	if limit == 0 {
		limit = defaultRunLimit
	}
	var out []domain.Run
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRuns).Cursor()
		k, v := c.Last()
		if f.Before != 0 {
			if k, v = c.Seek(u64Key(uint64(f.Before))); k == nil {
				k, v = c.Last() // every ID is below Before
			} else {
				k, v = c.Prev()
			}
		}
		for ; k != nil && len(out) < limit; k, v = c.Prev() {
			var rec runRecord
			if err := decode("run "+keyString(k), v, &rec); err != nil {
				return err
			}
			if f.matches(rec.Run) {
				out = append(out, rec.Run)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return out, nil
}

func (f RunFilter) matches(r domain.Run) bool {
	if f.Cluster != "" && r.Cluster != f.Cluster {
		return false
	}
	return len(f.States) == 0 || slices.Contains(f.States, r.State)
}

// ActiveRun returns the cluster's non-terminal run, if it has one.
func (s *Store) ActiveRun(ctx context.Context, cluster string) (domain.Run, bool, error) {
	var (
		r  domain.Run
		ok bool
	)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		id, found := activeID(tx, cluster)
		if !found {
			return nil
		}
		var err error
		r, err = getRun(tx, id)
		ok = err == nil
		return err
	})
	if err != nil {
		return domain.Run{}, false, fmt.Errorf("active run of cluster %q: %w", cluster, err)
	}
	return r, ok, nil
}

// getRun loads and decodes one run; the result is safe after tx ends.
func getRun(tx *bolt.Tx, id domain.RunID) (domain.Run, error) {
	v := tx.Bucket(bucketRuns).Get(u64Key(uint64(id)))
	if v == nil {
		return domain.Run{}, ErrNotFound
	}
	var rec runRecord
	if err := decode("run "+id.String(), v, &rec); err != nil {
		return domain.Run{}, err
	}
	return rec.Run, nil
}

// putRun stores r and keeps the active index in step with its state. prev
// is the state r had before this write ("" for a new run).
func putRun(tx *bolt.Tx, r domain.Run, prev domain.RunState) error {
	b, err := encode(tx, "run "+r.ID.String(), runRecord{V: formatV2, Run: r})
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketRuns).Put(u64Key(uint64(r.ID)), b); err != nil {
		return err
	}
	active := tx.Bucket(bucketActive)
	wasActive := prev != "" && !prev.Terminal()
	switch isActive := !r.State.Terminal(); {
	case isActive && !wasActive:
		return active.Put([]byte(r.Cluster), u64Key(uint64(r.ID)))
	case !isActive && wasActive:
		if id, ok := activeID(tx, r.Cluster); ok && id == r.ID {
			return active.Delete([]byte(r.Cluster))
		}
	}
	return nil
}

// clusterFree fails with ErrClusterBusy if the cluster has a non-terminal run
// other than self.
func clusterFree(tx *bolt.Tx, cluster string, self domain.RunID) error {
	id, ok := activeID(tx, cluster)
	if !ok || id == self {
		return nil
	}
	other, err := getRun(tx, id)
	if err != nil {
		return fmt.Errorf("active index names run %s: %w", id, err)
	}
	return fmt.Errorf("%w: run %s is %s", ErrClusterBusy, other.ID, other.State)
}

func activeID(tx *bolt.Tx, cluster string) (domain.RunID, bool) {
	if cluster == "" {
		return 0, false
	}
	n, ok := keyU64(tx.Bucket(bucketActive).Get([]byte(cluster)))
	return domain.RunID(n), ok
}

// runExists is the check behind "run must exist" for the records that
// belong to a run.
func runExists(tx *bolt.Tx, id domain.RunID) error {
	if id == 0 || tx.Bucket(bucketRuns).Get(u64Key(uint64(id))) == nil {
		return ErrNotFound
	}
	return nil
}

// keyString renders a sequence key for error messages.
func keyString(k []byte) string {
	if n, ok := keyU64(k); ok {
		return strconv.FormatUint(n, 10)
	}
	return fmt.Sprintf("%x", k)
}
