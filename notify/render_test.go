package notify

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/storage"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var t0 = time.Date(2024, 11, 25, 21, 58, 0, 0, time.UTC)

func at(min, sec int) time.Time {
	return t0.Add(time.Duration(min)*time.Minute + time.Duration(sec)*time.Second)
}

func testCluster(nodes int) *config.Cluster {
	c := &config.Cluster{Name: "prod-eu", ChangeTicket: config.ChangeTicket{Required: true, URL: "https://itsm.example.com/change/{{.Ticket}}"}}
	for i := range nodes {
		c.Nodes = append(c.Nodes, config.Node{Name: fmt.Sprintf("kong-%d", i+1)})
	}
	return c
}

func done(i int, start, end time.Time) domain.StepRecord {
	return domain.StepRecord{Index: i, Name: domain.StepName(i), Status: domain.StepSucceeded, Attempt: 1, StartedAt: start, EndedAt: end}
}

func running(i int, start time.Time) domain.StepRecord {
	return domain.StepRecord{Index: i, Name: domain.StepName(i), Status: domain.StepRunning, Attempt: 1, StartedAt: start}
}

func failed(i int, start, end time.Time, err string) domain.StepRecord {
	r := done(i, start, end)
	r.Status, r.Error = domain.StepFailed, err
	return r
}

// forward returns steps 1…n succeeded, a few seconds each, step 5 skipped.
// forward is the forward steps done, in their order, through step n.
func forward(n int) []domain.StepRecord {
	var out []domain.StepRecord
	for p, d := range domain.ForwardSteps {
		i := int(d.ID)
		r := done(i, at(0, p*10), at(0, p*10+4))
		switch d.ID {
		case domain.StepStage:
			r.Status, r.StartedAt, r.EndedAt = domain.StepSkipped, time.Time{}, time.Time{}
		case domain.StepRehearsal:
			r.Facts = domain.StepFacts{Rehearsal: rehearsal, Prediction: prediction, Commands: rehearsal.Up + rehearsal.Finish}
		}
		out = append(out, r)
		if i == n {
			break
		}
	}
	return out
}

var (
	rehearsal  = &domain.Rehearsal{Database: "kong_rehearsal_12", Restore: 8200 * time.Millisecond, Up: 21400 * time.Millisecond, Finish: 6100 * time.Millisecond}
	prediction = &domain.Prediction{DowntimeParts: domain.DowntimeParts{Stop: 3 * time.Second, Install: 4 * time.Second,
		Up: 21400 * time.Millisecond, Finish: 6100 * time.Millisecond, Start: 5 * time.Second, Overhead: 1500 * time.Millisecond},
		Migrations: "rehearsal", Nodes: "earlier runs", Runs: 3}
	measuredParts = &domain.DowntimeParts{Stop: 2900 * time.Millisecond, Install: 4100 * time.Millisecond, Up: 22 * time.Second,
		Finish: 6300 * time.Millisecond, Start: 5400 * time.Millisecond, Overhead: 550 * time.Millisecond}
)

func baseRun(state domain.RunState) domain.Run {
	return domain.Run{
		ID: 12, Cluster: "prod-eu", From: "3.4.3", To: "3.9.1", State: state, RequestedBy: "U0OPERATOR",
		CreatedAt: t0, UpdatedAt: at(7, 0), Revision: 17,
		Facts: domain.Facts{Backup: &domain.Backup{
			Path: "/var/lib/drawbridge/backups/prod-eu/12.dump", Size: 48213504,
			SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		}},
	}
}

var measured = domain.Measurements{Downtime: 41250 * time.Millisecond, Commands: 40700 * time.Millisecond, Overhead: 550 * time.Millisecond, Parts: measuredParts}

