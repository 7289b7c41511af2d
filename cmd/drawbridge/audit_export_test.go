package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/changerecord"
	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/internal/fakeclock"
	"github.com/drawbridge/drawbridge/storage"
)

// exportedRun is a run written to the state file and its audit events as stored.
type exportedRun struct {
	run    domain.Run
	events []storage.AuditEvent
}

// writeTwoRuns stores a run created on 2026-01-10 (CHG0000042, a detail with a comma and
// quotes) and one created on 2026-02-05 (CHG0000077), both ended so that serve resumes nothing.
func writeTwoRuns(t *testing.T, state string) []exportedRun {
	t.Helper()
	ctx := t.Context()
	clock := fakeclock.New(time.Date(2026, 1, 10, 22, 0, 0, 0, time.UTC))
	st, err := storage.Open(state, storage.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out []exportedRun
	for _, r := range []struct {
		created time.Time
		run     domain.Run
		detail  string
	}{
		{time.Date(2026, 1, 10, 22, 0, 0, 0, time.UTC), domain.Run{Cluster: "prod-eu", From: "3.4.0", To: "3.5.0", Ticket: "CHG0000042", RequestedBy: "U0AAAAAAA"},
			`upgrade prod-eu to 3.5.0, "after the freeze"`},
		{time.Date(2026, 2, 5, 21, 30, 0, 0, time.UTC), domain.Run{Cluster: "prod-eu", From: "3.5.0", To: "3.6.0", Ticket: "CHG0000077", RequestedBy: "U0BBBBBBB"},
			"upgrade prod-eu to 3.6.0"},
	} {
		clock.Set(r.created)
		r.run.State = domain.StatePreparing
		run, err := st.CreateRun(ctx, r.run, storage.AuditEvent{Actor: r.run.RequestedBy, Action: "start", Detail: r.detail})
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute)
		if _, err := st.AppendAudit(ctx, storage.AuditEvent{Run: run.ID, Actor: "drawbridge", Action: "step_started", Detail: "preflight"}); err != nil {
			t.Fatal(err)
		}
		run, err = st.UpdateRun(ctx, run.ID, func(r *domain.Run) error { r.State = domain.StateAborted; return nil },
			storage.AuditEvent{Actor: r.run.RequestedBy, Action: "abort"})
		if err != nil {
			t.Fatal(err)
		}
		events, err := st.Audit(ctx, storage.AuditFilter{Run: run.ID})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, exportedRun{run, events})
	}
	return out
}

// csvRows are the rows of one run as the CSV export writes them: its summary, then its events.
func csvRows(r exportedRun) [][]string {
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	head := r.events[len(r.events)-1].Hash
	rows := [][]string{{changerecord.Schema, "run", r.run.ID.String(), ts(r.run.CreatedAt), r.run.Cluster, r.run.Ticket, r.run.RequestedBy,
		r.run.From + " → " + r.run.To, "state aborted; ", head}}
	for _, e := range r.events {
		rows = append(rows, []string{changerecord.Schema, "event", r.run.ID.String(), ts(e.At), e.Cluster, e.Ticket, e.Actor, e.Action, e.Detail, e.Hash})
	}
	return rows
}

// jsonlRuns are the runs the JSON Lines export has lines of, in order, each once.
func jsonlRuns(t *testing.T, out string) []domain.RunID {
	t.Helper()
	var runs []domain.RunID
	for l := range strings.Lines(out) {
		var line changerecord.Line
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if !slices.Contains(runs, line.Run) {
			runs = append(runs, line.Run)
		}
	}
	return runs
}

