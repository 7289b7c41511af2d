package bot

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"

	"github.com/slack-go/slack"
)

// Body caps: a slash command is a small form; an interaction carries the whole message.
const (
	maxCommandBody     = 64 << 10
	maxInteractionBody = 2 << 20
)

// Reply is what Slack gets back within its three seconds: an ephemeral message, or
// nothing (empty 200).
type Reply struct {
	Text   string
	Blocks []slack.Block
}

func (r Reply) write(w http.ResponseWriter) {
	if r.Text == "" {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(r.json())
}

// json is the reply as Slack takes it in an HTTP response or a Socket Mode ack.
func (r Reply) json() []byte {
	msg := struct {
		ResponseType string        `json:"response_type"`
		Text         string        `json:"text"`
		Blocks       []slack.Block `json:"blocks,omitempty"`
	}{slack.ResponseTypeEphemeral, r.Text, r.Blocks}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // Slack's <#C…> and <@U…> stay readable
	_ = enc.Encode(msg)
	return bytes.TrimSpace(b.Bytes())
}

// readVerified reads a request body (at most limit bytes) and checks Slack's signature
// over it: v0 HMAC-SHA256 with the signing secret, timestamp within five minutes.
func (b *Bot) readVerified(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, "cannot read request body", http.StatusBadRequest)
		}
		return nil, false
	}
	sv, err := slack.NewSecretsVerifier(r.Header, b.opts.Config.Slack.SigningSecret.Reveal())
	if err == nil {
		_, _ = sv.Write(body)
		err = sv.Ensure()
	}
	if err != nil {
		b.opts.Log.Warn("refused a Slack request", "path", r.URL.Path, "remote", r.RemoteAddr, "err", err)
		http.Error(w, "invalid Slack signature: "+reason(err), http.StatusUnauthorized)
		return nil, false
	}
	return body, true
}

func reason(err error) string {
	switch {
	case errors.Is(err, slack.ErrMissingHeaders):
		return "missing X-Slack-Signature or X-Slack-Request-Timestamp"
	case errors.Is(err, slack.ErrExpiredTimestamp):
		return "timestamp outside the five-minute window"
	default:
		return "signature does not match"
	}
}

// CommandsHandler serves /slack/commands: a request that is not signed is refused (401),
// one from another team than slack.team (403), and one without a trigger_id (400).
func (b *Bot) CommandsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := b.readVerified(w, r, maxCommandBody)
		if !ok {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		sc, err := slack.SlashCommandParse(r)
		if err != nil {
			http.Error(w, "malformed slash command", http.StatusBadRequest)
			return
		}
		if b.otherTeam("http", sc.TeamID, sc.UserID, commandWhat(sc)) {
			http.Error(w, errOtherTeam, http.StatusForbidden)
			return
		}
		if sc.TriggerID == "" {
			// Slack sends one with every command; without it a replay cannot be told apart.
			b.opts.Log.Warn("refused a slash command without trigger_id", "remote", r.RemoteAddr, "user", sc.UserID)
			http.Error(w, "malformed slash command: no trigger_id", http.StatusBadRequest)
			return
		}
		b.clean(b.HandleCommand(sc)).write(w)
	})
}

// InteractionsHandler serves /slack/interactions: a request that is not signed is refused
// (401), and one from another team than slack.team (403).
func (b *Bot) InteractionsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := b.readVerified(w, r, maxInteractionBody)
		if !ok {
			return
		}
		cb, err := DecodeInteraction(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if b.otherTeam("http", interactionTeam(cb), cb.User.ID, interactionWhat(cb)) {
			http.Error(w, errOtherTeam, http.StatusForbidden)
			return
		}
		b.clean(b.HandleInteraction(cb)).write(w)
	})
}

// commandWhat names a slash command in logs and the audit log.
func commandWhat(sc slack.SlashCommand) string {
	return truncate(sc.Command+" "+sc.Text, 200)
}

// interactionTeam is the team an interaction comes from: team.id, or the user's team_id
// when the payload has no team.
func interactionTeam(cb slack.InteractionCallback) string {
	if cb.Team.ID != "" {
		return cb.Team.ID
	}
	return cb.User.TeamID
}

// interactionWhat names an interaction in logs and the audit log.
func interactionWhat(cb slack.InteractionCallback) string {
	what := "interaction " + string(cb.Type)
	for _, a := range cb.ActionCallback.BlockActions {
		if a != nil {
			what += " " + truncate(a.ActionID, 40)
		}
	}
	return what
}

// DecodeInteraction reads an interaction request body: a form with one field, payload,
// holding JSON.
func DecodeInteraction(body []byte) (slack.InteractionCallback, error) {
	var cb slack.InteractionCallback
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return cb, errors.New("malformed interaction: not a form")
	}
	payload := form.Get("payload")
	if payload == "" {
		return cb, errors.New("malformed interaction: no payload field")
	}
	if err := json.Unmarshal([]byte(payload), &cb); err != nil {
		return cb, errors.New("malformed interaction payload: " + err.Error())
	}
	return cb, nil
}
