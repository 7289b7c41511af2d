package slackfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// snapshot is the fake's state as a file: the demo keeps the console's channel across
// runs, so a second run continues the first one's threads and drawbridge's recorded
// message refs still name messages that exist.
type snapshot struct {
	TSSeq      int64                  `json:"ts_seq"`
	IDSeq      int                    `json:"id_seq"`
	Channels   map[string]snapChannel `json:"channels"`
	Ephemerals []Ephemeral            `json:"ephemerals"`
	Files      map[string]*File       `json:"files"`
	FileIDs    []string               `json:"file_ids"`
}

type snapChannel struct {
	Top  []string           `json:"top"`
	Msgs map[string]snapMsg `json:"msgs"`
}

type snapMsg struct {
	Message
	ReplyTS []string `json:"reply_ts"`
}

// SaveFile writes the fake's channels, ephemerals and files to path (atomically).
func (s *Server) SaveFile(path string) error {
	s.mu.Lock()
	snap := snapshot{TSSeq: s.tsSeq, IDSeq: s.idSeq, Channels: map[string]snapChannel{},
		Ephemerals: s.ephem, Files: s.files, FileIDs: s.fileIDs}
	for id, c := range s.channels {
		sc := snapChannel{Top: c.top, Msgs: map[string]snapMsg{}}
		for ts, m := range c.msgs {
			mm := m.Message
			mm.Blocks, mm.Replies = nil, nil // kept as BlocksJSON; replies as ts
			sc.Msgs[ts] = snapMsg{Message: mm, ReplyTS: m.replies}
		}
		snap.Channels[id] = sc
	}
	b, err := json.Marshal(snap)
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("slackfake: save %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// LoadFile restores what SaveFile wrote; a missing file is an empty fake.
func (s *Server) LoadFile(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var snap snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		return fmt.Errorf("slackfake: load %s: %w", path, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tsSeq, s.idSeq = snap.TSSeq, snap.IDSeq
	s.ephem = snap.Ephemerals
	if snap.Files != nil {
		s.files = snap.Files
	}
	s.fileIDs = snap.FileIDs
	for id, sc := range snap.Channels {
		c := &channel{top: sc.Top, msgs: map[string]*message{}}
		for ts, sm := range sc.Msgs {
			m := &message{Message: sm.Message, replies: sm.ReplyTS}
			if m.BlocksJSON != "" {
				m.Blocks, _ = decodeBlocks(m.BlocksJSON)
			}
			c.msgs[ts] = m
		}
		s.channels[id] = c
	}
	s.notifyLocked()
	return nil
}
