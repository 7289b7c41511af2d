package nodecmd

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"
)

// startError is a program that could not be started: nothing ran.
type startError struct {
	prog string
	err  error
}

func (e *startError) Error() string {
	if errors.Is(e.err, exec.ErrNotFound) || errors.Is(e.err, fs.ErrNotExist) {
		return "exec " + e.prog + ": not found"
	}
	var pe *fs.PathError
	if errors.As(e.err, &pe) {
		return "exec " + e.prog + ": " + pe.Err.Error()
	}
	var ee *exec.Error
	if errors.As(e.err, &ee) {
		return "exec " + e.prog + ": " + ee.Err.Error()
	}
	return "exec " + e.prog + ": " + e.err.Error()
}

func (e *startError) Unwrap() error { return e.err }

// runGroup runs argv in a process group of its own with stdout and stderr on out, stdin on
// /dev/null and the environment env, and waits for it to exit. When ctx ends first the whole group gets
// SIGKILL and killed is true. exit is the exit status, -1 when killed by a signal. A
// program that cannot be started gives a *startError.
func runGroup(ctx context.Context, argv []string, out *os.File, env []string) (exit int, killed bool, err error) {
	cmd := exec.Command(argv[0], argv[1:]...) // argv[0] looked up in $PATH; no shell
	cmd.Stdout, cmd.Stderr = out, out         // one descriptor: the log keeps write order
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return -1, false, &startError{prog: argv[0], err: err}
	}
	var wasKilled atomic.Bool
	done := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-ctx.Done():
			select {
			case <-done:
				return
			default:
			}
			wasKilled.Store(true)
			// The group's id is the leader's pid, which cannot be reused while it is
			// unreaped or while any member of the group lives.
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		case <-done:
		}
	}()
	err = cmd.Wait()
	close(done)
	<-watched
	// A program that exited by itself as the deadline came was not killed.
	killed = wasKilled.Load() && !cmd.ProcessState.Exited()
	return cmd.ProcessState.ExitCode(), killed, err // err: *exec.ExitError, "exit status 3"
}