// views returns a realistic view of a run in every state.
func views() map[string]RunView {
	mk := func(state domain.RunState, edit func(*domain.Status)) RunView {
		st := domain.Status{Run: baseRun(state)}
		edit(&st)
		return RunView{Status: st, Cluster: testCluster(3), Approvers: []string{"U0ALICE", "W0BOBBY42", "S0CHANGE"}, Required: 2}
	}
	downtime := func(st *domain.Status) { st.Run.DowntimeStart = at(2, 0) }
	return map[string]RunView{
		"scheduled": mk(domain.StateScheduled, func(st *domain.Status) {
			st.Run.Window, st.Run.ScheduledFor, st.Run.From = "saturday-night", time.Date(2024, 11, 30, 22, 0, 0, 0, time.UTC), ""
			st.Run.RequestedBy, st.Run.Facts = "scheduler", domain.Facts{}
		}),
		"preparing": mk(domain.StatePreparing, func(st *domain.Status) {
			st.Steps = append(forward(2), running(3, at(0, 30)))
			st.Run.Facts.Backup = nil
		}),
		"awaiting_approval": mk(domain.StateAwaitingApproval, func(st *domain.Status) {
			st.Steps = append(forward(int(domain.StepRehearsal)), running(6, at(1, 0)))
			st.Run.Facts.Rehearsal, st.Run.Facts.Prediction = rehearsal, prediction
			st.Run.Ticket = "CHG0012345"
			st.Approvals = []domain.Approval{{UserID: "W0BOBBY42", Decision: domain.DecisionApprove, At: at(5, 0)}}
			st.Run.Facts.Warnings = []string{"3.4.3 → 3.9.1 is not a path Kong guarantees (guaranteed hops: 3.4 → 3.9)"}
		}),
		// A cluster without a rehearsal: its gate says so, and where the prediction comes
		// from (one earlier run; none, the stated defaults).
		"awaiting_approval_not_rehearsed": mk(domain.StateAwaitingApproval, func(st *domain.Status) {
			notRehearsed(st, &domain.Prediction{DowntimeParts: *measuredParts, Migrations: "earlier runs", Nodes: "earlier runs", Runs: 1})
		}),
		"awaiting_approval_not_rehearsed_defaults": mk(domain.StateAwaitingApproval, func(st *domain.Status) {
			notRehearsed(st, &domain.Prediction{DowntimeParts: domain.DowntimeParts{Stop: 10 * time.Second, Install: 30 * time.Second,
				Up: 30 * time.Second, Finish: 10 * time.Second, Start: 20 * time.Second, Overhead: 5 * time.Second}, Migrations: "default", Nodes: "default"})
		}),
		"rejected": mk(domain.StateRejected, func(st *domain.Status) {
			st.Steps = append(forward(int(domain.StepRehearsal)), failed(6, at(1, 0), at(6, 0), "rejected by W0BOBBY42: not during the sale"))
			st.Approvals = []domain.Approval{{UserID: "W0BOBBY42", Decision: domain.DecisionReject, Reason: "not during the sale", At: at(6, 0)}}
			st.Run.Reason = "rejected by W0BOBBY42: not during the sale; freeze lifted"
		}),
		"expired": mk(domain.StateExpired, func(st *domain.Status) {
			st.Steps = append(forward(int(domain.StepRehearsal)), failed(6, at(1, 0), at(6, 0), "the approval timed out"))
			st.Run.Reason, st.Run.Window = "approval timed out after 2h; freeze lifted", "saturday-night"
		}),
		"stopping": mk(domain.StateStopping, func(st *domain.Status) {
			downtime(st)
			st.Steps = append(forward(6), running(7, at(2, 0)))
		}),
		"migrating": mk(domain.StateMigrating, func(st *domain.Status) {
			downtime(st)
			st.Steps = append(forward(7), running(8, at(2, 10)))
		}),
		"migrating_chain": mk(domain.StateMigrating, func(st *domain.Status) {
			downtime(st)
			st.Run.From, st.Run.To, st.Run.Chain = "3.4.2", "3.7.1", true
			st.Run.Facts.Hops, st.Run.Facts.HopsDone = []string{"3.5.0", "3.6.1", "3.7.1"}, 1
			st.Steps = append(forward(7), running(8, at(2, 10)))
		}),
		"starting": mk(domain.StateStarting, func(st *domain.Status) {
			downtime(st)
			st.Steps = append(forward(9), running(10, at(2, 30)))
		}),
		"watching": mk(domain.StateWatching, func(st *domain.Status) {
			downtime(st)
			st.Run.DowntimeEnd = at(2, 41)
			st.Run.Facts.Measured = measured
			st.Steps = append(forward(10), running(11, at(2, 45)))
		}),
		"watching_legacy": mk(domain.StateWatching, func(st *domain.Status) {
			// A run of an earlier release, which had no rehearsal step: it shows as skipped.
			downtime(st)
			st.Run.DowntimeEnd = at(2, 41)
			for _, r := range forward(10) {
				if domain.StepID(r.Index) != domain.StepRehearsal {
					st.Steps = append(st.Steps, r)
				}
			}
			st.Steps = append(st.Steps, running(11, at(2, 45)))
		}),
		"awaiting_decommission": mk(domain.StateAwaitingDecommission, func(st *domain.Status) {
			downtime(st)
			st.Run.DowntimeEnd = at(2, 41)
			st.Run.Facts.Measured = measured
			st.Steps = forward(11)
		}),
		"succeeded": mk(domain.StateSucceeded, func(st *domain.Status) {
			downtime(st)
			st.Run.DowntimeEnd = at(2, 41)
			st.Run.Facts.Measured = measured
			st.Run.Facts.Prediction = prediction
			st.Run.Ticket = "CHG0012345"
			st.Steps = forward(12)
			st.Run.Reason = "prod-eu upgraded from 3.4.3 to 3.9.1; downtime 41.250 s (commands 40.700 s, drawbridge 0.550 s)"
		}),
		"failed_before_downtime": mk(domain.StateFailedBeforeDowntime, func(st *domain.Status) {
			st.Steps = append(forward(2), failed(3, at(0, 30), at(0, 42), "pg_dump: error: connection to server at \"db\" failed: FATAL: password authentication failed"))
			st.Run.Facts.Backup = nil
			st.Run.Reason = "backup failed; freeze lifted"
		}),
		"needs_attention": mk(domain.StateNeedsAttention, func(st *domain.Status) {
			downtime(st)
			st.Steps = append(forward(7), failed(8, at(2, 10), at(3, 0), "interrupted by a restart; schema_meta does not show its effect"))
			st.Run.Reason = "migrations up was interrupted and cannot simply be repeated"
		}),
		"needs_attention_before_downtime": mk(domain.StateNeedsAttention, func(st *domain.Status) {
			st.Steps = append(forward(4), failed(5, at(0, 50), at(1, 0), "interrupted"))
			st.Run.Reason = "stage was interrupted"
		}),
		"rolling_back": mk(domain.StateRollingBack, func(st *domain.Status) {
			downtime(st)
			st.Steps = append(forward(10), failed(11, at(2, 45), at(5, 0), "watch breach: 5xx rate is 0.12 (threshold 0.05)"),
				done(101, at(5, 1), at(5, 9)), running(102, at(5, 10)))
			st.Run.Reason = "watch breach: 5xx rate is 0.12 (threshold 0.05)"
		}),
		"rolled_back": mk(domain.StateRolledBack, func(st *domain.Status) {
			downtime(st)
			st.Run.DowntimeEnd = at(2, 41) // Y answered; the rollback's own outage is measured apart
			st.Run.Facts.Measured = measured
			st.Run.Facts.Measured.RollbackDowntime = 59 * time.Second
			st.Steps = append(forward(10), failed(11, at(2, 45), at(5, 0), "watch breach: 5xx rate is 0.12 (threshold 0.05)"),
				done(101, at(5, 1), at(5, 9)), done(102, at(5, 10), at(5, 40)), done(103, at(5, 41), at(6, 0)))
			st.Run.Reason = "prod-eu rolled back to 3.4.3; downtime 41.250 s (commands 40.700 s, drawbridge 0.550 s) and 59.000 s more during the rollback; watch breach: 5xx rate is 0.12 (threshold 0.05)"
		}),
		"rollback_failed": mk(domain.StateRollbackFailed, func(st *domain.Status) {
			downtime(st)
			st.Steps = append(forward(10), failed(11, at(2, 45), at(5, 0), "watch breach"),
				done(101, at(5, 1), at(5, 9)), failed(102, at(5, 10), at(5, 40), "pg_restore: error: could not execute query"))
			st.Run.Reason = "restore failed: pg_restore: error: could not execute query"
		}),
		"aborted": mk(domain.StateAborted, func(st *domain.Status) {
			st.Steps = append(forward(2), failed(3, at(0, 30), at(0, 35), "ended: aborted by U0OPERATOR"))
			st.Run.Reason = "aborted by U0OPERATOR; freeze lifted"
		}),
	}
}

