package bot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/drawbridge/drawbridge/changerecord"
	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/notify"
	"github.com/drawbridge/drawbridge/notify/words"
	"github.com/drawbridge/drawbridge/storage"
	"github.com/drawbridge/drawbridge/upgrade"
)

// HandleCommand answers a slash command at once: a refusal or bad input is answered in
// the reply and changes nothing; anything else is queued and answered when done.
//
// A command is taken once. Slack sends a new trigger_id with every command; it is claimed
// before anything else, so the same signed request sent again (a replay within the
// signature's five minutes) gets an empty answer and no second effect. A command without
// a trigger_id is refused: it cannot be told from its replay, and Slack sends one with
// every command, so only something else sends one without (HTTP answers it with a 400).
func (b *Bot) HandleCommand(sc slack.SlashCommand) Reply {
	cfg := b.opts.Config
	ctx := context.Background()
	if sc.TriggerID == "" {
		b.opts.Log.Warn("refused a slash command without trigger_id", "user", sc.UserID, "command", sc.Command)
		return Reply{Text: notify.NoTriggerText()}
	}
	key := "command:" + sc.TriggerID
	first, err := b.opts.Store.ClaimKey(ctx, key)
	if err != nil {
		b.opts.Log.Error("claim slash command", "key", key, "err", err)
		return Reply{Text: notify.CommandNotRecordedText()}
	}
	if !first {
		b.opts.Log.Warn("ignored a slash command taken before (same trigger_id)", "user", sc.UserID, "key", key)
		return Reply{} // a replay: the first one was answered
	}
	if sc.Command != cfg.Slack.Command {
		return Reply{Text: notify.WrongCommandText(cfg.Slack.Command, sc.Command)}
	}
	if sc.ChannelID != cfg.Slack.Channel {
		b.audit(ctx, 0, sc.UserID, "denied", words.AuditOutsideChannel(sc.Command, truncate(sc.Text, 200), cfg.Slack.Channel))
		return Reply{Text: notify.OutsideChannelText(cfg.Slack.Channel, false)}
	}
	cmd, err := Parse(cfg.Slack.Command, html.UnescapeString(sc.Text))
	if err != nil {
		return Reply{Text: notify.ProblemText(err.Error())}
	}
	if cmd.Name == "help" {
		return Reply{Text: HelpText(cfg.Slack.Command)}
	}
	line := strings.TrimSpace(cmd.Name + " " + strings.Join(cmd.Args, " "))
	if cmd.Force {
		line += " --force"
	}
	if cmd.Chain {
		line += " --chain"
	}
	if cmd.Ticket != "" {
		line += " --ticket " + cmd.Ticket
	}
	ok := b.enqueue(job{name: line, user: sc.UserID, run: func(ctx context.Context) { b.runCommand(ctx, sc.UserID, cmd, line) }})
	if !ok {
		return Reply{Text: notify.BusyText(false)}
	}
	return Reply{Text: notify.QueuedText(cfg.Slack.Command, line)}
}

// call is one command to carry out, typed or clicked.
type call struct {
	user string
	cmd  Command      // name, arguments, --force, --chain
	run  domain.RunID // the run it is about; 0 when none (yet)
	line string       // the command as typed, for the audit log
	// click: it came from a button on the status message of revision rev.
	click bool
	rev   uint64
	via   string // what gave the user the command's role: their ID, or a user group
}

// runCommand does a queued slash command.
func (b *Bot) runCommand(ctx context.Context, user string, cmd Command, line string) {
	c := call{user: user, cmd: cmd, line: line}
	if s, _ := specOf(cmd.Name); s.run && len(cmd.Args) > 0 {
		id, err := domain.ParseRunID(cmd.Args[0])
		if err != nil {
			b.tell(ctx, 0, user, notify.NotARunText(cmd.Args[0], usage(b.opts.Config.Slack.Command, s)))
			return
		}
		c.run = id
	}
	b.execute(ctx, c)
}

