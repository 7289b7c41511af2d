package words

import (
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/domain"
)

var update = flag.Bool("update", false, "rewrite testdata/words.golden")

// sample is every sentence of the package, by the name it is exported under, said of the
// same facts each time. TestGolden compares them with testdata/words.golden, and
// TestEverySentenceSampled fails when an exported sentence is missing here.
func sample() map[string][]string {
	at := time.Date(2026, 12, 2, 1, 30, 0, 0, time.UTC)
	boom := errors.New("connection refused")
	hops := []string{"3.4.2", "3.5.0", "3.6.1"}
	pending := &domain.Approval{UserID: "U2", Decision: domain.DecisionApprove, At: at}
	gate := &domain.Gate{Approvals: 1, Required: 1, Until: at.Add(time.Hour), Why: WindowOpens("nightly")}
	run := domain.Run{ID: 7, Cluster: "prod", From: "3.4.2", To: "3.5.0",
		Facts: domain.Facts{Measured: domain.Measurements{Downtime: 41250 * time.Millisecond, Commands: 39 * time.Second, Overhead: 2250 * time.Millisecond, RollbackDowntime: 12 * time.Second}}}
	bare := run
	bare.Facts.Measured.Downtime = 0
	pred := domain.Prediction{DowntimeParts: domain.DowntimeParts{Stop: 10 * time.Second, Install: 30 * time.Second, Up: 31250 * time.Millisecond,
		Finish: 10 * time.Second, Start: 20 * time.Second, Overhead: 5 * time.Second}, Migrations: "rehearsal", Nodes: "default"}
	earlier := pred
	earlier.Runs = 3
	base := domain.Baseline{Lookback: 15 * time.Minute, Values: map[string]float64{"5xx ratio": 0.004, "p99 latency": 0.231},
		Notes: map[string]string{"p99 latency": "partial", "traffic": "no data"}, Skipped: []domain.Interval{{From: at, To: at.Add(20 * time.Minute)}}}
	name, title := RecordFile(7, "drawbridge.audit.v1")
	return map[string][]string{
		"OtherRun":               {OtherRun(7, domain.StateAwaitingApproval, "prod")},
		"NoOtherRun":             {NoOtherRun("prod")},
		"Path":                   {Path(hops)},
		"PathGuaranteed":         {PathGuaranteed("3.4.2", "3.5.0", "adjacent minor")},
		"PathChain":              {PathChain("3.4.2", "3.6.1", hops)},
		"PathUnverifiedAllowed":  {PathUnverifiedAllowed("3.4.2", "3.6.1", hops)},
		"PathUnverified":         {PathUnverified("3.4.2", "3.6.1", hops)},
		"PathNotGuaranteed":      {PathNotGuaranteed("3.4.2", "3.6.1", hops)},
		"ChainInstalls":          {ChainInstalls("kong-1")},
		"ChainVersionedCommands": {ChainVersionedCommands},
		"ChainCannotInstall":     {ChainCannotInstall},
		"MetricsOffAfter3":       {MetricsOffAfter3("2.8.4", "3.0.1")},
		"WindowScheduled":        {WindowScheduled("nightly", at), WindowScheduled("", at)},
		"ControlPlanes":          {ControlPlanes("3.5.0", 3, "3.5")},
		"MigrationsTimeout":      {MigrationsTimeout([]string{"migrations_finish", "migrations_up"})},
		"TimeoutHint":            {TimeoutHint(true), TimeoutHint(false)},
		"Plugins":                {Plugins(nil), Plugins([]string{"off"}), Plugins([]string{"bundled", "custom-x"}), Plugins([]string{"key-auth", "prometheus"})},
		"List":                   {List(nil), List([]string{"core:021_340_to_350", "acl:004_212_to_213"})},
		"NodeDataPlane":          {NodeDataPlane("kong-2")},
		"NodeDBLess":             {NodeDBLess("kong-2")},
		"NodeEnterprise":         {NodeEnterprise("kong-1", "3.4.3.1", "enterprise"), NodeEnterprise("kong-1", "3.4.3.1", "")},
		"NodeFailed":             {NodeFailed("kong-1", boom)},
		"NodeNoDatabase":         {NodeNoDatabase("kong-1")},
		"NodeProblems":           {NodeProblems([]string{NodeNoDatabase("kong-1"), NodeFailed("kong-2", boom)})},
		"NodesVersions":          {NodesVersions([]Group{{Nodes: []string{"kong-2"}, Value: "3.5.0"}, {Nodes: []string{"kong-1", "kong-3"}, Value: "3.4.2"}})},
		"NodesPlugins":           {NodesPlugins([]Group{{Nodes: []string{"kong-1"}, Value: "bundled"}, {Nodes: []string{"kong-2", "kong-3"}, Value: "key-auth,prometheus"}})},
		"NodesRoles":             {NodesRoles([]Group{{Nodes: []string{"kong-1"}, Value: "control_plane"}, {Nodes: []string{"kong-2", "kong-3"}, Value: "traditional"}})},
		"NodesTargets":           {NodesTargets([]Group{{Nodes: []string{"kong-1"}, Value: "kong\x00\x00kong"}, {Nodes: []string{"kong-2"}, Value: "kong2\x00public\x00"}})},
		"NodesBadVersion":        {NodesBadVersion("next", errors.New("not a version"))},
		"NodesAnswer":            {NodesAnswer(3, "3.4.2", nil, false), NodesAnswer(2, "3.4.2", []string{"key-auth"}, true)},
		"NodesChanged":           {NodesChanged(NodeFailed("kong-1", boom))},
		"DBNotBootstrapped":      {DBNotBootstrapped},
		"DBPending":              {DBPending([]string{"core:021_340_to_350"})},
		"DBLacks":                {DBLacks("3.4.2", []string{"key-auth"}, []string{"acl:004_212_to_213", "jwt:003_200_to_210"})},
		"DBUpToDate":             {DBUpToDate("3.4.2", nil)},
		"AccessOtherDatabase":    {AccessOtherDatabase("kong", "postgres")},
		"AccessOtherSchema":      {AccessOtherSchema("kong", "public")},
		"AccessProblems":         {AccessProblems([]string{"kong may not create in schema public", "routes is owned by admin"})},
		"AccessOK":               {AccessOK("kong", "public", "kong")},
		"MetricsUnchecked":       {MetricsUnchecked},
		"MetricsAnswer":          {MetricsAnswer("http://127.0.0.1:9090")},
		"Series":                 {Series(nil, nil, nil), Series(boom, nil, []string{"upstream health: no upstreams"}), Series(nil, []string{"kong_http_requests_total: no series"}, nil)},
		"NoPgDump":               {NoPgDump},
		"NotWritable":            {NotWritable("/var/lib/drawbridge", errors.New("permission denied"))},
		"NoFreeSpace":            {NoFreeSpace("/var/lib/drawbridge", boom)},
		"TooLittleRoom":          {TooLittleRoom("/var/lib/drawbridge/backups/prod", 10<<20, 40<<20)},
		"BackupRoom":             {BackupRoom("/var/lib/drawbridge/backups/prod", 80<<30, 1536<<10)},
		"InBlackout":             {InBlackout("freeze", at)},
		"NoWindows":              {NoWindows},
		"WindowOpen":             {WindowOpen("nightly", at)},
		"NoWindowOpen":           {NoWindowOpen("prod", []string{"nightly", "weekend"})},
		"Refusal":                {Refusal("database", DBNotBootstrapped)},
		"NoteUp":                 {NoteUp(12, nil), NoteUp(12, []string{"ai-proxy"})},
		"NoteFinish":             {NoteFinish(3)},
		"NoteRehearsal":          {NoteRehearsal(true), NoteRehearsal(false)},
		"NoteApproval":           {NoteApproval(2, []string{"S0CHANGE", "U1"})},
		"Actor":                  {Actor(""), Actor("U1")},
		"Upgraded":               {Upgraded("3.5.0")},
		"RolledBack":             {RolledBack("3.4.2")},
		"RejectedBy":             {RejectedBy("U2", ""), RejectedBy("U2", "not tonight")},
		"AbortedBeforePrepared":  {AbortedBeforePrepared("U1")},
		"Unscheduled":            {Unscheduled("U1")},
		"RequestedBy":            {RequestedBy("U1")},
		"AbortedBy":              {AbortedBy("U1")},
		"ResumedBy":              {ResumedBy("")},
		"RollbackRequested":      {RollbackRequested("U1")},
		"ScheduledBy":            {ScheduledBy("U1")},
		"StepFailed":             {StepFailed("Migrations up", boom), StepFailed("kong migrations up", errors.New("kong migrations up failed: exit status 1"))},
		"Blind":                  {Blind(StepFailed("Watch", boom))},
		"AutoRollback":           {AutoRollback(StepFailed("Watch", boom))},
		"InternalError":          {InternalError("index out of range")},
		"Interrupted":            {Interrupted("Migrations up", MutexHeld)},
		"InterruptedError":       {InterruptedError(MutexHeld)},
		"FoundDone":              {FoundDone(EffectShown)},
		"MissedWindow":           {MissedWindow("nightly", at, at.Add(2*time.Hour))},
		"Preparing":              {Preparing(at)},
		"ExpiryText": {
			ExpiryText(Expiry{Timeout: "2h", Deadline: at}),
			ExpiryText(Expiry{Timeout: "2h", Deadline: at, Closes: at.Add(-time.Hour), Window: "nightly"}),
			ExpiryText(Expiry{Timeout: "2h", Deadline: at, Closes: at.Add(-time.Hour), ScheduledFor: at.Add(-3 * time.Hour)}),
			ExpiryText(Expiry{Timeout: "2h", Deadline: at, Closes: at.Add(-time.Hour), Window: "nightly", Approved: true}),
			ExpiryText(Expiry{Timeout: "2h", Deadline: at, Closes: at.Add(-time.Hour), Window: "nightly", Approved: true, Until: at.Add(time.Hour), Why: BlackoutEnds("freeze")}),
		},
		"WindowOpens":           {WindowOpens("nightly")},
		"BlackoutEnds":          {BlackoutEnds("freeze")},
		"ScheduledTime":         {ScheduledTime},
		"AnyWindowOpens":        {AnyWindowOpens("prod")},
		"Cannot":                {Cannot("approve", 7, NotAtGate(domain.StateWatching))},
		"NotAtGate":             {NotAtGate(domain.StateWatching)},
		"Ended":                 {Ended(domain.StateRolledBack)},
		"AlreadyDecided":        {AlreadyDecided(nil, nil), AlreadyDecided(pending, gate)},
		"Summary":               {Summary(run, domain.StateSucceeded, Upgraded("3.5.0")), Summary(run, domain.StateRolledBack, RolledBack("3.4.2")), Summary(bare, domain.StateRolledBack, RolledBack("3.4.2")), Summary(bare, domain.StateFailedBeforeDowntime, StepFailed("Backup", boom))},
		"AuditStart":            {AuditStart("prod", "3.5.0", false, ""), AuditStart("prod", "3.6.1", true, "CHG0012345")},
		"AuditSchedule":         {AuditSchedule("prod", "3.5.0", at, "nightly", at.Add(-10*time.Minute), ""), AuditSchedule("prod", "3.5.0", at, "", at, "CHG0012345")},
		"AuditPrepare":          {AuditPrepare("nightly", at)},
		"AuditStepStarted":      {AuditStepStarted("migrations_up", 2)},
		"AuditStepEnded":        {AuditStepEnded("migrations_up", nil), AuditStepEnded("migrations_up", boom)},
		"AuditRecovered":        {AuditRecovered("migrations_up", EffectShown)},
		"WatchClean":            {WatchClean},
		"NoWayToCheck":          {NoWayToCheck},
		"MutexHeld":             {MutexHeld},
		"EffectShown":           {EffectShown},
		"EffectMissing":         {EffectMissing(NotYetRun([]string{"core:021_340_to_350"}))},
		"NoLock":                {NoLock(boom)},
		"Kept":                  {Kept(nil), Kept([]domain.FailedDatabase{{Name: "kong_failed_7", Size: 12 << 20}, {Name: "kong_failed_9", Size: -1}})},
		"Acted":                 {Acted("reject", 7), Acted("abort", 7), Acted("rollback", 7), Acted("resume", 7), Acted("decommission", 7), Acted("other", 7)},
		"RejectedWithButton":    {RejectedWithButton},
		"Eligible":              {Eligible("approver", "S0CHANGE", "U2"), Eligible("approver", "U2", "U2"), Eligible("approver", "", "U2")},
		"AuditClick":            {AuditClick("approve", 4, Eligible("approver", "S0CHANGE", "U2"))},
		"AuditButtonDenied":     {AuditButtonDenied("approve")},
		"AuditDenied":           {AuditDenied("start prod 3.5.0", "you are not an operator")},
		"AuditOutsideChannel":   {AuditOutsideChannel("/kong-upgrade", "start prod 3.5.0", "C0OPS")},
		"AuditOtherTeam":        {AuditOtherTeam("slash command", "T0OTHER", "T0OURS")},
		"AuditDropped":          {AuditDropped("kong_failed_7", 12<<20, "prod"), AuditDropped("kong_failed_7", -1, "prod")},
		"RecordFile":            {name, title},
		"FreezeOn":              {FreezeOn("prod", 7)},
		"FreezeLifted":          {FreezeLifted("prod")},
		"UnfreezeFailed":        {UnfreezeFailed(boom)},
		"Unfrozen":              {Unfrozen},
		"GateWarnings":          {GateWarnings([]string{PathNotGuaranteed("3.4.2", "3.6.1", hops), "second"})},
		"Hop":                   {Hop(1, 2, "3.4.2", "3.5.0")},
		"HopMigrated":           {HopMigrated(Hop(1, 2, "3.4.2", "3.5.0"))},
		"LastHopMigrated":       {LastHopMigrated("3.6.1")},
		"HopFoundDone":          {HopFoundDone(Hop(1, 2, "3.4.2", "3.5.0"))},
		"Verdict":               {Verdict("ok", "database", DBUpToDate("3.4.2", nil)), Verdict("FAIL", "window", NoWindowOpen("prod", []string{"nightly"}))},
		"Command":               {Command([]string{"kong", "migrations", "up", "-y"}, "migrations_up", "", 0, 31250*time.Millisecond), Command([]string{"systemctl", "stop", "kong"}, "stop", "kong-1", 1, 800*time.Millisecond)},
		"FailedButReached":      {FailedButReached("kong-1", errors.New("exit status 1"))},
		"AlreadyStopped":        {AlreadyStopped(2, 3)},
		"AlreadyAnswering":      {AlreadyAnswering(1, 3, "3.5.0")},
		"LockHeld":              {LockHeld("kong-2", at, "10m")},
		"LockFree":              {LockFree},
		"Schema":                {Schema([]string{"core:021_340_to_350"}, nil, []string{"acl:005_350_to_360"})},
		"NothingToRun":          {NothingToRun(Schema([]string{"core:021_340_to_350"}, nil, nil))},
		"Running":               {Running(Schema(nil, []string{"core:021_340_to_350"}, nil), "finish")},
		"Converging":            {Converging(Schema([]string{"core:022_350_to_360"}, []string{"opentelemetry:001_331_to_332"}, []string{"rate-limiting:006_350_to_360"}), "finish")},
		"Crossed":               {Crossed(at, ""), Crossed(at, "nightly")},
		"NotYetRun":             {NotYetRun([]string{"core:021_340_to_350"})},
		"PendingForFinish":      {PendingForFinish([]string{"core:021_340_to_350"})},
		"NoFingerprintAfter":    {NoFingerprintAfter(boom)},
		"Downtime":              {Downtime(run.Facts.Measured)},
		"RollbackDowntime":      {RollbackDowntime(12 * time.Second)},
		"Restored":              {Restored("/var/lib/drawbridge/backups/prod/7.dump", "swap", 5250*time.Millisecond, ""), Restored("/b/7.dump", "swap", time.Second, "kong_failed_7")},
		"BackedUp":              {BackedUp(domain.Backup{Path: "/b/7.dump", Size: 1536 << 10, SHA256: "9f86d081"})},
		"Unchanged":             {Unchanged},
		"Evaluation":            {Evaluation([]string{"core:021_340_to_350"}, nil, nil, nil), Evaluation([]string{"core:021_340_to_350", "acme:003_350_to_360"}, []string{"core:021_340_to_350"}, []string{"ai-proxy"}, []domain.Breaking{{Line: "3.5", Link: "https://example.com/3.5", Changes: []string{"one", "two"}}})},
		"BaselineLines":         {BaselineLines(base)},
		"Baseline":              {Baseline(base)},
		"NoCommand":             {NoCommand("decommission")},
		"WatchedClean":          {WatchedClean("prod", "10m")},
		"NotRehearsed":          {NotRehearsed},
		"CopyRestored":          {CopyRestored("/b/7.dump", "kong_rehearsal_7", "127.0.0.1", 5432, 1200*time.Millisecond)},
		"RehearsedHop":          {RehearsedHop(1, 2, "3.5.0", 2*time.Second, 500*time.Millisecond)},
		"Rehearsed":             {Rehearsed(2*time.Second, 500*time.Millisecond, "3.5.0")},
		"CopyDropped":           {CopyDropped("kong_rehearsal_7")},
		"CopyNotDropped":        {CopyNotDropped("kong_rehearsal_7", boom)},
		"Prediction":            {Prediction(pred), Prediction(earlier)},
		"NodeAnswers":           {NodeAnswers("kong-1", "3.4.2")},
		"NodeNotReady":          {NodeNotReady("kong-1")},
		"NodesHealthyBreach":    {NodesHealthyBreach("3.5.0", 3)},
		"NodesHealthyThreshold": {NodesHealthyThreshold(3, "3.5.0")},
		"Span":                  {Span(15*time.Minute, at)},
		"NoFullWindow":          {NoFullWindow(2*time.Minute, Span(15*time.Minute, at))},
		"InSpan":                {InSpan(NoData, Span(15*time.Minute, at))},
		"CoverageUnknown":       {CoverageUnknown(PromLate)},
		"PartialBaseline":       {PartialBaseline(6*time.Minute, Span(15*time.Minute, at), 2*time.Minute)},
		"WrongType":             {WrongType("matrix")},
		"NoData":                {NoData},
		"ManySeries":            {ManySeries(3)},
		"NoFullPoint":           {NoFullPoint},
		"AllInEarlierRuns":      {AllInEarlierRuns},
		"OnlyNaN":               {OnlyNaN},
		"NoDataBecause":         {NoDataBecause("no upstream targets")},
		"NoSeries":              {NoSeries},
		"ReadingNaN":            {ReadingNaN},
		"ReadingManySeries":     {ReadingManySeries(2)},
		"ReadingInf":            {ReadingInf(math.Inf(1))},
		"NoBaselineToJudge":     {NoBaselineToJudge([]string{"max 1.5× baseline (no baseline)"})},
		"WarmingUp":             {WarmingUp(at)},
		"InARow":                {InARow(PromUnreachable("dial tcp 127.0.0.1:9: connect: connection refused"), 3)},
		"QueryError":            {QueryError("bad_data: parse error")},
		"GaveUp":                {GaveUp("timeout: query timed out")},
		"PromFailed":            {PromFailed("internal: oops")},
		"PromUnreachable":       {PromUnreachable("dial tcp 127.0.0.1:9: connect: connection refused")},
		"PromLate":              {PromLate},
		"QueryCanceled":         {QueryCanceled},
		"ResumingWatch":         {ResumingWatch("prod", 4, at, 90*time.Second+400*time.Millisecond)},
		"Watching":              {Watching(5, "http://127.0.0.1:9090", "30s", at, 2*time.Minute, 15*time.Second)},
		"NoBaseline":            {NoBaseline(boom)},
		"BaselineTaken":         {BaselineTaken("3.4.2", 15*time.Minute)},
		"NoKongSeries":          {NoKongSeries(`{job="kong"}`, "http://127.0.0.1:9090")},
		"NoUpstreams":           {NoUpstreams([]string{`"unhealthy targets"`}, "kong_upstream_target_health", true), NoUpstreams([]string{`"unhealthy targets"`}, "kong_upstream_target_health", false)},
		"NoDataPlanes":          {NoDataPlanes([]string{`"data planes compatible"`})},
		"CheckProblem":          {CheckProblem("custom", NoSeriesFor("sum(up)"))},
		"NoSeriesFor":           {NoSeriesFor("sum(up)")},
		"MissingFamily": {
			MissingFamily("kong_http_requests_total", `{job="kong"}`, []string{`"5xx ratio"`}, "status_code_metrics", true),
			MissingFamily("kong_upstream_target_health", `{job="kong"}`, []string{`"unhealthy targets"`}, "upstream_health_metrics", true),
			MissingFamily("kong_upstream_target_health", `{job="kong"}`, []string{`"unhealthy targets"`}, "", false),
			MissingFamily("kong_http_status", `{job="kong"}`, []string{`"5xx ratio"`}, "", false),
		},
	}
}

