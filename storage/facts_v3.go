package storage

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/drawbridge/drawbridge/domain"
)

// typeFacts (2→3) turns the runs' and step records' string-keyed details into typed facts
// (domain.Facts, domain.StepFacts), written as record format 2. A detail it does not know,
// or whose value does not parse, is not dropped silently: it goes into an audit event of
// its run ("migrate"), so the file keeps every fact it had.
func (s *Store) typeFacts(tx *bolt.Tx) error {
	runs := tx.Bucket(bucketRuns)
	err := runs.ForEach(func(k, v []byte) error {
		var old legacyRun
		if err := json.Unmarshal(v, &old); err != nil {
			return fmt.Errorf("decode run %x: %w", k, err)
		}
		if old.V != formatV1 {
			return fmt.Errorf("run %s: record format v%d, want v1", old.ID, old.V)
		}
		r := old.Run
		var left []string
		r.Facts, left = runFacts(old.Legacy, &r)
		b, err := encode(tx, "run "+r.ID.String(), runRecord{V: formatV2, Run: r})
		if err != nil {
			return err
		}
		if err := runs.Put(k, b); err != nil {
			return err
		}
		return s.keptInAudit(tx, r.ID, "run", left)
	})
	if err != nil {
		return err
	}
	steps := tx.Bucket(bucketSteps)
	return steps.ForEach(func(k, v []byte) error {
		run, _, ok := keyPair(k)
		if !ok {
			return fmt.Errorf("step key %x is not a run and step pair", k)
		}
		var old legacyStep
		if err := json.Unmarshal(v, &old); err != nil {
			return fmt.Errorf("decode step %x: %w", k, err)
		}
		if old.V != formatV1 {
			return fmt.Errorf("run %d step %s: record format v%d, want v1", run, old.Name, old.V)
		}
		rec := old.StepRecord
		var left []string
		rec.Facts, left = stepFacts(old.Legacy)
		b, err := encode(tx, "step", stepRecord{V: formatV2, StepRecord: rec})
		if err != nil {
			return err
		}
		if err := steps.Put(k, b); err != nil {
			return err
		}
		return s.keptInAudit(tx, domain.RunID(run), "step "+rec.Name, left)
	})
}

// legacyRun and legacyStep are runs and step records of format 1, with their details.
type (
	legacyRun struct {
		V int `json:"v"`
		domain.Run
		Legacy map[string]string `json:"details"` // the details of format 1
	}
	legacyStep struct {
		V int `json:"v"`
		domain.StepRecord
		Legacy map[string]string `json:"details"` // the details of format 1
	}
)

// keptInAudit records details the migration could not type, in the run's audit log.
func (s *Store) keptInAudit(tx *bolt.Tx, run domain.RunID, what string, left []string) error {
	if len(left) == 0 {
		return nil
	}
	_, err := s.appendAuditTx(tx, AuditEvent{Run: run, Actor: "drawbridge", Action: "migrate",
		Detail: fmt.Sprintf("schema version 3 keeps these details of the %s here: %s", what, strings.Join(left, "; "))})
	return err
}

// details reads a details map, remembering which keys were used and which values failed.
type details struct {
	m    map[string]string
	used map[string]bool
	bad  []string
}

func (d *details) str(key string) string {
	d.used[key] = true
	return d.m[key]
}

func (d *details) flag(key string) bool { return d.str(key) == "true" }

func (d *details) seconds(key string) time.Duration {
	v := d.str(key)
	if v == "" {
		return 0
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		d.bad = append(d.bad, key+"="+v)
		return 0
	}
	return time.Duration(f * float64(time.Second)).Round(time.Millisecond)
}

func (d *details) int64(key string) int64 {
	v := d.str(key)
	if v == "" {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		d.bad = append(d.bad, key+"="+v)
	}
	return n
}

func (d *details) time(key string) time.Time {
	v := d.str(key)
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		d.bad = append(d.bad, key+"="+v)
	}
	return t
}

// json decodes a JSON value into into, reporting whether there was one.
func (d *details) json(key string, into any) bool {
	v := d.str(key)
	if v == "" {
		return false
	}
	if err := json.Unmarshal([]byte(v), into); err != nil {
		d.bad = append(d.bad, key+"="+v)
		return false
	}
	return true
}