// execute is every command's way, typed or clicked: the run must exist, the user must
// have the command's role, the audit log records it, then the command's action runs and
// its user is answered.
func (b *Bot) execute(ctx context.Context, c call) {
	s, ok := specOf(c.cmd.Name)
	act := actions[c.cmd.Name]
	if !ok || act == nil {
		b.tell(ctx, c.run, c.user, notify.ProblemText(fmt.Sprintf("unknown command %q", c.cmd.Name)))
		return
	}
	if s.run && c.run != 0 {
		// A run that does not exist gets no audit entries, nor an answer from deep inside.
		if _, err := b.opts.Engine.Status(ctx, c.run); errors.Is(err, storage.ErrNotFound) {
			b.tell(ctx, 0, c.user, notify.NoRunText(c.run, b.opts.Config.Slack.Command))
			return
		}
	}
	role := s.role()
	via, allowed, err := b.opts.Access.Grant(ctx, c.user, role)
	if !allowed {
		why := notify.DeniedWhy(c.cmd.Name, string(role), c.click, err)
		what := c.line
		if c.click {
			what = words.AuditButtonDenied(c.cmd.Name)
		}
		b.audit(ctx, c.run, c.user, "denied", words.AuditDenied(what, why))
		b.tell(ctx, c.run, c.user, notify.DeniedText(why))
		return
	}
	eligible := words.Eligible(string(role), via, c.user)
	if c.click {
		b.audit(ctx, c.run, c.user, "click", words.AuditClick(c.cmd.Name, c.rev, eligible))
	} else {
		b.audit(ctx, c.run, c.user, "command", c.line+eligible)
	}
	c.via = via
	text, err := act(b, ctx, c)
	switch {
	case err != nil && c.click:
		b.tell(ctx, c.run, c.user, notify.ProblemText(errorText(err)+staleNote(ctx, b.opts.Engine, c.run, c.rev)))
	case err != nil:
		b.tell(ctx, c.run, c.user, notify.ProblemText(errorText(err)))
	case text != "" && (!c.click || s.answerClick):
		b.tell(ctx, c.run, c.user, text)
	}
}

// action carries out a command and returns the answer for its user.
type action func(b *Bot, ctx context.Context, c call) (string, error)

// actions is what each command of specs calls (set in init: the actions reach specs
// through usage lines, which a package-level initialiser could not).
var actions map[string]action

func init() {
	actions = map[string]action{
		"clusters": func(b *Bot, ctx context.Context, _ call) (string, error) { return b.clusters(ctx), nil },
		"plan":     (*Bot).plan,
		"start":    (*Bot).start,
		"schedule": (*Bot).schedule,
		"unschedule": func(b *Bot, ctx context.Context, c call) (string, error) {
			_, err := b.opts.Engine.Unschedule(ctx, c.run, c.user)
			return done("Run %s is cancelled.", c.run, err)
		},
		"windows": func(b *Bot, _ context.Context, c call) (string, error) { return b.windows(c.cmd.Args) },
		"status":  func(b *Bot, ctx context.Context, c call) (string, error) { return b.status(ctx, c.cmd.Args) },
		"list":    func(b *Bot, ctx context.Context, c call) (string, error) { return b.list(ctx, c.cmd.Args) },
		"approve": func(b *Bot, ctx context.Context, c call) (string, error) {
			st, err := b.opts.Engine.Approve(ctx, c.run, c.user, upgrade.EligibleAs(c.via))
			if err != nil {
				return "", err
			}
			return notify.DecisionText(b.runView(st), c.user), nil
		},
		"reject": func(b *Bot, ctx context.Context, c call) (string, error) {
			reason := ""
			switch {
			case len(c.cmd.Args) > 1:
				reason = c.cmd.Args[1]
			case c.click:
				reason = words.RejectedWithButton
			}
			_, err := b.opts.Engine.Reject(ctx, c.run, c.user, reason, upgrade.EligibleAs(c.via))
			return done("reject", c.run, err)
		},
		"abort": func(b *Bot, ctx context.Context, c call) (string, error) {
			_, err := b.opts.Engine.Abort(ctx, c.run, c.user)
			return done("abort", c.run, err)
		},
		"rollback": func(b *Bot, ctx context.Context, c call) (string, error) {
			_, err := b.opts.Engine.Rollback(ctx, c.run, c.user)
			return done("rollback", c.run, err)
		},
		"resume": func(b *Bot, ctx context.Context, c call) (string, error) {
			_, err := b.opts.Engine.Resume(ctx, c.run, c.user)
			return done("resume", c.run, err)
		},
		"decommission": func(b *Bot, ctx context.Context, c call) (string, error) {
			_, err := b.opts.Engine.Decommission(ctx, c.run, c.user)
			return done("decommission", c.run, err)
		},
		"audit": func(b *Bot, ctx context.Context, c call) (string, error) { return b.auditText(ctx, c.run) },
		// The kept databases' command and status part are in failed.go.
		"drop-failed": (*Bot).dropFailed,
	}
}

