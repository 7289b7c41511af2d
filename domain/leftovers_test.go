package domain

import "testing"

func TestFailedDatabaseRun(t *testing.T) {
	tests := []struct {
		kongDB, name string
		want         RunID
		ok           bool
	}{
		{"kong", "kong_failed_12", 12, true},
		{"kong", FailedDatabaseName("kong", 7), 7, true},
		{"kong_prod", "kong_prod_failed_1", 1, true},
		{"kong", "kong", 0, false},
		{"kong", "kong_failed_", 0, false},
		{"kong", "kong_failed_07", 0, false},                   // a rollback writes the run number as it is
		{"kong", "kong_failed_0", 0, false},                    // no run 0
		{"kong", "kong_failed_r1", 0, false},                   // another suffix: not a run's rollback
		{"kong", "kong_failed_1_x", 0, false},                  // …
		{"kong", "kong_restore_1", 0, false},                   // Restore's own working copy
		{"kong", "kongx_failed_1", 0, false},                   // another database's
		{"kong_x", "kong_failed_1", 0, false},                  // …
		{"", "_failed_1", 0, false},                            // no Kong database
		{"kong", "kong_failed_99999999999999999999", 0, false}, // beyond a run number
	}
	for _, tt := range tests {
		got, ok := FailedDatabaseRun(tt.kongDB, tt.name)
		if got != tt.want || ok != tt.ok {
			t.Errorf("FailedDatabaseRun(%q, %q) = %d, %v; want %d, %v", tt.kongDB, tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestMayRestore(t *testing.T) {
	for _, st := range []RunState{StateSucceeded, StateRolledBack, StateAborted, StateRejected, StateExpired, StateFailedBeforeDowntime} {
		if (Run{State: st}).MayRestore() {
			t.Errorf("a %s run may restore", st)
		}
	}
	for _, st := range []RunState{StateScheduled, StatePreparing, StateAwaitingApproval, StateWatching, StateNeedsAttention, StateRollingBack, StateRollbackFailed} {
		if !(Run{State: st}).MayRestore() {
			t.Errorf("a %s run may not restore", st)
		}
	}
}
