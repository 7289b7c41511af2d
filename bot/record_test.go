package bot_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/drawbridge/drawbridge/changerecord"
	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/storage"
)

// TestChangeRecordFromSlack: a cluster that requires a change ticket refuses a start
// without one (or with a malformed one); an upgrade with one runs through the bot; "audit 1"
// attaches the run's change record, which matches the schema and the run's facts; the audit
// log's hash chain verifies.
func TestChangeRecordFromSlack(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOpts{approvers: "[S0CHANGEMGR]",
		extra: "    change_ticket: {required: true, pattern: '^CHG[0-9]{7}$', url: 'https://itsm.example.com/change/{{.Ticket}}'}"})
	w.command("U0OPERATOR", channel, "start test 3.5.0")
	w.ephemeralTo("U0OPERATOR", "test requires a change ticket: add --ticket")
	w.command("U0OPERATOR", channel, "start test 3.5.0 --ticket CHG12")
	w.ephemeralTo("U0OPERATOR", `change ticket "CHG12" is not of the form test wants: ^CHG[0-9]{7}$`)
	if runs, _ := w.store.ListRuns(t.Context(), storage.RunFilter{}); len(runs) != 0 {
		t.Fatalf("%d runs after refused starts", len(runs))
	}

	w.command("U0OPERATOR", channel, "start test 3.5.0 --ticket CHG0012345")
	w.click("U0APPROVER", "approve", w.waitButton("approve"), "")
	w.click("U0OPERATOR", "decommission", w.waitButton("decommission"), "")
	run := w.waitRun(1, domain.StateSucceeded)
	if run.Ticket != "CHG0012345" {
		t.Fatalf("run ticket %q", run.Ticket)
	}
	w.waitFor("the ticket's link on the status message", func() bool {
		m, _ := w.statusMessage()
		return strings.Contains(m.BlocksJSON, "https://itsm.example.com/change/CHG0012345|CHG0012345")
	})

	w.command("U0OPERATOR", channel, "audit 1")
	var data []byte
	w.waitFor("the change record in the thread", func() bool {
		for _, f := range w.slack.Files() {
			if f.Name == "run-1-change-record.jsonl" && f.Completed && f.ThreadTS != "" {
				data = f.Data
				return true
			}
		}
		return false
	})
	var lines []changerecord.Line
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l changerecord.Line
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("line %q does not decode into the schema: %v", sc.Text(), err)
		}
		if l.Schema != changerecord.Schema || l.Run != 1 {
			t.Fatalf("line %+v", l)
		}
		lines = append(lines, l)
	}
	kinds := map[string][]changerecord.Line{}
	for _, l := range lines {
		kinds[l.Kind] = append(kinds[l.Kind], l)
	}
	sum := kinds["run"]
	if len(sum) != 1 {
		t.Fatalf("%d run lines", len(sum))
	}
	r := sum[0]
	switch {
	case r.Ticket != "CHG0012345" || r.RequestedBy != "U0OPERATOR" || r.State != "succeeded" || r.From != "3.4.2" || r.To != "3.5.0":
		t.Errorf("record %+v", r)
	case !slices.Equal(r.ApprovedBy, []string{"U0APPROVER"}):
		t.Errorf("approved by %v", r.ApprovedBy)
	case r.Backup == nil || *r.Backup != *run.Facts.Backup:
		t.Errorf("backup %+v, want %+v", r.Backup, run.Facts.Backup)
	case r.FingerprintX != run.Facts.Freeze.Hash || r.FingerprintY == "":
		t.Errorf("fingerprints before %q after %q (freeze %q)", r.FingerprintX, r.FingerprintY, run.Facts.Freeze.Hash)
	case r.MeasuredMS == nil || r.MeasuredMS.Total != run.Facts.Measured.Downtime.Milliseconds() || r.PredictedMS == nil:
		t.Errorf("downtime measured %+v predicted %+v", r.MeasuredMS, r.PredictedMS)
	case r.Plan == nil || r.Plan.Migrations != 1:
		t.Errorf("plan %+v", r.Plan)
	case len(r.Readings) == 0:
		t.Error("no watch readings")
	}
	if ap := kinds["approval"]; len(ap) != 1 || ap[0].EligibleAs != "S0CHANGEMGR" || ap[0].Approval.UserID != "U0APPROVER" {
		t.Errorf("approvals %+v", ap)
	}
	var stops int
	for _, c := range kinds["command"] {
		if c.Command.Action == "stop" && c.Command.Exit == 0 && len(c.Command.Argv) > 0 && c.Command.Duration > 0 {
			stops++
		}
	}
	if stops != 2 {
		t.Errorf("%d stop commands in the record, want one per node", stops)
	}
	prev := ""
	for _, e := range kinds["event"] {
		if e.Event.Ticket != "CHG0012345" || e.Event.Prev != prev || e.Event.Hash == "" {
			t.Fatalf("event %+v does not carry the ticket or follow %q", e.Event, prev)
		}
		prev = e.Event.Hash
	}
	if r.AuditHead == "" || len(kinds["event"]) < 10 {
		t.Errorf("%d events, head %q", len(kinds["event"]), r.AuditHead)
	}
	v, err := w.store.VerifyAudit(t.Context())
	if err != nil || len(v.Problems) > 0 {
		t.Fatalf("verify: %v %v", v.Problems, err)
	}
}
