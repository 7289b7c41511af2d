package notify

import (
	"bytes"
	"context"
	"sync/atomic"

	"github.com/slack-go/slack"
)

// Slack is the part of Slack's Web API that delivery needs: a thin adapter
// over slack-go (NewSlack), so that nothing else sees slack-go's client.
// Every error it returns is an *Error, classified at this edge.
type Slack interface {
	// PostMessage posts m to channel (in the thread of threadTS when set)
	// and returns the new message's ts.
	PostMessage(ctx context.Context, channel, threadTS string, m Message) (ts string, err error)
	// UpdateMessage replaces the text and blocks of the message at ts.
	UpdateMessage(ctx context.Context, channel, ts string, m Message) error
	// PostEphemeral shows m to one user in channel (not recorded, not editable).
	PostEphemeral(ctx context.Context, channel, user string, m Message) error
	// UploadFile shares f in channel (in the thread of threadTS when set)
	// with files upload v2 and returns the file's ID.
	UploadFile(ctx context.Context, channel, threadTS string, f File) (fileID string, err error)
}

// Finder is implemented by Slack adapters that can find a message posted
// with an outbox key (NewSlack's adapter: it embeds the key in the message
// metadata and reads it back with conversations.history/replies, which needs
// the channels:history or groups:history scope). The Deliverer uses it
// before posting a message again whose earlier attempt may have reached
// Slack.
type Finder interface {
	FindPosted(ctx context.Context, channel, threadTS, key string) (ts string, found bool, err error)
}

// File is a file to share in a run's thread, e.g. a PNG chart of the watch.
type File struct {
	Name    string `json:"name"` // file name, e.g. "watch-12.png"
	Title   string `json:"title,omitempty"`
	AltText string `json:"alt_text,omitempty"`
	Comment string `json:"comment,omitempty"` // initial comment posted with the file
	Data    []byte `json:"data"`
}

// metadataEvent is the message metadata event type that carries an outbox key.
const metadataEvent = "drawbridge_outbox"

// NewSlack adapts a slack-go client. Its errors are *Error (see Classify).
// Retries are the Deliverer's job: do not set slack.OptionRetry on api.
func NewSlack(api *slack.Client) Slack { return &slackAPI{api: api} }

var _ Finder = (*slackAPI)(nil)

type slackAPI struct {
	api *slack.Client
	// noMetadata is set once Slack refused message metadata; posts then go
	// without it (and a lost answer can no longer be looked up).
	noMetadata atomic.Bool
}

func content(m Message, clearBlocks bool) []slack.MsgOption {
	opts := []slack.MsgOption{slack.MsgOptionText(m.Text, false), slack.MsgOptionDisableLinkUnfurl()}
	if len(m.Blocks) > 0 || clearBlocks {
		opts = append(opts, slack.MsgOptionBlocks(m.Blocks...))
	}
	return opts
}

func (s *slackAPI) PostMessage(ctx context.Context, channel, threadTS string, m Message) (string, error) {
	opts := content(m, false)
	if threadTS != "" {
		opts = append(opts, slack.MsgOptionTS(threadTS))
	}
	if m.Key != "" && !s.noMetadata.Load() {
		meta := slack.MsgOptionMetadata(slack.SlackMetadata{EventType: metadataEvent, EventPayload: map[string]any{"key": m.Key}})
		_, ts, err := s.api.PostMessageContext(ctx, channel, append(opts, meta)...)
		e := Classify(err)
		if e == nil || e.Class != Permanent || !isMetadataCode(e.Code) {
			return ts, nilIfNone(e)
		}
		s.noMetadata.Store(true) // Slack will not take our metadata: post without it
	}
	_, ts, err := s.api.PostMessageContext(ctx, channel, opts...)
	return ts, nilIfNone(Classify(err))
}

func isMetadataCode(code string) bool {
	return code == "invalid_metadata_format" || code == "invalid_metadata_schema" || code == "metadata_too_large"
}

// nilIfNone avoids a non-nil error interface holding a nil *Error.
func nilIfNone(e *Error) error {
	if e == nil {
		return nil
	}
	return e
}

func (s *slackAPI) UpdateMessage(ctx context.Context, channel, ts string, m Message) error {
	_, _, _, err := s.api.UpdateMessageContext(ctx, channel, ts, content(m, true)...)
	return nilIfNone(Classify(err))
}

func (s *slackAPI) PostEphemeral(ctx context.Context, channel, user string, m Message) error {
	_, err := s.api.PostEphemeralContext(ctx, channel, user, content(m, false)...)
	return nilIfNone(Classify(err))
}

func (s *slackAPI) UploadFile(ctx context.Context, channel, threadTS string, f File) (string, error) {
	sum, err := s.api.UploadFileContext(ctx, slack.UploadFileParameters{
		Filename: f.Name, FileSize: len(f.Data), Reader: bytes.NewReader(f.Data), Title: f.Title,
		AltTxt: f.AltText, InitialComment: f.Comment, Channel: channel, ThreadTimestamp: threadTS,
	})
	if err != nil {
		return "", Classify(err)
	}
	return sum.ID, nil
}

// FindPosted looks for the message carrying key in its metadata among the
// channel's latest 100 messages, or in the thread of threadTS.
func (s *slackAPI) FindPosted(ctx context.Context, channel, threadTS, key string) (string, bool, error) {
	var (
		msgs []slack.Message
		err  error
	)
	if threadTS == "" {
		var h *slack.GetConversationHistoryResponse
		h, err = s.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
			ChannelID: channel, Limit: 100, IncludeAllMetadata: true,
		})
		if h != nil {
			msgs = h.Messages
		}
	} else {
		msgs, _, _, err = s.api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
			ChannelID: channel, Timestamp: threadTS, Limit: 200, IncludeAllMetadata: true,
		})
	}
	if err != nil {
		return "", false, Classify(err)
	}
	for _, m := range msgs {
		if m.Metadata.EventType == metadataEvent && m.Metadata.EventPayload["key"] == key {
			return m.Timestamp, true, nil
		}
	}
	return "", false, nil
}
