package domain

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestParseRunID(t *testing.T) {
	tests := []struct {
		in      string
		want    RunID
		wantErr bool
	}{
		{in: "42", want: 42},
		{in: "#42", want: 42},
		{in: "r42", want: 42},
		{in: "R7", want: 7},
		{in: " 7 ", want: 7},
		{in: "18446744073709551615", want: 18446744073709551615},
		{in: "", wantErr: true},
		{in: "0", wantErr: true},
		{in: "#0", wantErr: true},
		{in: "r", wantErr: true},
		{in: "#", wantErr: true},
		{in: "-1", wantErr: true},
		{in: "+1", wantErr: true},
		{in: "42x", wantErr: true},
		{in: "run42", wantErr: true},
		{in: "18446744073709551616", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRunID(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseRunID(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.in)) {
				t.Errorf("error %q does not quote the input", err)
			}
		})
	}
	if s := RunID(42).String(); s != "42" {
		t.Errorf("RunID(42).String() = %q", s)
	}
}

func TestRunStates(t *testing.T) {
	terminal := []RunState{StateRejected, StateExpired, StateSucceeded, StateFailedBeforeDowntime, StateRolledBack, StateRollbackFailed, StateAborted}
	active := []RunState{StateScheduled, StatePreparing, StateAwaitingApproval, StateStopping, StateMigrating, StateStarting, StateWatching, StateAwaitingDecommission, StateNeedsAttention, StateRollingBack}
	if n := len(terminal) + len(active); n != len(states) {
		t.Fatalf("test lists %d states, package has %d", n, len(states))
	}
	for _, s := range terminal {
		if !s.Valid() || !s.Terminal() {
			t.Errorf("%s: Valid %v Terminal %v, want both true", s, s.Valid(), s.Terminal())
		}
	}
	for _, s := range active {
		if !s.Valid() || s.Terminal() {
			t.Errorf("%s: Valid %v Terminal %v, want valid and not terminal", s, s.Valid(), s.Terminal())
		}
	}
	for _, s := range []RunState{"", "Succeeded", "done"} {
		if s.Valid() || s.Terminal() {
			t.Errorf("%q: Valid %v Terminal %v, want neither", s, s.Valid(), s.Terminal())
		}
	}
}

func TestStateWords(t *testing.T) {
	for s := range states {
		if h := s.Human(); h == "" || strings.Contains(h, "_") {
			t.Errorf("%s reads %q", s, h)
		}
	}
	if got := StateAwaitingApproval.Human(); got != "awaiting approval" {
		t.Errorf("awaiting_approval reads %q", got)
	}
	if got := RunState("odd_one").Human(); got != "odd_one" {
		t.Errorf("an unknown state reads %q, want it as stored", got)
	}
	if StateScheduled.Active() || !StateWatching.Active() || StateSucceeded.Active() {
		t.Error("Active: scheduled and ended runs are not in progress; a watching one is")
	}
}

func TestStepTable(t *testing.T) {
	seen := map[string]bool{}
	for _, list := range [][]Step{ForwardSteps, RollbackSteps} {
		for _, s := range list {
			if seen[s.Name] || !s.State.Valid() || s.Title == "" {
				t.Errorf("step %d %q: duplicate name, bad state %q or no title", s.ID, s.Name, s.State)
			}
			seen[s.Name] = true
			if got, ok := StepOf(int(s.ID)); !ok || got.Name != s.Name {
				t.Errorf("StepOf(%d) = %v, %v", s.ID, got, ok)
			}
		}
	}
	if got := StepTitleFor(int(StepStop), "3.4.3", "3.9.1"); got != "stop 3.4.3, install 3.9.1" {
		t.Errorf("StepTitleFor(stop) = %q", got)
	}
	if got := StepTitleFor(int(StepStart), "", ""); got != "start the new version" {
		t.Errorf("StepTitleFor(start) without versions = %q", got)
	}
	if StepName(999) != "" || StepState(999) != "" {
		t.Error("an unknown step has a name or state")
	}
}

// TestPassedOver: a forward step with no record is passed over exactly when a later forward
// step has one (a step added by a later release, e.g. the rehearsal, under a run that had
// already reached the gate); rollback steps and recorded steps never are.
func TestPassedOver(t *testing.T) {
	for _, tc := range []struct {
		name     string
		id       StepID
		recorded []StepID
		want     bool
	}{
		{"no records", StepRehearsal, nil, false},
		{"the step before it recorded only", StepRehearsal, []StepID{StepPreflight, StepStage}, false},
		{"the gate recorded after it", StepRehearsal, []StepID{StepPreflight, StepStage, StepApproval}, true},
		{"recorded itself", StepRehearsal, []StepID{StepRehearsal, StepApproval}, false},
		{"the last forward step", StepDecommission, []StepID{StepPreflight, StepWatch}, false},
		{"a rollback step", StepRollbackStop, []StepID{StepRollbackStart}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := PassedOver(tc.id, func(id StepID) bool { return slices.Contains(tc.recorded, id) })
			if got != tc.want {
				t.Errorf("PassedOver(%v) with %v = %v, want %v", tc.id, tc.recorded, got, tc.want)
			}
		})
	}
}