func render(m map[string][]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(m)) {
		for i, s := range m[k] {
			fmt.Fprintf(&b, "== %s #%d\n%s\n", k, i+1, s)
		}
	}
	return b.String()
}

func TestGolden(t *testing.T) {
	got := render(sample())
	path := filepath.Join("testdata", "words.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./notify/words -update writes it)", err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("words differ from %s at line %d:\n got: %s\nwant: %s\n(go test ./notify/words -update rewrites it after a deliberate change)", path, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("words differ from %s in length: %d lines, want %d", path, len(gl), len(wl))
	}
}

// TestEverySentenceSampled reads the package's source: every exported function and
// constant must have its sample, so the golden file holds every sentence.
func TestEverySentenceSampled(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	s := sample()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			var names []string
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					names = append(names, d.Name.Name)
				}
			case *ast.GenDecl:
				if d.Tok == token.CONST {
					for _, sp := range d.Specs {
						for _, n := range sp.(*ast.ValueSpec).Names {
							names = append(names, n.Name)
						}
					}
				}
			}
			for _, n := range names {
				if _, ok := s[n]; ast.IsExported(n) && !ok {
					t.Errorf("%s (%s) has no sample in sample(): add one so the golden file pins it", n, f)
				}
			}
		}
	}
}

// TestSentencesAreWhole: no sentence is empty, and none carries Go's %!verb marks of a
// wrong format.
func TestSentencesAreWhole(t *testing.T) {
	for name, ss := range sample() {
		for i, s := range ss {
			if strings.TrimSpace(s) == "" && name != "Eligible" {
				t.Errorf("%s #%d is empty", name, i+1)
			}
			if strings.Contains(s, "%!") {
				t.Errorf("%s #%d has a bad format: %s", name, i+1, s)
			}
		}
	}
}