func (b *Bot) plan(ctx context.Context, c call) (string, error) {
	var opts []upgrade.PlanOption
	if c.cmd.Chain {
		opts = append(opts, upgrade.AsChain)
	}
	p, err := b.opts.Engine.Plan(ctx, c.cmd.Args[0], c.cmd.Args[1], opts...)
	if err != nil {
		return "", err
	}
	return notify.PlanReply(notify.PlanText(p.Summary(), ""), p.Refused, p.Reason), nil
}

func (b *Bot) start(ctx context.Context, c call) (string, error) {
	r, err := b.opts.Engine.Start(ctx, upgrade.StartRequest{Cluster: c.cmd.Args[0], To: c.cmd.Args[1], RequestedBy: c.user, Force: c.cmd.Force, Chain: c.cmd.Chain, Ticket: c.cmd.Ticket})
	if err != nil {
		return "", err
	}
	return notify.StartedText(r), nil
}

func (b *Bot) schedule(ctx context.Context, c call) (string, error) {
	when := "next"
	if len(c.cmd.Args) > 2 {
		when = c.cmd.Args[2]
	}
	r, sch, err := b.opts.Engine.Schedule(ctx, upgrade.ScheduleRequest{Cluster: c.cmd.Args[0], To: c.cmd.Args[1], RequestedBy: c.user, When: when, Force: c.cmd.Force, Chain: c.cmd.Chain, Ticket: c.cmd.Ticket})
	if err != nil {
		return "", err
	}
	return notify.ScheduledText(r, sch, b.windowZone), nil
}

func done(command string, run domain.RunID, err error) (string, error) {
	if err != nil {
		return "", err
	}
	return words.Acted(command, run), nil
}

// clusters lists each cluster with what its nodes answer now.
func (b *Bot) clusters(ctx context.Context) string {
	var sb strings.Builder
	for _, c := range b.opts.Config.Clusters {
		sb.WriteString(notify.ClusterNodesText(c.Name, len(c.Nodes), b.nodeAnswers(ctx, c)))
	}
	return sb.String()
}

// nodeAnswers asks each node of c what it runs (nil when the bot has no way to ask).
func (b *Bot) nodeAnswers(ctx context.Context, c config.Cluster) []notify.NodeAnswer {
	if b.opts.Nodes == nil {
		return nil
	}
	answers := make([]notify.NodeAnswer, len(c.Nodes))
	var wg sync.WaitGroup
	for i, n := range c.Nodes {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			info, err := b.opts.Nodes.Info(ctx, n)
			answers[i] = notify.NodeAnswer{Node: n.Name, Version: info.Version, Ready: info.Ready, Err: err}
		})
	}
	wg.Wait()
	return answers
}

func (b *Bot) status(ctx context.Context, args []string) (string, error) {
	if len(args) == 0 {
		runs, err := b.opts.Engine.List(ctx, storage.RunFilter{Limit: 50})
		if err != nil {
			return "", err
		}
		return withKept(notify.InProgressText(runs, b.windowZone), b.failedDatabases(ctx, b.opts.Config.Clusters...)), nil
	}
	if c, ok := b.opts.Config.Cluster(args[0]); ok {
		return b.clusterStatus(ctx, *c)
	}
	id, err := domain.ParseRunID(args[0])
	if err != nil {
		return "", fmt.Errorf("%q is neither a run number nor a cluster (see `%s clusters`)", truncate(args[0], 40), b.opts.Config.Slack.Command)
	}
	st, err := b.opts.Engine.Status(ctx, id)
	if err != nil {
		return "", err
	}
	return notify.RunText(st, b.windowZone), nil
}

