package notify

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/storage"
)

// goldenText compares text with testdata/replies/name.txt (rewritten with -update).
func goldenText(t *testing.T, name, text string) {
	t.Helper()
	path := filepath.Join("testdata", "replies", name+".txt")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./notify -update to create it)", err)
	}
	if !bytes.Equal([]byte(text), want) {
		t.Errorf("%s differs (go test ./notify -update rewrites it):\n%s", path, firstDiff(string(want), text))
	}
}

// TestReplies renders the bot's answers to commands.
func TestReplies(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	zone := func(window string) *time.Location {
		if window == "sunday-night" {
			return berlin
		}
		return time.UTC
	}
	at := time.Date(2026, 11, 29, 1, 0, 0, 0, time.UTC)
	running := domain.Run{ID: 12, Cluster: "prod-eu", From: "3.4.2", To: "3.5.0", State: domain.StateMigrating,
		RequestedBy: "U0ALICE", CreatedAt: at.Add(-time.Hour)}
	scheduled := domain.Run{ID: 13, Cluster: "prod-us", From: "3.4.2", To: "3.5.0", State: domain.StateScheduled,
		RequestedBy: "U0BOB", Window: "sunday-night", ScheduledFor: at, CreatedAt: at.Add(-48 * time.Hour)}
	ended := domain.Run{ID: 11, Cluster: "staging", To: "3.5.0", State: domain.StateFailedBeforeDowntime,
		RequestedBy: "scheduler", CreatedAt: at.Add(-72 * time.Hour), Reason: "preflight failed: <nodes> & more"}
	steps := []domain.StepRecord{
		{Index: int(domain.StepPreflight), Name: "preflight", Status: domain.StepSucceeded, StartedAt: at, EndedAt: at.Add(1200 * time.Millisecond)},
		{Index: int(domain.StepStop), Name: "stop", Status: domain.StepSucceeded, StartedAt: at, EndedAt: at.Add(130 * time.Second)},
		{Index: int(domain.StepMigrationsUp), Name: "migrations_up", Status: domain.StepFailed, StartedAt: at, EndedAt: at.Add(5 * time.Second),
			Error: "kong migrations up exited 1: timeout"},
	}
	kept := []domain.FailedDatabase{{Name: "kong_failed_12", Size: 36_700_160, Run: 12}, {Name: "kong_failed_15", Size: -1, Run: 15}}
	cases := []struct {
		name, text string
	}{
		{"in_progress", InProgressText([]domain.Run{running, scheduled, ended}, zone)},
		{"in_progress_none", InProgressText([]domain.Run{ended}, zone)},
		{"run", RunText(domain.Status{Run: running, Steps: steps}, zone)},
		{"run_ended", RunText(domain.Status{Run: ended}, zone)},
		{"list", RunListText([]domain.Run{scheduled, running, ended}, zone)},
		{"list_none", RunListText(nil, zone)},
		{"audit", AuditText([]storage.AuditEvent{
			{Seq: 1, At: at, Run: 12, Actor: "U0ALICE", Action: "command", Detail: "start prod-eu 3.5.0"},
			{Seq: 2, At: at.Add(time.Minute), Run: 12, Actor: "U0CAROL", Action: "approve"},
		})},
		{"started", StartedText(running)},
		{"scheduled", ScheduledText(scheduled, storage.Schedule{Run: 13, Window: "sunday-night", OpensAt: at, RemindAt: at.Add(-time.Hour)}, zone)},
		{"plan_refused", PlanReply("plan: upgrade prod-eu from 3.4.2 to 3.9.1\n", true, "3.4.2 → 3.9.1 is not a guaranteed path <b>")},
		{"plan_ok", PlanReply("plan: upgrade prod-eu from 3.4.2 to 3.5.0\n", false, "")},
		{"failed_databases", FailedDatabasesText("/kong-upgrade", "prod-eu", kept, nil)},
		{"failed_databases_unlisted", FailedDatabasesText("/kong-upgrade", "prod-eu", nil, errors.New(`cluster prod-eu: open database "kong" on db:5432: <refused> & gone`))},
		{"failed_databases_none", FailedDatabasesText("/kong-upgrade", "prod-eu", nil, nil) + NoFailedDatabasesText("prod-eu")},
		{"dropped_failed", DroppedFailedText("prod-eu", kept[0]) + "\n" + DroppedFailedText("prod-eu", domain.FailedDatabase{Name: "kong_failed_3", Size: 8 << 20})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { goldenText(t, tc.name, tc.text) })
	}
}

