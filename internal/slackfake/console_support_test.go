package slackfake

import (
	"testing"
	"time"

	"github.com/slack-go/slack"
)

func TestVersionAndChanged(t *testing.T) {
	s, api := newFake(t, Options{})
	v0, changed := s.Version(), s.Changed()
	select {
	case <-changed:
		t.Fatal("Changed() is closed before any change")
	default:
	}
	if _, _, err := api.PostMessageContext(t.Context(), "C1", slack.MsgOptionText("hi", false)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("Changed() was not closed by a post")
	}
	if v := s.Version(); v != v0+1 {
		t.Errorf("Version() after one post = %d, want %d", v, v0+1)
	}
	again := s.Changed()
	select {
	case <-again:
		t.Fatal("the channel taken after the change is already closed")
	default:
	}
	// A refused call is answered, so it counts too.
	_, _, _ = api.PostMessageContext(t.Context(), "", slack.MsgOptionText("no channel", false))
	<-again
	if v := s.Version(); v != v0+2 {
		t.Errorf("Version() after a refused call = %d, want %d", v, v0+2)
	}
}