// TestAuditExportFormatAndSince: "drawbridge audit export --format csv" writes the
// documented columns (docs/audit-export.md) and a row per run and event, as stored; --since
// leaves out the runs (and so their events) created before the date, the same read from the
// file or through serve; a date that is not one is refused with a clear error.
func TestAuditExportFormatAndSince(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfgPath := writeAuditConfig(t, dir)
	runs := writeTwoRuns(t, filepath.Join(dir, "state", "drawbridge.db"))
	header := []string{"schema", "kind", "run", "at", "cluster", "ticket", "who", "what", "detail", "hash"}
	both := slices.Concat([][]string{header}, csvRows(runs[0]), csvRows(runs[1]))
	second := slices.Concat([][]string{header}, csvRows(runs[1]))

	export := func(t *testing.T, args ...string) (int, string, string) {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), binary, append([]string{"audit", "export", "--config", cfgPath}, args...)...)
		cmd.Env = append(os.Environ(), serveEnv...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
	}
	exportCSV := func(t *testing.T, args ...string) [][]string {
		t.Helper()
		code, out, errs := export(t, append([]string{"--format", "csv"}, args...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatalf("%v:\n%s", err, out)
		}
		return rows
	}
	csvCases := []struct {
		name string
		args []string
		want [][]string
	}{
		{"every run", nil, both},
		{"one run", []string{"--run", "1"}, slices.Concat([][]string{header}, csvRows(runs[0]))},
		{"since a date between them", []string{"--since", "2026-02-01"}, second},
		{"since the day the second began", []string{"--since", "2026-02-05"}, second},
		{"since the second's creation, RFC 3339", []string{"--since", "2026-02-05T22:30:00+01:00"}, second},
		{"since a second later", []string{"--since", "2026-02-05T21:30:01Z"}, [][]string{header}},
		{"since the day the first began", []string{"--since", "2026-01-10"}, both},
	}
	for _, tc := range csvCases {
		t.Run("csv "+tc.name, func(t *testing.T) {
			rows := exportCSV(t, tc.args...)
			if len(rows) != len(tc.want) {
				t.Fatalf("%d rows, want %d:\n%q", len(rows), len(tc.want), rows)
			}
			for i := range rows {
				if !slices.Equal(rows[i], tc.want[i]) {
					t.Errorf("row %d\n got %q\nwant %q", i, rows[i], tc.want[i])
				}
			}
		})
	}

	t.Run("jsonl since", func(t *testing.T) {
		code, out, errs := export(t, "--since", "2026-02-01")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		if got := jsonlRuns(t, out); !slices.Equal(got, []domain.RunID{runs[1].run.ID}) {
			t.Errorf("lines of runs %v, want only run %s:\n%s", got, runs[1].run.ID, out)
		}
		if strings.Count(out, `"kind":"event"`) != len(runs[1].events) {
			t.Errorf("want the %d events of run %s:\n%s", len(runs[1].events), runs[1].run.ID, out)
		}
	})

	refused := []struct {
		name, flag, value, says string
	}{
		{"a month that is not one", "--since", "2026-13-01", `drawbridge audit: --since "2026-13-01": want a date (2006-01-02) or an RFC 3339 time`},
		{"words", "--since", "last week", `drawbridge audit: --since "last week": want a date (2006-01-02) or an RFC 3339 time`},
		{"another order", "--since", "01/02/2026", `drawbridge audit: --since "01/02/2026": want a date (2006-01-02) or an RFC 3339 time`},
		{"a time without its zone", "--since", "2026-02-01T10:00:00", `drawbridge audit: --since "2026-02-01T10:00:00": want a date (2006-01-02) or an RFC 3339 time`},
		{"a format", "--format", "xml", `drawbridge audit: --format "xml": want jsonl or csv`},
	}
	for _, tc := range refused {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			code, out, errs := export(t, tc.flag, tc.value)
			if code != exitUsage || out != "" || strings.TrimSpace(errs) != tc.says {
				t.Errorf("exit %d (want %d), %d bytes exported, stderr %q; want %q", code, exitUsage, len(out), errs, tc.says)
			}
		})
	}

	// serve holds the state file: the same export comes through its /audit/export.
	srv := startServe(t, cfgPath)
	rows := exportCSV(t, "--since", "2026-02-01")
	if !slices.EqualFunc(rows, second, slices.Equal) {
		t.Errorf("csv since through serve:\n got %q\nwant %q", rows, second)
	}
	if rows := exportCSV(t, "--since", "2026-02-05T21:30:01Z"); len(rows) != 1 {
		t.Errorf("csv since after both through serve: %q", rows)
	}
	if code, _, errs := export(t, "--since", "2026-13-01"); code != exitUsage || !strings.Contains(errs, "want a date") {
		t.Errorf("a bad date with serve running: exit %d, %s", code, errs)
	}
	_ = srv.cmd.Process.Signal(os.Interrupt)
	<-srv.done
}