// notRehearsed makes st a run at the gate of a cluster without a rehearsal: its rehearsal
// step skipped, with prediction p.
func notRehearsed(st *domain.Status, p *domain.Prediction) {
	st.Steps = append(forward(int(domain.StepRehearsal)), running(6, at(1, 0)))
	for i, r := range st.Steps {
		if domain.StepID(r.Index) == domain.StepRehearsal {
			st.Steps[i].Status, st.Steps[i].Facts = domain.StepSkipped, domain.StepFacts{Prediction: p}
		}
	}
	st.Run.Facts.Rehearsal, st.Run.Facts.Prediction = nil, p
}

// golden compares m, as JSON, with testdata/name.golden.json (rewritten
// with -update), after checking every Block Kit limit.
func golden(t *testing.T, name string, m Message) {
	t.Helper()
	mustFit(t, m)
	got, err := json.MarshalIndent(struct {
		Text   string       `json:"text"`
		Blocks slack.Blocks `json:"blocks"`
	}{m.Text, slack.Blocks{BlockSet: m.Blocks}}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./notify -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the rendered message (go test ./notify -update rewrites it):\n%s", path, firstDiff(string(want), string(got)))
	}
}

func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(wl), len(gl)) {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\n  want %s\n  got  %s", i+1, w, g)
		}
	}
	return "(no line differs)"
}