func (b *Bot) list(ctx context.Context, args []string) (string, error) {
	f := storage.RunFilter{Limit: 20}
	if len(args) > 0 {
		if _, ok := b.opts.Config.Cluster(args[0]); !ok {
			return "", fmt.Errorf("no cluster %q (see `%s clusters`)", truncate(args[0], 40), b.opts.Config.Slack.Command)
		}
		f.Cluster = args[0]
	}
	runs, err := b.opts.Engine.List(ctx, f)
	if err != nil {
		return "", err
	}
	return notify.RunListText(runs, b.windowZone), nil
}

func (b *Bot) auditText(ctx context.Context, run domain.RunID) (string, error) {
	evs, err := b.opts.Store.Audit(ctx, storage.AuditFilter{Run: run})
	if err != nil {
		return "", err
	}
	if len(evs) == 0 {
		return "", fmt.Errorf("run %s has no audit entries (no such run?)", run)
	}
	if err := b.attachRecord(ctx, run, evs[len(evs)-1].Seq); err != nil {
		b.opts.Log.Error("attach the change record", "run", run.String(), "err", err)
	}
	return notify.AuditText(evs), nil
}

// attachRecord uploads the run's change record (JSON Lines) into its thread, once per state
// of its audit log (last is its last event).
func (b *Bot) attachRecord(ctx context.Context, run domain.RunID, last uint64) error {
	if b.opts.Records == nil {
		return nil
	}
	lines, err := changerecord.Lines(ctx, b.opts.Records, changerecord.Filter{Run: run})
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := changerecord.WriteJSONL(&buf, lines); err != nil {
		return err
	}
	name, title := words.RecordFile(run, changerecord.Schema)
	return b.opts.Outbox.Upload(ctx, run, notify.UploadKey(run, fmt.Sprintf("record-%d", last)), notify.StatusKey(run),
		notify.File{Name: name, Title: title, AltText: "change record", Data: buf.Bytes()})
}

// errorText is how an engine error reads in Slack.
func errorText(err error) string {
	var ill *upgrade.IllegalError
	if errors.As(err, &ill) {
		return ill.Error()
	}
	return err.Error()
}

// windowZone is the time zone of a window (UTC when unknown).
func (b *Bot) windowZone(window string) *time.Location {
	if w, ok := b.opts.Config.Window(window); ok && w.Location != nil {
		return w.Location
	}
	return time.UTC
}

// windows lists the next three openings of each window of each (or one) cluster.
func (b *Bot) windows(args []string) (string, error) {
	var sb strings.Builder
	now := b.opts.Now()
	found := false
	for _, c := range b.opts.Config.Clusters {
		if len(args) > 0 && c.Name != args[0] {
			continue
		}
		found = true
		if len(c.Windows) == 0 {
			sb.WriteString(notify.NoWindowsText(c.Name))
			continue
		}
		for _, w := range c.Windows {
			next, err := b.opts.Engine.NextOpenings(c.Name, w, now, 3)
			if err != nil {
				return "", err
			}
			var opens []time.Time
			for _, o := range next {
				opens = append(opens, o.Opens)
			}
			sb.WriteString(notify.WindowText(c.Name, w, opens, b.windowZone(w)))
		}
	}
	if !found {
		return "", fmt.Errorf("no cluster %q (see `%s clusters`)", truncate(args[0], 40), b.opts.Config.Slack.Command)
	}
	for _, bo := range b.opts.Config.Blackouts {
		if bo.To.After(now) {
			sb.WriteString(notify.BlackoutText(bo.Name, bo.From, bo.To))
		}
	}
	return sb.String(), nil
}
