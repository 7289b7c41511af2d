package config

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// validator checks a decoded Config for everything a user can get wrong. It records
// problems and never stops at the first one.
type validator struct {
	col     *collector
	cfg     *Config
	missing map[string]string // key path → unset variable that left it empty
}

var (
	reUser      = regexp.MustCompile(`^[UW][A-Z0-9]{6,20}$`)
	reGroup     = regexp.MustCompile(`^S[A-Z0-9]{6,20}$`)
	reChannel   = regexp.MustCompile(`^[CG][A-Z0-9]{6,20}$`)
	reTeam      = regexp.MustCompile(`^T[A-Z0-9]{6,20}$`)
	reName      = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	reNodeName  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
	reCommand   = regexp.MustCompile(`^/[a-z0-9_-]{1,31}$`)
	reSelector  = regexp.MustCompile(`^\s*` + matcher + `(\s*,\s*` + matcher + `)*\s*,?\s*$`)
	matcher     = `[a-zA-Z_][a-zA-Z0-9_]*\s*(=|!=|=~|!~)\s*"([^"\\]|\\.)*"`
	nameWant    = "lower-case letters, digits, - and _ (at most 63), e.g. prod-eu"
	userWant    = "a Slack user ID (U… or W…, e.g. U0AAAAAAA) or user group ID (S…, e.g. S0PLATFORM)"
	channelWant = "a Slack channel ID such as C0123456789 (channel details → About → Channel ID)"
	teamWant    = "a Slack team (workspace) ID such as T0123ABCD (the T… in the workspace's app.slack.com/client/T…/ address), or nothing to take any team"
)

func (v *validator) validate() {
	c := v.cfg
	v.listen("listen", c.Listen)
	v.required("state_file", c.StateFile, "a file path such as ./data/drawbridge.db")
	v.required("backup_dir", c.BackupDir, "a directory such as ./data/backups")
	v.slack()
	v.access()
	windows := v.windows()
	v.blackouts()
	v.clusters(windows)
	v.retention()
}

// empty reports a required key that is empty, naming the unset variable if one emptied it.
func (v *validator) required(path, val, want string) bool {
	if strings.TrimSpace(val) != "" {
		return true
	}
	if _, ok := v.missing[path]; ok {
		// Either already reported as an unset variable, or allowed (validate-config):
		// the value is checked where the variable is set.
		return false
	}
	if v.col.present(path) {
		v.col.add(path, want, "is empty")
	} else {
		v.col.add(path, want, "is missing")
	}
	return false
}

func (v *validator) allowMissing() bool { return v.cfg.MissingEnv != nil }

func (v *validator) listen(path, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.col.add(path, `host:port such as ":8080" or "127.0.0.1:8080"`, "%q is not an address: %v", addr, err)
		return
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		v.col.add(path, "a port from 0 to 65535", "%q has port %q", addr, port)
	}
	if host != "" && net.ParseIP(host) == nil && strings.ContainsAny(host, " /") {
		v.col.add(path, "a host name or IP address", "%q has host %q", addr, host)
	}
}

func (v *validator) slack() {
	s := &v.cfg.Slack
	if v.required("slack.bot_token", string(s.BotToken), "a bot token (xoxb-…), e.g. bot_token: ${SLACK_BOT_TOKEN}") &&
		!strings.HasPrefix(string(s.BotToken), "xoxb-") {
		v.col.add("slack.bot_token", "a bot token starting with xoxb- (OAuth & Permissions → Bot User OAuth Token)", "is not a bot token (it does not start with xoxb-)")
	}
	if s.AppToken != "" && !strings.HasPrefix(string(s.AppToken), "xapp-") {
		v.col.add("slack.app_token", "an app-level token starting with xapp- (Basic Information → App-Level Tokens), or nothing for HTTP mode", "is not an app-level token (it does not start with xapp-)")
	}
	if s.AppToken == "" && s.SigningSecret == "" {
		_, appUnset := v.missing["slack.app_token"]
		secretVar, secretUnset := v.missing["slack.signing_secret"]
		switch {
		case v.allowMissing() && (appUnset || secretUnset):
			// Which mode is meant is decided where the variables are set.
		case secretUnset:
			v.col.add("slack.signing_secret", "export "+secretVar+"=… (Basic Information → Signing Secret), or set slack.app_token for Socket Mode",
				"environment variable %s is not set, and HTTP mode (no app_token) needs the signing secret", secretVar)
		default:
			v.col.add("slack.signing_secret", "the app's signing secret (Basic Information → Signing Secret), or slack.app_token for Socket Mode",
				"is empty, and HTTP mode (no app_token) needs it to verify requests")
		}
	}
	if s.APIURL != "" {
		if v.url("slack.api_url", s.APIURL) && !strings.HasSuffix(s.APIURL, "/") {
			s.APIURL += "/" // slack-go builds method URLs as base + "chat.postMessage"
		}
	}
	if !reCommand.MatchString(s.Command) {
		v.col.add("slack.command", "a slash command such as /kong-upgrade (lower case, at most 32 characters)", "%q is not a slash command", s.Command)
	}
	if v.required("slack.channel", s.Channel, channelWant) && !reChannel.MatchString(s.Channel) {
		v.col.add("slack.channel", channelWant, "%q is not a channel ID%s", s.Channel, nameHint(s.Channel))
	}
	if s.Team != "" && !reTeam.MatchString(s.Team) {
		v.col.add("slack.team", teamWant, "%q is not a Slack team ID (the workspace's ID, not its name or domain)", s.Team)
	}
}

func nameHint(s string) string {
	if strings.HasPrefix(s, "#") || strings.HasPrefix(s, "@") {
		return " (names change; IDs do not)"
	}
	return ""
}