// mustFit fails the test if m breaks any Block Kit limit, and checks that its
// blocks survive a JSON round trip through slack-go (as the outbox stores them).
func mustFit(t *testing.T, m Message) {
	t.Helper()
	if err := CheckLimits(m); err != nil {
		t.Errorf("message breaks Block Kit limits:\n%v", err)
	}
	raw, err := json.Marshal(slack.Blocks{BlockSet: m.Blocks})
	if err != nil {
		t.Fatalf("marshal blocks: %v", err)
	}
	var back slack.Blocks
	if err := json.Unmarshal(raw, &back); err != nil || len(back.BlockSet) != len(m.Blocks) {
		t.Errorf("blocks do not survive a JSON round trip: %v (%d of %d)", err, len(back.BlockSet), len(m.Blocks))
	}
}

func TestStatusMessageGolden(t *testing.T) {
	for name, v := range views() {
		t.Run(name, func(t *testing.T) { golden(t, "status_"+name, StatusMessage(v)) })
	}
}

func TestEveryStateHasAGoldenFile(t *testing.T) {
	vs := views()
	for _, st := range []domain.RunState{
		domain.StateScheduled, domain.StatePreparing, domain.StateAwaitingApproval, domain.StateRejected,
		domain.StateExpired, domain.StateStopping, domain.StateMigrating, domain.StateStarting,
		domain.StateWatching, domain.StateAwaitingDecommission, domain.StateSucceeded,
		domain.StateFailedBeforeDowntime, domain.StateNeedsAttention, domain.StateRollingBack,
		domain.StateRolledBack, domain.StateRollbackFailed, domain.StateAborted,
	} {
		if v, ok := vs[string(st)]; !ok || v.Status.Run.State != st {
			t.Errorf("no status fixture for state %s", st)
		}
	}
}

// buttons lists a message's buttons as "action_id/style".
func buttons(m Message) []string {
	var out []string
	for _, b := range m.Blocks {
		if a, ok := b.(*slack.ActionBlock); ok {
			for _, e := range a.Elements.ElementSet {
				btn := e.(*slack.ButtonBlockElement)
				s := btn.ActionID
				if btn.Style != "" {
					s += "/" + string(btn.Style)
				}
				out = append(out, s)
			}
		}
	}
	return out
}

func TestStatusButtons(t *testing.T) {
	vs := views()
	tests := []struct {
		fixture string
		want    []string
	}{
		{"scheduled", []string{"abort"}},
		{"preparing", []string{"abort"}},
		{"awaiting_approval", []string{"approve/primary", "reject/danger", "abort"}},
		{"stopping", []string{"rollback/danger"}},
		{"migrating", []string{"rollback/danger"}},
		{"starting", []string{"rollback/danger"}},
		{"watching", []string{"rollback/danger"}},
		{"awaiting_decommission", []string{"decommission/primary", "rollback/danger"}},
		{"needs_attention", []string{"resume", "rollback/danger"}},
		{"needs_attention_before_downtime", []string{"resume", "abort"}},
		{"rollback_failed", []string{"rollback/danger"}},
		{"rolling_back", nil},
		{"rejected", nil},
		{"expired", nil},
		{"succeeded", nil},
		{"failed_before_downtime", nil},
		{"rolled_back", nil},
		{"aborted", nil},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			v := vs[tt.fixture]
			m := StatusMessage(v)
			if got := buttons(m); !slices.Equal(got, tt.want) {
				t.Errorf("buttons = %v, want %v", got, tt.want)
			}
			for _, b := range m.Blocks {
				a, ok := b.(*slack.ActionBlock)
				if !ok {
					continue
				}
				for _, e := range a.Elements.ElementSet {
					btn := e.(*slack.ButtonBlockElement)
					if btn.Value != "run=12;rev=17" {
						t.Errorf("button %s value = %q, want run=12;rev=17", btn.ActionID, btn.Value)
					}
					if btn.ActionID == ActionRollback {
						c := btn.Confirm
						if c == nil || c.Confirm.Text != "Roll back" || c.Deny.Text != "Cancel" || c.Style != slack.StyleDanger ||
							!strings.Contains(c.Text.Text, "prod-eu") || !strings.Contains(c.Text.Text, "3.4.3") || c.Title.Text == "" {
							t.Errorf("rollback confirm = %+v", c)
						}
					}
				}
			}
		})
	}
}

