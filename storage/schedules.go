package storage

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	bolt "go.etcd.io/bbolt"
)

// Schedule is when a scheduled run prepares (its reminder), opens and closes. There is at
// most one per run, and only while the run is StateScheduled: UpdateRun deletes it when
// the run leaves that state.
type Schedule struct {
	Run       domain.RunID `json:"run"`
	Cluster   string       `json:"cluster"`
	Version   string       `json:"version"`
	Window    string       `json:"window,omitempty"`
	OpensAt   time.Time    `json:"opens_at"`
	ClosesAt  time.Time    `json:"closes_at,omitzero"`
	RemindAt  time.Time    `json:"remind_at,omitzero"`
	Reminded  bool         `json:"reminded,omitempty"` // set by drawbridge before 2026-12; unused since
	CreatedBy string       `json:"created_by,omitempty"`
	CreatedAt time.Time    `json:"created_at"`
}

// PutSchedule inserts or replaces the schedule of sc.Run, stamping CreatedAt
// if it is zero. The run must exist (ErrNotFound otherwise).
func (s *Store) PutSchedule(ctx context.Context, sc Schedule) error {
	if sc.OpensAt.IsZero() {
		return fmt.Errorf("put schedule of run %s: opens-at time is zero", sc.Run)
	}
	err := s.update(ctx, func(tx *bolt.Tx) error {
		_, err := s.putScheduleTx(tx, sc)
		return err
	})
	if err != nil {
		return fmt.Errorf("put schedule of run %s: %w", sc.Run, err)
	}
	return nil
}

func (s *Store) putScheduleTx(tx *bolt.Tx, sc Schedule) (Schedule, error) {
	if err := runExists(tx, sc.Run); err != nil {
		return sc, err
	}
	if sc.CreatedAt.IsZero() {
		sc.CreatedAt = s.stamp()
	}
	v, err := encode(tx, "schedule", scheduleRecord{V: formatV1, Schedule: sc})
	if err != nil {
		return sc, err
	}
	return sc, tx.Bucket(bucketSchedules).Put(u64Key(uint64(sc.Run)), v)
}

// GetSchedule returns the schedule of run, or an error wrapping ErrNotFound.
func (s *Store) GetSchedule(ctx context.Context, run domain.RunID) (Schedule, error) {
	var sc Schedule
	err := s.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSchedules).Get(u64Key(uint64(run)))
		if v == nil {
			return ErrNotFound
		}
		var rec scheduleRecord
		if err := decode("schedule", v, &rec); err != nil {
			return err
		}
		sc = rec.Schedule
		return nil
	})
	if err != nil {
		return Schedule{}, fmt.Errorf("get schedule of run %s: %w", run, err)
	}
	return sc, nil
}

// DeleteSchedule removes the schedule of run; ErrNotFound if it has none.
func (s *Store) DeleteSchedule(ctx context.Context, run domain.RunID) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSchedules)
		k := u64Key(uint64(run))
		if b.Get(k) == nil {
			return ErrNotFound
		}
		return b.Delete(k)
	})
	if err != nil {
		return fmt.Errorf("delete schedule of run %s: %w", run, err)
	}
	return nil
}

// ListSchedules returns every schedule ordered by OpensAt, then Run.
func (s *Store) ListSchedules(ctx context.Context) ([]Schedule, error) {
	var out []Schedule
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSchedules).ForEach(func(k, v []byte) error {
			var rec scheduleRecord
			if err := decode("schedule of run "+keyString(k), v, &rec); err != nil {
				return err
			}
			out = append(out, rec.Schedule)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	slices.SortFunc(out, func(a, b Schedule) int {
		return cmp.Or(a.OpensAt.Compare(b.OpensAt), cmp.Compare(a.Run, b.Run))
	})
	return out, nil
}
