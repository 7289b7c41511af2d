package changerecord

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/internal/fakeclock"
	"github.com/drawbridge/drawbridge/storage"
)

// day0 is when the first run was created; the second was created a day later.
var day0 = time.Date(2026, 3, 1, 22, 0, 0, 0, time.UTC)

// twoRuns is a real state file with two runs: run 1 on prod-eu went the whole way (an
// approval, three steps with two commands, a watch reading) under CHG0000042; run 2 on
// prod-us, created a day later, has not ended. Each has its audit events.
func twoRuns(t *testing.T) *storage.Store {
	t.Helper()
	ctx := t.Context()
	clock := fakeclock.New(day0)
	st, err := storage.Open(filepath.Join(t.TempDir(), "state.db"), storage.Options{NoSync: true, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })

	r1, err := st.CreateRun(ctx, domain.Run{Cluster: "prod-eu", From: "3.4.0", To: "3.5.0", State: domain.StatePreparing,
		Ticket: "CHG0000042", RequestedBy: "U0AAAAAAA",
		Facts: domain.Facts{Freeze: &domain.Fingerprint{Hash: "fp-before"}, Backup: &domain.Backup{Path: "/backups/prod-eu-1.dump", Size: 4096, SHA256: "ab12"}}},
		storage.AuditEvent{Actor: "U0AAAAAAA", Action: "start", Detail: `upgrade prod-eu to 3.5.0, "now"`})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	steps := []domain.StepRecord{
		{Index: int(domain.StepEvaluate), Name: "evaluate", Status: domain.StepSucceeded, Attempt: 1, StartedAt: clock.Now(), EndedAt: clock.Now(),
			Facts: domain.StepFacts{Evaluation: &domain.Evaluation{Migrations: 3, NewPlugins: []string{"ai-proxy"}, Force: true}}},
		{Index: int(domain.StepMigrationsFinish), Name: "migrations_finish", Status: domain.StepSucceeded, Attempt: 2, StartedAt: clock.Now().Add(time.Minute),
			Facts: domain.StepFacts{Fingerprint: "fp-after", Runs: []domain.CommandRun{
				{Action: "migrations_finish", Node: "kong-eu-1", Argv: []string{"kong", "migrations", "finish"}, Exit: 1, Started: clock.Now().Add(time.Minute), Duration: 1500 * time.Millisecond},
				{Action: "migrations_finish", Node: "kong-eu-1", Argv: []string{"kong", "migrations", "finish"}, Exit: 0, Started: clock.Now().Add(2 * time.Minute), Duration: 2 * time.Second},
			}}},
		{Index: int(domain.StepWatch), Name: "watch", Status: domain.StepSucceeded, Attempt: 1, StartedAt: clock.Now().Add(3 * time.Minute),
			Facts: domain.StepFacts{Readings: []domain.Reading{{Check: "error_rate", Result: "pass", Value: "0.1%", Threshold: "1%"}}}},
	}
	for _, s := range steps {
		if err := st.PutStep(ctx, r1.ID, s, storage.AuditEvent{Actor: "drawbridge", Action: "step_succeeded", Detail: s.Name}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.AddApproval(ctx, r1.ID, domain.Approval{UserID: "U0BBBBBBB", Decision: domain.DecisionApprove, EligibleAs: "S0APPROVERS"},
		storage.AuditEvent{Actor: "U0BBBBBBB", Action: "approve"}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	if _, err := st.UpdateRun(ctx, r1.ID, func(r *domain.Run) error { r.State = domain.StateSucceeded; r.Reason = "watched for 30m"; return nil },
		storage.AuditEvent{Actor: "drawbridge", Action: "succeeded"}); err != nil {
		t.Fatal(err)
	}

	clock.Set(day0.Add(24 * time.Hour))
	if _, err := st.CreateRun(ctx, domain.Run{Cluster: "prod-us", To: "3.6.0", State: domain.StatePreparing, RequestedBy: "scheduler"},
		storage.AuditEvent{Actor: "scheduler", Action: "start"}); err != nil {
		t.Fatal(err)
	}
	return st
}

// shape is the kinds of lines, per run, in order.
func shape(lines []Line) []string {
	var out []string
	for _, l := range lines {
		out = append(out, l.Run.String()+":"+l.Kind)
	}
	return out
}

var (
	run1Shape = []string{"1:run", "1:approval", "1:step", "1:step", "1:step", "1:command", "1:command",
		"1:event", "1:event", "1:event", "1:event", "1:event", "1:event"}
	run2Shape = []string{"2:run", "2:event"}
)

// TestLines: the filter selects one run, every run, or the runs created since a time
// (inclusive); each run's lines come in the documented order.
func TestLines(t *testing.T) {
	t.Parallel()
	st := twoRuns(t)
	cases := []struct {
		name string
		f    Filter
		want []string
	}{
		{"every run, oldest first", Filter{}, slices.Concat(run1Shape, run2Shape)},
		{"one run", Filter{Run: 1}, run1Shape},
		{"the other run", Filter{Run: 2}, run2Shape},
		{"since before both", Filter{Since: day0.Add(-time.Hour)}, slices.Concat(run1Shape, run2Shape)},
		{"since between them", Filter{Since: day0.Add(time.Hour)}, run2Shape},
		{"since the second's creation", Filter{Since: day0.Add(24 * time.Hour)}, run2Shape},
		{"since after both", Filter{Since: day0.Add(25 * time.Hour)}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lines, err := Lines(t.Context(), st, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if got := shape(lines); !slices.Equal(got, tc.want) {
				t.Errorf("lines\n got %q\nwant %q", got, tc.want)
			}
			for _, l := range lines {
				if l.Schema != Schema {
					t.Errorf("line %s:%s has schema %q", l.Run, l.Kind, l.Schema)
				}
			}
		})
	}
	if _, err := Lines(t.Context(), st, Filter{Run: 9}); err == nil {
		t.Error("Lines of a run that does not exist: no error")
	}
}

// TestLinesSummary: the run line gathers what the steps, approvals and events found.
func TestLinesSummary(t *testing.T) {
	t.Parallel()
	st := twoRuns(t)
	lines, err := Lines(t.Context(), st, Filter{Run: 1})
	if err != nil {
		t.Fatal(err)
	}
	sum := lines[0]
	last := lines[len(lines)-1].Event
	checks := []struct {
		what      string
		got, want any
	}{
		{"cluster", sum.Cluster, "prod-eu"},
		{"ticket", sum.Ticket, "CHG0000042"},
		{"requested by", sum.RequestedBy, "U0AAAAAAA"},
		{"from → to", sum.From + " → " + sum.To, "3.4.0 → 3.5.0"},
		{"state", sum.State, "succeeded"},
		{"ended at", sum.EndedAt, day0.Add(61 * time.Minute)},
		{"at", sum.At, day0},
		{"fingerprint before", sum.FingerprintX, "fp-before"},
		{"fingerprint after", sum.FingerprintY, "fp-after"},
		{"migrations", sum.Plan.Migrations, 3},
		{"new plugins", strings.Join(sum.Plan.NewPlugins, ","), "ai-proxy"},
		{"force", sum.Plan.Force, true},
		{"rehearsed", sum.Plan.Rehearsed, false},
		{"backup", *sum.Backup, domain.Backup{Path: "/backups/prod-eu-1.dump", Size: 4096, SHA256: "ab12"}},
		{"readings", len(sum.Readings), 1},
		{"approved by", strings.Join(sum.ApprovedBy, ","), "U0BBBBBBB"},
		{"audit head", sum.AuditHead, last.Hash},
		{"eligible as", lines[1].EligibleAs, "S0APPROVERS"},
		{"command step", lines[5].Extra["step"], "migrations_finish"},
		{"command exit", lines[5].Command.Exit, 1},
		{"step place", lines[2].Step.Place, domain.Position(int(domain.StepEvaluate))},
		{"step commands", lines[3].Step.Commands, 2},
		{"event ticket", last.Ticket, "CHG0000042"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if last.Hash == "" || last.Hash != last.ComputeHash() {
		t.Errorf("last event's hash %q does not verify", last.Hash)
	}
	lines, err = Lines(t.Context(), st, Filter{Run: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !lines[0].EndedAt.IsZero() || lines[0].Ticket != "" {
		t.Errorf("run 2 has not ended and has no ticket: ended %v, ticket %q", lines[0].EndedAt, lines[0].Ticket)
	}
}

// TestWriteJSONL: one JSON object per line, with the documented field names, that reads back
// as the line it was written from; fields that do not apply are left out.
func TestWriteJSONL(t *testing.T) {
	t.Parallel()
	st := twoRuns(t)
	lines, err := Lines(t.Context(), st, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteJSONL(&buf, lines); err != nil {
		t.Fatal(err)
	}
	out := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(out) != len(lines) {
		t.Fatalf("%d lines written for %d record lines:\n%s", len(out), len(lines), buf.String())
	}
	for i, text := range out {
		var back Line
		if err := json.Unmarshal([]byte(text), &back); err != nil {
			t.Fatalf("line %d %q: %v", i, text, err)
		}
		again, _ := json.Marshal(back)
		want, _ := json.Marshal(lines[i])
		if !bytes.Equal(again, want) {
			t.Errorf("line %d reads back as\n%s\nwant\n%s", i, again, want)
		}
	}
	// The names people's tools read (docs/audit-export.md), by kind.
	cases := []struct {
		line    int
		has     []string
		hasNot  []string
		inner   string // an object whose keys are checked too
		innerHs []string
	}{
		{0, []string{"schema", "kind", "run", "at", "cluster", "ticket", "requested_by", "from", "to", "state", "reason", "ended_at",
			"plan", "fingerprint_before", "fingerprint_after", "backup", "watch_readings", "approved_by", "audit_head"},
			[]string{"rejected_by", "chain", "downtime_measured", "fingerprint_after_rollback", "rehearsal"},
			"plan", []string{"migrations", "new_plugins", "force", "rehearsed"}},
		{1, []string{"approval", "eligible_as"}, []string{"step", "command"}, "approval", []string{"user_id", "decision", "at", "eligible_as"}},
		{2, []string{"step"}, []string{"approval"}, "step", []string{"index", "place", "name", "status", "attempt", "started", "ended", "commands"}},
		{5, []string{"command", "extra"}, nil, "command", []string{"action", "node", "argv", "exit", "started", "duration"}},
		{7, []string{"event"}, nil, "event", []string{"seq", "at", "run", "cluster", "ticket", "actor", "action", "detail", "hash"}},
		{8, []string{"event"}, nil, "event", []string{"prev"}},
		{len(run1Shape), []string{"requested_by"}, []string{"ticket", "ended_at", "from", "approved_by"}, "", nil},
	}
	for _, c := range cases {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(out[c.line]), &m); err != nil {
			t.Fatal(err)
		}
		for _, k := range c.has {
			if _, ok := m[k]; !ok {
				t.Errorf("line %d lacks %q: %s", c.line, k, out[c.line])
			}
		}
		for _, k := range c.hasNot {
			if _, ok := m[k]; ok {
				t.Errorf("line %d has %q, which does not apply: %s", c.line, k, out[c.line])
			}
		}
		if c.inner == "" {
			continue
		}
		var inner map[string]json.RawMessage
		if err := json.Unmarshal(m[c.inner], &inner); err != nil {
			t.Fatalf("line %d %s: %v", c.line, c.inner, err)
		}
		for _, k := range c.innerHs {
			if _, ok := inner[k]; !ok {
				t.Errorf("line %d: %s lacks %q: %s", c.line, c.inner, k, m[c.inner])
			}
		}
	}
	if !strings.Contains(out[7], `"detail":"upgrade prod-eu to 3.5.0, \"now\""`) {
		t.Errorf("event detail is not written as it was recorded: %s", out[7])
	}
}

// TestWriteCSV: the documented header, then one row per line, flattened by kind; a detail with
// commas and quotes survives.
func TestWriteCSV(t *testing.T) {
	t.Parallel()
	st := twoRuns(t)
	lines, err := Lines(t.Context(), st, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, lines); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("%v:\n%s", err, buf.String())
	}
	header := []string{"schema", "kind", "run", "at", "cluster", "ticket", "who", "what", "detail", "hash"}
	if !slices.Equal(rows[0], header) {
		t.Errorf("header %q, want %q", rows[0], header)
	}
	if len(rows) != len(lines)+1 {
		t.Fatalf("%d rows for %d lines", len(rows)-1, len(lines))
	}
	head := lines[0].AuditHead
	firstEvent := lines[7].Event
	cases := []struct {
		name string
		row  int
		want []string
	}{
		{"run", 1, []string{Schema, "run", "1", day0.Format(time.RFC3339Nano), "prod-eu", "CHG0000042", "U0AAAAAAA", "3.4.0 → 3.5.0",
			"state succeeded; watched for 30m", head}},
		{"approval", 2, []string{Schema, "approval", "1", lines[1].At.Format(time.RFC3339Nano), "", "", "U0BBBBBBB", "approve", "eligible as S0APPROVERS", ""}},
		{"step", 4, []string{Schema, "step", "1", lines[3].At.Format(time.RFC3339Nano), "", "", "", "migrations_finish", "succeeded (attempt 2) ", ""}},
		{"command", 6, []string{Schema, "command", "1", lines[5].At.Format(time.RFC3339Nano), "", "", "kong-eu-1", "migrations_finish",
			"kong migrations finish; exit 1; 1500 ms", ""}},
		{"event", 8, []string{Schema, "event", "1", firstEvent.At.Format(time.RFC3339Nano), "prod-eu", "CHG0000042", "U0AAAAAAA", "start",
			`upgrade prod-eu to 3.5.0, "now"`, firstEvent.Hash}},
		{"the other run", len(run1Shape) + 1, []string{Schema, "run", "2", day0.Add(24 * time.Hour).Format(time.RFC3339Nano), "prod-us", "", "scheduler", " → 3.6.0",
			"state preparing; ", lines[len(run1Shape)+1].Event.Hash}},
		{"its event", len(run1Shape) + 2, []string{Schema, "event", "2", day0.Add(24 * time.Hour).Format(time.RFC3339Nano), "prod-us", "", "scheduler", "start",
			"", lines[len(run1Shape)+1].Event.Hash}},
	}
	for _, c := range cases {
		if !slices.Equal(rows[c.row], c.want) {
			t.Errorf("%s row\n got %q\nwant %q", c.name, rows[c.row], c.want)
		}
	}
	for i, r := range rows[1:] {
		if r[1] != lines[i].Kind || r[2] != lines[i].Run.String() {
			t.Errorf("row %d is %s of run %s; the line is %s of run %s", i+1, r[1], r[2], lines[i].Kind, lines[i].Run)
		}
	}
}
