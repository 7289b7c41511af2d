package bot

import (
	"context"

	"github.com/drawbridge/drawbridge/notify/words"
)

// otherTeam reports whether a request comes from a team drawbridge does not serve:
// slack.team is set and the request names another team, or none. Such a request is
// logged and recorded in the audit log as a denial; the caller refuses it (HTTP 403, or
// an empty Socket Mode ack) before anything else looks at it.
func (b *Bot) otherTeam(transport, team, user, what string) bool {
	want := b.opts.Config.Slack.Team
	if want == "" || team == want {
		return false
	}
	b.opts.Log.Warn("refused a Slack request from another team", "transport", transport, "team", team, "want", want, "user", user, "request", what)
	b.audit(context.Background(), 0, user, "denied", words.AuditOtherTeam(what, truncate(team, 40), want))
	return true
}

// errOtherTeam is the HTTP answer to a request from another team.
const errOtherTeam = "request from another Slack team"