// TestPlanText renders a plan that could go ahead and one that is refused.
func TestPlanText(t *testing.T) {
	at := time.Date(2026, 11, 29, 1, 0, 0, 0, time.UTC)
	ok := domain.PlanSummary{
		Cluster: "prod-eu", From: "3.4.2", To: "3.5.0", Guaranteed: true, Hops: []string{"3.4.2", "3.5.0"},
		Checks: []domain.CheckVerdict{
			{Name: "nodes answer", Verdict: "ok", Detail: "all 3 nodes answer 3.4.2"},
			{Name: "watch metrics", Verdict: "warning", Detail: "kong_upstream_target_health: not applicable"},
		},
		Steps:      []domain.PlanStep{{Index: 1, Title: "preflight"}, {Index: 8, Title: "kong migrations up", Note: "1 migrations"}},
		Migrations: []string{"core:021_340_to_350"}, NewPlugins: []string{"ai-proxy"}, Force: true,
		Breaking: []domain.Breaking{{Line: "3.5", Link: "https://docs.konghq.com/gateway/changelog/#350", Changes: []string{"a change"}}},
		Baseline: &domain.Baseline{Taken: at, Lookback: 30 * time.Minute, Values: map[string]float64{"traffic (req/s)": 45.25},
			Notes: map[string]string{"p99 latency (ms)": "no data",
				"traffic (req/s)": "partial: only 6m of the 30m before 01:00:00 UTC had a full 2m rate window; the rest would read low"}, Skipped: []domain.Interval{{From: at.Add(-20 * time.Minute), To: at.Add(-15 * time.Minute)}}},
		Prediction: &domain.Prediction{DowntimeParts: domain.DowntimeParts{Stop: 10 * time.Second, Install: 30 * time.Second,
			Up: 30 * time.Second, Finish: 10 * time.Second, Start: 20 * time.Second, Overhead: 5 * time.Second}, Migrations: "default", Nodes: "default"},
	}
	refused := domain.PlanSummary{Cluster: "prod-eu", To: "3.9.1", Hops: []string{"3.4.2", "3.8.0", "3.9.1"},
		Checks:  []domain.CheckVerdict{{Name: "nodes answer", Verdict: "FAIL", Detail: "kong-2 does not answer"}},
		Refused: true, Reason: "the nodes are not ready"}
	goldenText(t, "plan_text_ok", PlanText(ok, ""))
	chain := ok
	chain.To, chain.Guaranteed, chain.Chain, chain.Hops = "3.7.1", false, true, []string{"3.4.2", "3.5.0", "3.6.1", "3.7.1"}
	chain.Checks = []domain.CheckVerdict{{Name: "version path", Verdict: "ok", Detail: "3.4.2 → 3.7.1 in 3 guaranteed hops (3.4.2 → 3.5.0 → 3.6.1 → 3.7.1), migrated one after another in one downtime"}}
	goldenText(t, "plan_text_chain", PlanText(chain, ""))
	goldenText(t, "plan_text_refused", PlanText(refused, "drawbridge serve holds the state file: no history"))
	kept := ok
	kept.FailedDatabases = []domain.FailedDatabase{{Name: "kong_failed_12", Size: 36_700_160, Run: 12}, {Name: "kong_failed_15", Size: -1, Run: 15}}
	goldenText(t, "plan_text_failed_databases", PlanText(kept, ""))
	unlisted := refused
	unlisted.FailedDatabasesErr = `cluster prod-eu: open database "kong" on db:5432: connection refused`
	goldenText(t, "plan_text_failed_databases_unlisted", PlanText(unlisted, ""))
}

// TestAnswersEscapeWhatTheyEcho: an answer that echoes what someone typed (a command, an
// argument, an error quoting one) mentions nobody and links nowhere.
func TestAnswersEscapeWhatTheyEcho(t *testing.T) {
	for _, s := range []string{
		WrongCommandText("/kong-upgrade", "/x<!channel>"),
		ProblemText(`unknown command "<!channel>"` + "\nusage: /kong-upgrade help"),
		QueuedText("/kong-upgrade", "start <@U0123456> 1.0"),
		NotARunText("<!here>", "/kong-upgrade abort <run>"),
		DeniedText(DeniedWhy("start", "operator", false, errors.New("group <!subteam^S0123456>: <https://evil.example|x>"))),
		InternalErrorText("start <#C0SECRET1> <!everyone>"),
	} {
		for _, live := range []string{"<!channel", "<@U0123456", "<!here", "<!subteam", "<https", "<#C0SECRET1", "<!everyone", "<run>"} {
			if strings.Contains(s, live) {
				t.Errorf("%q is live in %q", live, s)
			}
		}
	}
	if got, want := QueuedText("/kong-upgrade", "reject 3 a&b <@U0123456>"), "⏳ `/kong-upgrade reject 3 a&amp;b &lt;@U0123456&gt;`"; got != want {
		t.Errorf("QueuedText = %q, want %q", got, want)
	}
}

// TestAnswers renders the bot's short answers.
func TestAnswers(t *testing.T) {
	at := time.Date(2026, 11, 29, 1, 0, 0, 0, time.UTC)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, s := range []string{
		WrongCommandText("/kong-upgrade", "/deploy"),
		OutsideChannelText("C0123", false), OutsideChannelText("C0123", true),
		BusyText(false), BusyText(true), ClickNotRecordedText(), CommandNotRecordedText(), NoTriggerText(),
		QueuedText("/kong-upgrade", "start prod 3.5.0"),
		NotARunText("x1", "/kong-upgrade abort <run>"), NoRunText(99, "/kong-upgrade"),
		DeniedText(DeniedWhy("abort", "operator", false, nil)),
		DeniedText(DeniedWhy("rollback", "operator", true, errors.New("usergroups.users.list: missing_scope"))),
		ProblemText("cannot abort run 3: it has ended (succeeded)" + StaleNote(domain.StateSucceeded)),
		InternalErrorText("status 3"),
		HelpText("/kong-upgrade", []HelpLine{{"/kong-upgrade help", "this list"}, {"/kong-upgrade abort <run>", "stop a run before its downtime"}}),
		ClusterNodesText("prod-eu", 2, []NodeAnswer{{Node: "kong-1", Version: "3.4.2", Ready: true}, {Node: "kong-2", Version: "3.4.2"}, {Node: "kong-3", Err: errors.New("refused")}}),
		ClusterNodesText("staging", 3, nil),
		NoWindowsText("staging"),
		WindowText("prod-eu", "sunday-night", []time.Time{at, at.Add(7 * 24 * time.Hour)}, berlin),
		BlackoutText("freeze", at, at.Add(48*time.Hour)),
	} {
		b.WriteString(s)
		b.WriteString("\n---\n")
	}
	goldenText(t, "answers", b.String())
}
