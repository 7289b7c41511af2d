package testsvc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// maxStartAttempts bounds retries when a free port was taken between choosing and binding it.
const maxStartAttempts = 3

// ErrAddrInUse marks a start that failed because another process bound the port first.
var ErrAddrInUse = errors.New("address already in use")

// freePort picks a TCP port on 127.0.0.1 that nobody listens on now, below the kernel's
// ephemeral range (ip_local_port_range), so that no outgoing connection takes it as its
// source port before the server binds it. Another process may still take it first, so
// callers retry on ErrAddrInUse.
func freePort() (int, error) {
	low, high := 10000, 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var lo, hi int
		if _, err := fmt.Sscanf(string(b), "%d %d", &lo, &hi); err == nil && lo > low+1000 {
			high = lo
		}
	}
	for range 1000 {
		port := low + rand.IntN(high-low)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		if err := l.Close(); err != nil {
			return 0, fmt.Errorf("testsvc: pick a free port: %w", err)
		}
		return port, nil
	}
	return 0, fmt.Errorf("testsvc: no free loopback port between %d and %d", low, high)
}

// FreePort is a TCP port on 127.0.0.1 nobody listens on right now, for a test that starts
// something on a fixed port (the demo's servers). Another process may take it first.
func FreePort(tb testing.TB) int {
	tb.Helper()
	port, err := freePort()
	if err != nil {
		tb.Fatal(err)
	}
	return port
}

// process is one started server process. done is closed once the process has exited and been
// reaped; waitErr is valid after that.
type process struct {
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
}

// startProcess starts cmd and reaps it in the background.
func startProcess(cmd *exec.Cmd) (*process, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// untilExit returns a context that is also cancelled when the process exits, so a readiness
// check talking to whoever holds our port does not wait out its timeout after our server died.
func (p *process) untilExit(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-p.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the process; a process that is already gone is not an error.
func (p *process) signal(sig syscall.Signal) error {
	if p.exited() {
		return nil
	}
	if err := syscall.Kill(p.pid(), sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %v to pid %d: %w", sig, p.pid(), err)
	}
	return nil
}

// wait waits up to d for the process to exit and reports whether it did.
func (p *process) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
		return false
	}
}

// kill sends SIGKILL and waits until the process has been reaped.
func (p *process) kill() error {
	if err := p.signal(syscall.SIGKILL); err != nil {
		return err
	}
	if !p.wait(10 * time.Second) {
		return fmt.Errorf("pid %d still running 10s after SIGKILL", p.pid())
	}
	return nil
}

// exitError describes why a server exited during start, with the tail of its log. It wraps
// ErrAddrInUse when the log shows the port was taken.
func exitError(name string, p *process, log string) error {
	err := fmt.Errorf("testsvc: %s exited during start (%v); log tail:\n%s", name, p.waitErr, tail(log, 30))
	if strings.Contains(strings.ToLower(log), "address already in use") {
		return fmt.Errorf("%w: %w", ErrAddrInUse, err)
	}
	return err
}

// logFile is a server's log file; start notes the offset, so a start error shows only the
// lines of that start, even when Restart appends to the same file.
type logFile string

func (l logFile) size() int64 {
	fi, err := os.Stat(string(l))
	if err != nil {
		return 0
	}
	return fi.Size()
}

// since returns the log from offset on (at most the last 64 KiB).
func (l logFile) since(offset int64) string {
	f, err := os.Open(string(l))
	if err != nil {
		return fmt.Sprintf("(cannot read log %s: %v)", l, err)
	}
	defer f.Close()
	const maxTail = 64 << 10
	if fi, err := f.Stat(); err == nil && fi.Size()-offset > maxTail {
		offset = fi.Size() - maxTail
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return fmt.Sprintf("(cannot read log %s: %v)", l, err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return fmt.Sprintf("(cannot read log %s: %v)", l, err)
	}
	return string(b)
}

// open opens the log for appending, for a child's stdout and stderr.
func (l logFile) open() (*os.File, error) {
	return os.OpenFile(string(l), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// cleanEnv is the environment for server processes: ours without PG* variables, which would
// change what initdb, postgres and pg_ctl do.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C")
}

// poll calls check every interval until it returns nil, stop returns a non-nil error, or ctx
// ends. The error on timeout includes the last error from check.
func poll(ctx context.Context, interval time.Duration, stop func() error, check func(context.Context) error) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	var last error
	for {
		if err := stop(); err != nil {
			return err
		}
		if last = check(ctx); last == nil {
			return nil
		}
		if err := stop(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			if err := stop(); err != nil { // the process's exit is what ended ctx
				return err
			}
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), last)
		case <-t.C:
		}
	}
}

// withDefaultTimeout gives ctx a deadline of d unless it already has one.
func withDefaultTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// writeFileAtomic writes data to path through a temporary file and a rename, so a server
// re-reading the file never sees half of it.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
