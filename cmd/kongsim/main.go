// Command kongsim simulates Kong Gateway for drawbridge's tests and demo: the kong CLI, Kong's
// PostgreSQL schema and migrations, and running nodes with the Admin API, Status API and
// Prometheus metrics. Invoked as "kong" (a symlink), it is the kong CLI. See docs/kongsim.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/drawbridge/drawbridge/kongsim/cli"
)

func main() {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	env := &cli.Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Environ:    os.Environ(),
		TTY:        isTerminal(os.Stdin),
		Executable: exe,
	}
	ctx := context.Background()
	if len(os.Args) < 2 || os.Args[1] != "node" {
		// The node process handles its own signals (TERM fast stop, QUIT graceful).
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
	}
	os.Exit(cli.Main(ctx, env, os.Args[0], os.Args[1:]))
}

// isTerminal reports whether f is a character device (a terminal), as Kong's reset checks
// before prompting.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
