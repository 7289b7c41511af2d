package nodecmd

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"
)

// Cut marks output left out of a tail.
const Cut = "…"

// Bounds of the output quoted in an error.
const (
	errTailLines = 10
	errTailBytes = 1024
)

// createLog creates OutputDir/<unix-nanos>-<action>[-<node>].log, readable by its owner
// only. Two commands named alike in the same nanosecond get consecutive nanoseconds.
func createLog(dir string, at time.Time, j Job) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	suffix := "-" + fileSafe(j.Action)
	if j.Action == "" {
		suffix = "-command"
	}
	if j.Node != "" {
		suffix += "-" + fileSafe(j.Node)
	}
	nanos := at.UnixNano()
	for range 1000 {
		path := filepath.Join(dir, fmt.Sprintf("%d%s.log", nanos, suffix))
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			nanos++
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("log file: %w", err)
		}
		return f, nil
	}
	return nil, fmt.Errorf("log file: no free name for %d%s.log in %s", at.UnixNano(), suffix, dir)
}

func removeLog(path string) error { return os.Remove(path) }

// fileSafe keeps letters, digits, '.', '_' and '-' of a name; anything else becomes '_'.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '_'
	}, s)
}

// readTail returns the last n bytes of the file, cut after a newline when the cut part
// holds one, and marked with Cut when anything was left out. It never fails: a log that
// cannot be read gives a note saying so.
func readTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read the output: %v)", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Sprintf("(cannot read the output: %v)", err)
	}
	offset := max(fi.Size()-int64(n), 0)
	b := make([]byte, fi.Size()-offset)
	if _, err := f.ReadAt(b, offset); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Sprintf("(cannot read the output: %v)", err)
	}
	if offset == 0 {
		return string(b)
	}
	return cutTail(b)
}

// cutTail marks the start of b as cut: after its first newline when a line follows it,
// else at the first whole UTF-8 character.
func cutTail(b []byte) string {
	s := string(b)
	if i := strings.IndexByte(s, '\n'); i >= 0 && i < len(s)-1 {
		return Cut + "\n" + s[i+1:]
	}
	for len(s) > 0 && !utf8.RuneStart(s[0]) {
		s = s[1:]
	}
	return Cut + s
}

// errTail quotes the end of the output for an error: at most errTailLines lines and
// errTailBytes bytes, or "" when there was no output.
func errTail(tail string) string {
	s := strings.TrimRight(tail, " \t\r\n")
	if s == "" {
		return ""
	}
	cut := false
	if len(s) > errTailBytes {
		s, cut = cutTail([]byte(s[len(s)-errTailBytes:])), false
	}
	if lines := strings.Split(s, "\n"); len(lines) > errTailLines {
		s, cut = strings.Join(lines[len(lines)-errTailLines:], "\n"), true
	}
	if cut && !strings.HasPrefix(s, Cut) {
		s = Cut + "\n" + s
	}
	return "; output ends:\n" + s
}
