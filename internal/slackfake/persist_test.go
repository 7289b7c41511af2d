package slackfake

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/slack-go/slack"
)

func TestSaveAndLoad(t *testing.T) {
	s := New(Options{Token: "xoxb-t", Channels: []string{"C1"}})
	defer s.Close()
	api := slack.New("xoxb-t", slack.OptionAPIURL(s.URL()))
	ctx := context.Background()
	_, ts, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("status", false),
		slack.MsgOptionBlocks(slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "*status*", false, false), nil, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("reply", false), slack.MsgOptionTS(ts)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "console.json")
	if err := s.SaveFile(path); err != nil {
		t.Fatal(err)
	}

	s2 := New(Options{Token: "xoxb-t", Channels: []string{"C1"}})
	defer s2.Close()
	if err := s2.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	msgs := s2.Messages("C1")
	if len(msgs) != 1 || msgs[0].TS != ts || len(msgs[0].Replies) != 1 || len(msgs[0].Blocks) != 1 {
		t.Fatalf("restored %+v", msgs)
	}
	api2 := slack.New("xoxb-t", slack.OptionAPIURL(s2.URL()))
	if _, _, _, err := api2.UpdateMessageContext(ctx, "C1", ts, slack.MsgOptionText("status, updated", false)); err != nil {
		t.Fatalf("update of a restored message: %v", err)
	}
	_, ts2, err := api2.PostMessageContext(ctx, "C1", slack.MsgOptionText("new", false))
	if err != nil || ts2 <= ts {
		t.Errorf("a new message after the restore has ts %s (old %s): %v", ts2, ts, err)
	}
	if err := s2.LoadFile(filepath.Join(t.TempDir(), "missing.json")); err != nil {
		t.Errorf("a missing file: %v", err)
	}
}
