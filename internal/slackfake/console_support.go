package slackfake

// Helpers for readers that follow the state as it changes (the demo console):
// a cheap version number and the channel that is closed on the next change.

// Version counts the calls answered so far. Every change to messages,
// ephemerals and files comes with an answered call, so a reader that saw
// version v has seen everything once Version() still returns v.
func (s *Server) Version() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

// Changed returns a channel that is closed at the next change (a call
// answered, a group set). Take it before reading the state, then wait on it:
// a change in between closes it at once, so nothing is missed.
func (s *Server) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}
