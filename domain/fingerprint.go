package domain

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// TableSum summarises one configuration table.
type TableSum struct {
	Rows int64
	Hash string // sha256 hex over the table's rows in a stable order
}

// Fingerprint is a stable hash over Kong's configuration tables, with a summary per table
// so that a person can see what changed.
type Fingerprint struct {
	Hash   string              // sha256 hex over every table's summary
	Tables map[string]TableSum // table name → summary
	At     time.Time
}

// Equal reports whether two fingerprints describe the same configuration.
func (f Fingerprint) Equal(o Fingerprint) bool { return f.Hash == o.Hash }

// TableDiff is one table that differs between two fingerprints.
type TableDiff struct {
	Table        string
	Before, Now  int64 // row counts; -1 when the table is absent
	SameRowCount bool  // rows changed in place
}

func (d TableDiff) String() string {
	switch {
	case d.Before < 0:
		return fmt.Sprintf("%s (new table, %d rows)", d.Table, d.Now)
	case d.Now < 0:
		return fmt.Sprintf("%s (table gone, had %d rows)", d.Table, d.Before)
	case d.SameRowCount:
		return fmt.Sprintf("%s (%d rows, contents changed)", d.Table, d.Now)
	default:
		return fmt.Sprintf("%s (%d → %d rows)", d.Table, d.Before, d.Now)
	}
}

// Diff lists the tables whose summary differs from before, by name.
func (f Fingerprint) Diff(before Fingerprint) []TableDiff {
	var out []TableDiff
	names := map[string]bool{}
	for n := range f.Tables {
		names[n] = true
	}
	for n := range before.Tables {
		names[n] = true
	}
	for _, n := range slices.Sorted(maps.Keys(names)) {
		b, inB := before.Tables[n]
		a, inA := f.Tables[n]
		if inA && inB && a == b {
			continue
		}
		d := TableDiff{Table: n, Before: -1, Now: -1}
		if inB {
			d.Before = b.Rows
		}
		if inA {
			d.Now = a.Rows
		}
		d.SameRowCount = inA && inB && a.Rows == b.Rows
		out = append(out, d)
	}
	return out
}

// DiffString names the changed tables, e.g. "services (20 → 21 rows), plugins (40 rows,
// contents changed)".
func DiffString(diffs []TableDiff) string {
	parts := make([]string, len(diffs))
	for i, d := range diffs {
		parts[i] = d.String()
	}
	return strings.Join(parts, ", ")
}