func TestStatusBlockIDsChangeWithRevision(t *testing.T) {
	v := views()["migrating"]
	a := StatusMessage(v)
	v.Status.Run.Revision++
	b := StatusMessage(v)
	for i := range a.Blocks {
		if a.Blocks[i].ID() == "" || a.Blocks[i].ID() == b.Blocks[i].ID() {
			t.Errorf("block %d id %q is empty or unchanged across revisions", i, a.Blocks[i].ID())
		}
	}
	if got := buttons(b); len(got) != 1 {
		t.Fatalf("buttons = %v", got)
	}
}

func TestGateMentionsApprovers(t *testing.T) {
	m := StatusMessage(views()["awaiting_approval"])
	all := m.Text
	for _, b := range m.Blocks {
		if s, ok := b.(*slack.SectionBlock); ok && s.Text != nil {
			all += "\n" + s.Text.Text
		}
	}
	for _, want := range []string{"<@U0ALICE>", "<@W0BOBBY42>", "<!subteam^S0CHANGE>", "1 of 2 approvals"} {
		if !strings.Contains(all, want) {
			t.Errorf("gate does not show %q", want)
		}
	}
	if !strings.Contains(m.Text, "<!subteam^S0CHANGE>") {
		t.Errorf("fallback text %q does not mention the approvers (no notification)", m.Text)
	}
	// The gate section comes right above the buttons.
	for i, b := range m.Blocks {
		if _, ok := b.(*slack.ActionBlock); ok {
			if s, ok := m.Blocks[i-1].(*slack.SectionBlock); !ok || !strings.Contains(s.Text.Text, "Approval needed") {
				t.Errorf("block above the buttons is %#v, want the gate section", m.Blocks[i-1])
			}
		}
	}
}

func stepFixtures() map[string]struct {
	view RunView
	step domain.StepRecord
} {
	vs := views()
	backup := done(3, at(0, 30), at(0, 42))
	backup.Facts = domain.StepFacts{Backup: &domain.Backup{Path: "/var/lib/drawbridge/backups/prod-eu/12.dump", Size: 48213504,
		SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}, Took: 11912 * time.Millisecond}
	backup.OutputTail = "pg_dump -Fc → /var/lib/drawbridge/backups/prod-eu/12.dump (46.0 MiB, sha256 9f86d081…), verified by reading the whole archive\n"
	evaluate := done(4, at(0, 43), at(0, 44))
	evaluate.Facts = domain.StepFacts{Evaluation: &domain.Evaluation{Migrations: 14, PendingAfterUp: "core.013_340_to_390",
		NewPlugins: []string{"ai-proxy-advanced"}, Force: true, PredictedDowntime: 38 * time.Second,
		BreakingLines: []string{"3.5", "3.6", "3.7", "3.8", "3.9"}}}
	evaluate.OutputTail = "migrations up runs 14 migrations: core…\nbreaking changes in 3.5 (https://docs.konghq.com/…):\n  - <plugin> config & routes\n"
	gate := done(6, at(1, 0), at(6, 0))
	gate.Facts = domain.StepFacts{Gate: &domain.GateCrossing{Crossed: true, ApprovedBy: []string{"W0BOBBY42", "U0ALICE"}}}
	up := failed(8, at(2, 10), at(2, 40), "kong migrations up on kong-1: exit status 1")
	up.Attempt = 2
	up.OutputTail = "$ kong migrations up --v  (migrations_up on kong-1, exit 1, 29.8s)\nmigrating core on database 'kong'...\nError: [PostgreSQL error] failed to run migration '013_340_to_390' up: ERROR:  relation \"ai_proxy\" already exists\n"
	start := done(10, at(2, 30), at(2, 41))
	start.Facts = domain.StepFacts{Commands: 10800 * time.Millisecond,
		Spans: []domain.ActionSpan{{Action: "start", Slowest: 10800 * time.Millisecond, Span: 10900 * time.Millisecond}}}
	start.OutputTail = "$ systemctl start kong  (start on kong-1, exit 0, 10.8s)\ndowntime 41.25s: commands 40.7s, drawbridge 550ms\n"
	watching := vs["watching"]
	huge := done(9, at(2, 20), at(2, 29))
	var tail strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&tail, "%05d migrating plugin_%d & <route> ```\n", i, i)
	}
	huge.OutputTail = tail.String()
	restore := done(102, at(5, 10), at(5, 40))
	restore.Facts = domain.StepFacts{Restore: &domain.Restored{Method: "database", FailedDB: "kong_failed_12"},
		Took: 29500 * time.Millisecond, Fingerprint: "sha256:4e1f…"}
	type fx = struct {
		view RunView
		step domain.StepRecord
	}
	return map[string]fx{
		"backup_succeeded":   {vs["preparing"], backup},
		"evaluate_succeeded": {vs["preparing"], evaluate},
		"gate_crossed":       {vs["stopping"], gate},
		"migrations_failed":  {vs["needs_attention"], up},
		// The engine reports a failed step before it moves the run on: no "Run is now watching".
		"watch_failed":        {watching, failed(11, at(3, 0), at(3, 8), "watch breach: 5xx ratio is 0.132 (threshold max 0.01)")},
		"start_measured":      {watching, start},
		"output_cut":          {vs["migrating"], huge},
		"restore_succeeded":   {vs["rolling_back"], restore},
		"stage_skipped":       {vs["preparing"], forward(5)[4]},
		"rehearsed":           {vs["awaiting_approval"], forward(int(domain.StepRehearsal))[5]},
		"decommission_done":   {vs["succeeded"], done(12, at(7, 0), at(7, 3))},
		"rollback_start_done": {vs["rolled_back"], done(103, at(5, 41), at(6, 0))},
	}
}