func (v *validator) access() {
	a := &v.cfg.Access
	v.principals("access.operators", a.Operators)
	approverUsers := v.principals("access.approvers", a.Approvers)
	if a.RequiredApprovals < 1 {
		v.col.add("access.required_approvals", "1 or more", "is %d: a run could cross the gate unapproved", a.RequiredApprovals)
	} else if approverUsers >= 0 && a.RequiredApprovals > approverUsers && len(a.Approvers) > 0 {
		v.col.add("access.required_approvals", fmt.Sprintf("at most %d, the number of approvers listed, or add a user group", approverUsers),
			"is %d but only %d approver(s) are listed and no user group: no run could ever be approved", a.RequiredApprovals, approverUsers)
	}
	if a.ApprovalTimeout <= 0 {
		v.col.add("access.approval_timeout", "a positive duration such as 2h", "is %s", a.ApprovalTimeout)
	}
}

// principals checks a list of user and group IDs. It returns the number of distinct
// user IDs, or -1 when the list holds a group (its size is known only at run time).
func (v *validator) principals(path string, ids []string) int {
	if len(ids) == 0 {
		v.col.add(path, "at least one "+userWant, "is empty: nobody could act")
		return 0
	}
	seen := map[string]int{}
	users, groups := 0, 0
	for i, id := range ids {
		p := index(path, i)
		switch {
		case reUser.MatchString(id):
			users++
		case reGroup.MatchString(id):
			groups++
		default:
			v.col.add(p, userWant, "%q is not a Slack user or user group ID%s", id, nameHint(id))
			continue
		}
		if j, dup := seen[id]; dup {
			v.col.add(p, "each ID once", "%s is listed twice (also %s)", id, index(path, j))
		}
		seen[id] = i
	}
	if groups > 0 {
		return -1
	}
	return len(seen)
}

// windows checks the maintenance windows and returns them by name.
func (v *validator) windows() map[string]bool {
	names := map[string]bool{}
	for i := range v.cfg.Windows {
		w := &v.cfg.Windows[i]
		p := index("windows", i)
		v.uniqueName(join(p, "name"), w.Name, names, "window")
		if w.Name == "next" {
			v.col.add(join(p, "name"), "another name", `"next" is reserved: "/kong-upgrade schedule <cluster> <version> next" means the next opening of any window`)
		}
		loc, err := loadLocation(w.Timezone)
		if err != nil {
			v.col.add(join(p, "timezone"), "an IANA time zone such as Europe/Berlin, America/New_York or UTC", "%v", err)
		}
		w.Location = loc
		w.Schedule = v.cron(join(p, "cron"), w.Cron)
		if w.Duration <= 0 {
			v.col.add(join(p, "duration"), "a positive duration such as 2h", "is %s: the window would never be open", w.Duration)
		}
		if w.RemindBefore < 0 {
			v.col.add(join(p, "remind_before"), "0 (no reminder) or a positive duration such as 1h", "is negative")
		}
	}
	return names
}

func loadLocation(name string) (*time.Location, error) {
	switch name {
	case "":
		return nil, fmt.Errorf("is empty")
	case "Local":
		return nil, fmt.Errorf(`"Local" depends on the machine drawbridge runs on`)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%q is not a known time zone", name)
	}
	return loc, nil
}

// cron parses a window's opening expression. robfig/cron v3.0.1 panics on a "TZ=" prefix
// without a space, and its zone prefix would fight the timezone key, so prefixes are refused
// before parsing, and the parser is still guarded.
func (v *validator) cron(path, spec string) (sched cron.Schedule) {
	const want = `5 fields "minute hour day-of-month month day-of-week", e.g. "0 2 * * SUN"`
	if strings.TrimSpace(spec) == "" {
		v.col.add(path, want, "is missing")
		return nil
	}
	if s := strings.TrimSpace(spec); strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ=") {
		v.col.add(path, want+", with the zone in the window's timezone key", "%q carries a time zone prefix", spec)
		return nil
	}
	if strings.HasPrefix(strings.TrimSpace(spec), "@every") {
		v.col.add(path, want, "%q is an interval, not a wall-clock opening time", spec)
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			v.col.add(path, want, "%q cannot be parsed: %v", spec, r)
			sched = nil
		}
	}()
	s, err := cron.ParseStandard(spec)
	if err != nil {
		v.col.add(path, want, "%q: %v", spec, err)
		return nil
	}
	if s.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		v.col.add(path, want, "%q never matches a real date", spec)
		return nil
	}
	return s
}

func (v *validator) blackouts() {
	names := map[string]bool{}
	for i, b := range v.cfg.Blackouts {
		p := index("blackouts", i)
		v.uniqueName(join(p, "name"), b.Name, names, "blackout")
		if b.From.IsZero() {
			v.col.add(join(p, "from"), "an RFC 3339 time such as 2026-12-20T00:00:00Z", "is missing")
		}
		if b.To.IsZero() {
			v.col.add(join(p, "to"), "an RFC 3339 time such as 2027-01-04T00:00:00Z", "is missing")
		}
		if !b.From.IsZero() && !b.To.IsZero() && !b.To.After(b.From) {
			v.col.add(join(p, "to"), "a time after from ("+b.From.Format(time.RFC3339)+")", "is not after from")
		}
	}
}

func (v *validator) uniqueName(path, name string, seen map[string]bool, what string) {
	if !v.required(path, name, nameWant) {
		return
	}
	if !reName.MatchString(name) {
		v.col.add(path, nameWant, "%q is not a valid %s name", name, what)
	}
	if seen[name] {
		v.col.add(path, "a name used once", "%s %q is defined twice", what, name)
	}
	seen[name] = true
}
