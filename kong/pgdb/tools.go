package pgdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// tools are the client binaries this package runs, found once per DB.
type tools struct {
	once    sync.Once
	binDir  string // Options.BinDir
	dump    string
	restore string
	err     error
}

func (t *tools) find() error {
	t.once.Do(func() { t.dump, t.restore, t.err = findTools(t.binDir) })
	return t.err
}

// findTools returns the paths of pg_dump and pg_restore: in binDir when it is set, else on
// $PATH, else in the newest /usr/lib/postgresql/*/bin holding both.
func findTools(binDir string) (dump, restore string, err error) {
	if binDir != "" {
		dump, restore = filepath.Join(binDir, "pg_dump"), filepath.Join(binDir, "pg_restore")
		for _, p := range []string{dump, restore} {
			if !isExecutable(p) {
				return "", "", fmt.Errorf("%s not found in %s", filepath.Base(p), binDir)
			}
		}
		return dump, restore, nil
	}
	d, err1 := exec.LookPath("pg_dump")
	r, err2 := exec.LookPath("pg_restore")
	if err1 == nil && err2 == nil {
		return d, r, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.SliceStable(dirs, func(i, j int) bool { return pgMajor(dirs[i]) > pgMajor(dirs[j]) })
	for _, dir := range dirs {
		d, r := filepath.Join(dir, "pg_dump"), filepath.Join(dir, "pg_restore")
		if isExecutable(d) && isExecutable(r) {
			return d, r, nil
		}
	}
	return "", "", errors.New("pg_dump and pg_restore not found on $PATH nor in /usr/lib/postgresql/*/bin (set Options.BinDir)")
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// pgMajor is VERSION of /usr/lib/postgresql/VERSION/bin as a number, -1 if it is none.
func pgMajor(binDir string) float64 {
	v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	if err != nil {
		return -1
	}
	return v
}

// toolRun is one run of pg_dump or pg_restore.
type toolRun struct {
	path     string   // the binary
	args     []string // never a password
	passfile string   // PGPASSFILE, "" for none
	stdout   io.Writer
}

// command builds the process; the caller starts it and calls finish after Wait.
func (r toolRun) command(ctx context.Context) (*exec.Cmd, *tailBuffer) {
	cmd := exec.CommandContext(ctx, r.path, r.args...)
	cmd.Env = toolEnv(r.passfile)
	cmd.Stdout = r.stdout
	stderr := &tailBuffer{max: 4096}
	cmd.Stderr = stderr
	cmd.WaitDelay = 5 * time.Second
	return cmd, stderr
}

// run runs the tool to completion. A non-zero exit is a *ToolError with its stderr's tail.
func (r toolRun) run(ctx context.Context) error {
	cmd, stderr := r.command(ctx)
	return toolResult(ctx, filepath.Base(r.path), cmd.Run(), stderr)
}

// toolResult turns the error of Run or Wait into a *ToolError, or the context's error when
// the caller cancelled.
func toolResult(ctx context.Context, tool string, err error, stderr *tailBuffer) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s stopped: %w", tool, context.Cause(ctx))
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return fmt.Errorf("run %s: %w", tool, err)
	}
	return &ToolError{Tool: tool, ExitCode: exit.ExitCode(), Stderr: stderr.tail(8)}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// tail returns the last n non-empty lines, trimmed and joined with "; ".
func (t *tailBuffer) tail(n int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var lines []string
	for _, l := range strings.Split(string(t.buf), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}