func TestStepReplyGolden(t *testing.T) {
	for name, f := range stepFixtures() {
		t.Run(name, func(t *testing.T) { golden(t, "step_"+name, StepReply(f.view, f.step)) })
	}
}

func TestStepReplyOutputCut(t *testing.T) {
	f := stepFixtures()["output_cut"]
	m := StepReply(f.view, f.step)
	var out, note string
	for _, b := range m.Blocks {
		switch b := b.(type) {
		case *slack.SectionBlock:
			if strings.HasSuffix(b.BlockID, "-output") {
				out = b.Text.Text
			}
		case *slack.ContextBlock:
			if strings.HasSuffix(b.BlockID, "-output-note") {
				note = b.ContextElements.Elements[0].(*slack.TextBlockObject).Text
			}
		}
	}
	if !strings.HasSuffix(out, "02999 migrating plugin_2999 &amp; &lt;route&gt; ``\u200b`\n```") {
		t.Errorf("output does not end with the last line, escaped: …%s", out[max(0, len(out)-120):])
	}
	if strings.Contains(out, "00000 migrating") {
		t.Error("output kept its beginning instead of its end")
	}
	if strings.Count(out, "```") != 2 {
		t.Errorf("output has %d code fences, want 2 (backticks in the output must not end the block)", strings.Count(out, "```"))
	}
	if !strings.Contains(note, "runs/12/") || !strings.Contains(note, "state file") {
		t.Errorf("note = %q, want where the whole output is", note)
	}
}

func TestNoticeAndSummaryGolden(t *testing.T) {
	vs := views()
	golden(t, "notice_freeze", NoticeReply(vs["preparing"], "Configuration freeze on prod-eu: do not change routes, services or plugins until the upgrade ends."))
	golden(t, "notice_gate_ping", mrkdwnNotice(vs["awaiting_approval"],
		"Approval needed for run 12 (prod-eu 3.4.3 → 3.9.1): <@U0ALICE>, <@W0BOBBY42>, <!subteam^S0CHANGE> — use the buttons above."))
	golden(t, "summary_succeeded", SummaryReply(vs["succeeded"]))
	golden(t, "summary_rolled_back", SummaryReply(vs["rolled_back"]))
	golden(t, "summary_failed_before_downtime", SummaryReply(vs["failed_before_downtime"]))
}