func (d *details) list(key, sep string) []string {
	v := d.str(key)
	if v == "" {
		return nil
	}
	return strings.Split(v, sep)
}

// left lists what was not used or did not parse, "key=value", in key order.
func (d *details) left() []string {
	out := d.bad
	for _, k := range slices.Sorted(maps.Keys(d.m)) {
		if !d.used[k] {
			out = append(out, k+"="+d.m[k])
		}
	}
	return out
}

// runFacts types a run's details as the release before schema version 3 wrote them.
func runFacts(m map[string]string, r *domain.Run) (domain.Facts, []string) {
	d := &details{m: m, used: map[string]bool{}}
	var f domain.Facts
	if from := d.str("from"); from != "" && r.From == "" {
		r.From = from
	}
	f.Plugins = d.list("kong.plugins", ",")
	f.ControlPlane = d.flag("kong.control_plane")
	f.Warnings = d.list("warning", "; ")
	f.NewPluginsNeedForce = d.flag("force")
	f.Frozen = d.flag("freeze.done")
	var fp domain.Fingerprint
	if d.json("fingerprint", &fp) {
		f.Freeze = &fp
	}
	if path := d.str("backup.path"); path != "" {
		f.Backup = &domain.Backup{Path: path, SHA256: d.str("backup.sha256"), Size: d.int64("backup.size")}
	}
	var b domain.Baseline
	if d.json("baseline", &b) {
		f.Baseline = &b
	}
	f.WindowCloses = d.time("window.closes")
	f.WatchStarted = d.time("watch.started")
	if op := d.str("op"); op != "" {
		f.Pending = &domain.Operation{Kind: domain.OperationKind(op), Actor: d.str("op.actor"), Reason: d.str("op.reason")}
	} else if reason := d.str("op.reason"); reason != "" {
		d.bad = append(d.bad, "op.reason="+reason) // the reason of an operation carried out
	}
	f.Measured = domain.Measurements{
		Downtime: d.seconds("measure.downtime_s"), Commands: d.seconds("measure.commands_s"),
		Overhead: d.seconds("measure.overhead_s"), RollbackDowntime: d.seconds("measure.rollback_downtime_s"),
	}
	return f, d.left()
}

// stepFacts types a step record's details as the release before schema version 3 wrote
// them.
func stepFacts(m map[string]string) (domain.StepFacts, []string) {
	d := &details{m: m, used: map[string]bool{}}
	var f domain.StepFacts
	for _, k := range slices.Sorted(maps.Keys(m)) {
		switch name, ok := strings.CutPrefix(k, "check."); {
		case ok:
			verdict, detail, _ := strings.Cut(d.str(k), ": ")
			f.Checks = append(f.Checks, domain.CheckVerdict{Name: name, Verdict: verdict, Detail: detail})
		case strings.HasSuffix(k, ".slowest_s"):
			action := strings.TrimSuffix(k, ".slowest_s")
			f.Spans = append(f.Spans, domain.ActionSpan{Action: action, Slowest: d.seconds(k), Span: d.seconds(action + ".span_s")})
		}
	}
	f.Fingerprint = d.str("fingerprint")
	f.Tables = int(d.int64("tables"))
	if path := d.str("path"); path != "" {
		f.Backup = &domain.Backup{Path: path, Size: d.int64("size"), SHA256: d.str("sha256")}
	}
	f.Took = d.seconds("duration_s")
	if _, ok := m["migrations"]; ok {
		f.Evaluation = &domain.Evaluation{
			Migrations: int(d.int64("migrations")), PendingAfterUp: d.str("pending_after_up"),
			NewPlugins: d.list("new_plugins", ", "), Force: d.flag("force"),
			PredictedDowntime: d.seconds("predicted_downtime_s"), BreakingLines: d.list("breaking_lines", ", "),
		}
	}
	if c := d.str("crossed"); c != "" {
		f.Gate = &domain.GateCrossing{Crossed: c == "true", At: d.str("crossed_at"), ApprovedBy: d.list("approved_by", ", ")}
	}
	f.Commands = d.seconds("commands_s")
	if method := d.str("method"); method != "" {
		f.Restore = &domain.Restored{Method: method, FailedDB: d.str("failed_db")}
	}
	f.Blind = d.flag("blind")
	return f, d.left()
}