func TestSummaryHasEveryStepTiming(t *testing.T) {
	v := views()["rolled_back"]
	m := SummaryReply(v)
	var all string
	for _, b := range m.Blocks {
		if s, ok := b.(*slack.SectionBlock); ok && s.Text != nil {
			all += s.Text.Text + "\n"
		}
	}
	for _, r := range v.Status.Steps {
		if !strings.Contains(all, stepTitle(v.Status.Run, r.Index, r.Name)) {
			t.Errorf("summary lacks step %d (%s)", r.Index, r.Name)
		}
	}
	for _, want := range []string{"R3", "rolled back"} {
		if !strings.Contains(all, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	if !strings.Contains(SummaryReply(views()["succeeded"]).Text, "downtime 41.250 s") {
		t.Errorf("summary text = %q, want the measured downtime", SummaryReply(views()["succeeded"]).Text)
	}
}

// User and command text must never become a mention or a link.
func TestRenderersEscapeText(t *testing.T) {
	v := views()["needs_attention"]
	v.Status.Run.Reason = "<!channel> & <https://evil.example|click>"
	st := failed(8, at(2, 10), at(2, 40), "<!here> failed")
	st.OutputTail = "<!everyone>"
	for name, m := range map[string]Message{
		"status": StatusMessage(v), "step": StepReply(v, st), "notice": NoticeReply(v, "<!channel> hi"), "summary": SummaryReply(v),
	} {
		raw, _ := json.Marshal(struct {
			T string
			B slack.Blocks
		}{m.Text, slack.Blocks{BlockSet: m.Blocks}})
		for _, bad := range []string{"<!channel>", "<!here>", "<!everyone>", "<https://evil"} {
			if strings.Contains(string(raw), bad) {
				t.Errorf("%s message contains %q unescaped", name, bad)
			}
		}
	}
}

// An approver's reject reason is quoted, never a mention: not of a user, a group, the
// channel or a link, wherever it shows (the status message and its notification text,
// the checklist, the summary, a notice, `status <run>`, `audit <run>`). The rejecter is
// still mentioned.
func TestRejectReasonMentionsNobody(t *testing.T) {
	reason := "<@U0EVE123> <@W0EVE456|eve> <!subteam^S0EVIL12|@ops> <!here> <!everyone> <!channel> " +
		"<#C0SECRET1|secret> <https://evil.example|click> blocked by U0MALLORY1"
	v := views()["rejected"]
	v.Status.Run.Reason = "rejected by W0BOBBY42: " + reason + "; freeze lifted"
	v.Status.Steps[len(v.Status.Steps)-1].Error = "ended: rejected by W0BOBBY42: " + reason
	v.Status.Approvals[0].Reason = reason
	step := v.Status.Steps[len(v.Status.Steps)-1]
	rendered := map[string]string{
		"status":         messageText(t, StatusMessage(v)),
		"summary":        messageText(t, SummaryReply(v)),
		"step":           messageText(t, StepReply(v, step)),
		"notice":         messageText(t, NoticeReply(v, v.Status.Run.Reason)),
		"status <run>":   RunText(v.Status, func(string) *time.Location { return time.UTC }),
		"audit <run>":    AuditText([]storage.AuditEvent{{At: at(6, 0), Actor: "W0BOBBY42", Action: "reject", Detail: reason}}),
		"decision reply": DecisionText(v, "W0BOBBY42"),
	}
	for name, text := range rendered {
		for _, live := range []string{"<@U0EVE", "<@W0EVE", "<!subteam", "<!here", "<!everyone", "<!channel", "<#C0SECRET", "<https", "<@U0MALLORY1"} {
			if strings.Contains(text, live) {
				t.Errorf("%s: the reason's %q is live:\n%s", name, live, text)
			}
		}
	}
	for _, name := range []string{"status", "summary"} {
		if !strings.Contains(rendered[name], "rejected by <@W0BOBBY42>") {
			t.Errorf("%s does not mention the rejecter:\n%s", name, rendered[name])
		}
	}
}

// messageText is a message's notification text and the text of its blocks, as Slack
// reads them.
func messageText(t *testing.T, m Message) string {
	t.Helper()
	raw, err := json.Marshal(slack.Blocks{BlockSet: m.Blocks})
	if err != nil {
		t.Fatal(err)
	}
	var blocks any
	if err := json.Unmarshal(raw, &blocks); err != nil {
		t.Fatal(err)
	}
	texts := []string{m.Text}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			texts = append(texts, v)
		case []any:
			for _, e := range v {
				walk(e)
			}
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(blocks)
	return strings.Join(texts, "\n")
}

func TestCutHelpers(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"head fits", escapeHead("a<b", 10), "a&lt;b"},
		{"head cut before an entity", escapeHead("abcd<efg", 6), "abcd…"},
		{"head cut counts escapes", escapeHead("&&&&", 11), "&amp;&amp;…"},
		{"cut backs off a mention", cutText("hi <@U12345>", 8), "hi …"},
		{"cut backs off an entity", cutText("ab &amp;", 6), "ab …"},
		{"cut keeps short text", cutText("short", 5), "short"},
		{"mentions", mentionList([]string{"U1", "W2", "S3", "someone"}, 100), "<@U1>, <@W2>, <!subteam^S3>, someone"},
		{"mentions and more", mentionList([]string{"U1", "U2", "U3", "U4"}, 20), "<@U1> and 3 more"},
		{"duration ms", duration(850 * time.Millisecond), "850ms"},
		{"duration s", duration(4200 * time.Millisecond), "4.2s"},
		{"duration m", duration(130 * time.Second), "2m10s"},
		{"duration h", duration(65 * time.Minute), "1h05m"},
		{"bytes", bytesText(48213504), "46.0 MiB"},
		{"seconds", duration(41250 * time.Millisecond), "41.2s"},
		{"measure", measureText(550 * time.Millisecond), "0.550 s"},
		{"by user", richHead("aborted by U0OPERATOR & co", 100), "aborted by <@U0OPERATOR> &amp; co"},
		{"not a user", richHead("by UNKNOWN", 100), "by UNKNOWN"},
		{"mentions escaped", richHead("ask <@U0ALICE>, <@W0BOB|bob> and <!subteam^S0CAB>", 100), "ask &lt;@U0ALICE&gt;, &lt;@W0BOB|bob&gt; and &lt;!subteam^S0CAB&gt;"},
		{"only the first by is the actor", richHead("rejected by U0ALICE1: done by U0BOB123", 100), "rejected by <@U0ALICE1>: done by U0BOB123"},
		{"a later by is never the actor", richHead("aborted by drawbridge: said by U0BOB123", 100), "aborted by drawbridge: said by U0BOB123"},
		{"broadcasts and links escaped", richHead("<!channel> <!here> <https://x|y> <@U1|<b>>", 200),
			"&lt;!channel&gt; &lt;!here&gt; &lt;https://x|y&gt; &lt;@U1|&lt;b&gt;&gt;"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
	text, cut := escapeTail("line1\nline2\nline3 <x>", 16)
	if !cut || text != "line3 &lt;x&gt;" {
		t.Errorf("escapeTail = %q, %v", text, cut)
	}
}

func TestAlertGolden(t *testing.T) {
	vs := views()
	breach := &domain.BreachError{Check: "5xx ratio", Value: "0.138", Threshold: "max 0.01"}
	golden(t, "alert_breach", AlertReply(vs["needs_attention"], breach, []string{"U0ALICE", "S0CHANGE"}, false))
	golden(t, "alert_auto", AlertReply(vs["rolling_back"], breach, []string{"U0ALICE"}, true))

	// Once the run has moved on, the alert keeps the breach and loses the button.
	v := vs["rolled_back"]
	watch := failed(int(domain.StepWatch), at(3, 0), at(3, 8), breach.Error())
	v.Status.Steps = append(v.Status.Steps, watch)
	if _, ok := BreachStep(v); !ok {
		t.Fatal("BreachStep does not find the failed watch")
	}
	golden(t, "alert_settled", AlertSettled(v, watch))
	for _, tc := range []struct {
		name string
		rec  domain.StepRecord
	}{
		{"succeeded watch", done(int(domain.StepWatch), at(3, 0), at(3, 8))},
		{"failed for another reason", failed(int(domain.StepWatch), at(3, 0), at(3, 8), "prometheus: connection refused")},
	} {
		v := vs["rolled_back"]
		v.Status.Steps = []domain.StepRecord{tc.rec}
		if _, ok := BreachStep(v); ok {
			t.Errorf("%s: BreachStep found a breach", tc.name)
		}
	}
}

// TestStepReplyKeepsWhatDrawbridgeSaid: when a step's output is cut to its end, the lines
// drawbridge itself wrote above the cut (its decisions) are shown apart; when the output
// fits, or they are in the part shown, they are not repeated.
func TestStepReplyKeepsWhatDrawbridgeSaid(t *testing.T) {
	run := domain.Run{ID: 12, Cluster: "prod", From: "3.5.0", To: "3.6.1", State: domain.StateMigrating}
	decided := "schema_meta: executed core:022_350_to_360; pending none; still new rate-limiting:006_350_to_360: running kong migrations up"
	long := strings.Repeat("rate-limiting migrated up to: 005_320_to_330 (executed)\n", 200)
	for _, tc := range []struct {
		name, output string
		said         []string
		want         bool
	}{
		{"cut above the line", decided + "\n" + long + "62 executed", []string{decided}, true},
		{"short output", decided + "\n62 executed", []string{decided}, false},
		{"the line in the end shown", long + decided, []string{decided}, false},
		{"nothing said", long, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			step := domain.StepRecord{Index: int(domain.StepMigrationsUp), Name: "migrations_up", Status: domain.StepSucceeded, Attempt: 2,
				OutputTail: tc.output, Facts: domain.StepFacts{Said: tc.said}}
			m := StepReply(RunView{Status: domain.Status{Run: run}}, step)
			b, err := json.Marshal(m.Blocks)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Contains(string(b), "drawbridge said, above the end of the output")
			if got != tc.want {
				t.Errorf("shows drawbridge's lines apart: %v, want %v\n%s", got, tc.want, b)
			}
			if tc.want && strings.Count(string(b), "running kong migrations up") != 1 {
				t.Errorf("the line is not shown exactly once:\n%s", b)
			}
			if err := CheckLimits(m); err != nil {
				t.Error(err)
			}
		})
	}
}
