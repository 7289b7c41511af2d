// Package nodecmd owns running the node commands of a cluster's config (stop, install,
// migrations up and finish, start, …): argv rendered from the config's templates, run
// without a shell, each in its own process group, bounded in time and in parallelism,
// with the whole output kept in a log file and its tail in the result.
//
// A command is executed directly (argv[0] looked up in $PATH): an argument such as
// "a; rm -rf /" or "$(id)" reaches the program literally. Its stdin is /dev/null; its
// stdout and stderr share one file descriptor on the log file, so the log holds both
// interleaved exactly as written (as 2>&1 would). On timeout or cancellation the whole
// process group is killed with SIGKILL, children included; a child that left the group
// (setsid, as a daemonising "kong start" does) is not touched, and the command returns as
// soon as the program itself exits, whoever still holds its output.
package nodecmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/drawbridge/drawbridge/kong"
	"github.com/drawbridge/drawbridge/scrub"
)

// Defaults for a Runner's zero fields.
const (
	DefaultTimeout   = 10 * time.Minute // as config's command_timeout
	DefaultTailBytes = 4096
)

// ErrTimeout is wrapped by the error of a command killed because it ran longer than
// Runner.Timeout.
var ErrTimeout = errors.New("timed out")

// Runner runs node commands. Fields left zero take the defaults noted.
type Runner struct {
	OutputDir   string        // the whole output of every command goes to a file here (created 0700); required
	Parallelism int           // RunAll runs at most this many commands at once; default 1
	Timeout     time.Duration // per command; default DefaultTimeout
	TailBytes   int           // how much of the output's end a result carries; default DefaultTailBytes

	// Now is the clock for Started, Duration and log file names; default time.Now.
	Now func() time.Time

	// Env is the commands' environment; nil: MinimalEnv(nil). Never drawbridge's own: it
	// holds the Slack tokens and the database passwords.
	Env []string
	// Scrub removes known secrets from what a result carries (argv, output tail, error) and
	// from the output file; nil: nothing is scrubbed.
	Scrub *scrub.Scrubber
}

// BaseEnv are the variables every command gets from drawbridge's environment.
var BaseEnv = []string{"PATH", "HOME", "LANG", "TZ"}

// MinimalEnv is the environment of node commands: BaseEnv and the variables named in allow
// (a cluster's commands_env), as drawbridge's environment has them.
func MinimalEnv(allow []string) []string {
	out := []string{}
	for _, k := range append(slices.Clone(BaseEnv), allow...) {
		if v, ok := os.LookupEnv(k); ok && !slices.ContainsFunc(out, func(kv string) bool { return strings.HasPrefix(kv, k+"=") }) {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// Job is one command to run.
type Job struct {
	Action string   // stop, start, install, migrations_up, … (in messages and the log file name)
	Node   string   // the node's name; "" for run-once commands
	Argv   []string // rendered: program and arguments
}

// label names a job in messages: "stop on kong-eu-1", or "migrations_up".
func (j Job) label() string {
	action := j.Action
	if action == "" {
		action = "command"
	}
	if j.Node == "" {
		return action
	}
	return action + " on " + j.Node
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Runner) timeout() time.Duration {
	if r.Timeout > 0 {
		return r.Timeout
	}
	return DefaultTimeout
}

func (r *Runner) tailBytes() int {
	if r.TailBytes > 0 {
		return r.TailBytes
	}
	return DefaultTailBytes
}

func (r *Runner) parallelism() int { return max(r.Parallelism, 1) }

// RunAll runs jobs with at most Parallelism at once, starting them in job order, and
// returns their results in job order. A failure does not stop the others; when ctx ends,
// running commands are killed and jobs not yet started are reported as not started.
func (r *Runner) RunAll(ctx context.Context, jobs []Job) []kong.CommandResult {
	out := make([]kong.CommandResult, len(jobs))
	slots := make(chan struct{}, r.parallelism())
	var wg sync.WaitGroup
	for i, j := range jobs {
		if !acquire(ctx, slots) {
			out[i] = r.notStarted(j, ctx.Err())
			continue
		}
		wg.Go(func() {
			defer func() { <-slots }()
			out[i] = r.Run(ctx, j)
		})
	}
	wg.Wait()
	return out
}

// acquire takes a slot, or reports false once ctx has ended.
func acquire(ctx context.Context, slots chan struct{}) bool {
	if ctx.Err() != nil {
		return false
	}
	select {
	case slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// Run runs one job to its end, its timeout or ctx's end. Err is nil exactly when the
// program exited 0.
func (r *Runner) Run(ctx context.Context, j Job) kong.CommandResult {
	res := kong.CommandResult{Action: j.Action, Node: j.Node, Argv: slices.Clone(j.Argv), ExitCode: -1, Started: r.now()}
	switch {
	case len(j.Argv) == 0 || j.Argv[0] == "":
		res.Err = fmt.Errorf("%s: no program to run", j.label())
	case r.OutputDir == "":
		res.Err = fmt.Errorf("%s: nodecmd: Runner.OutputDir is not set", j.label())
	case ctx.Err() != nil:
		res.Err = fmt.Errorf("%s: not started: %w", j.label(), ctx.Err())
	default:
		r.run(ctx, j, &res)
	}
	res.Duration = r.now().Sub(res.Started)
	return res
}

func (r *Runner) notStarted(j Job, err error) kong.CommandResult {
	return kong.CommandResult{Action: j.Action, Node: j.Node, Argv: slices.Clone(j.Argv), ExitCode: -1,
		Started: r.now(), Err: fmt.Errorf("%s: not started: %w", j.label(), err)}
}

func (r *Runner) run(ctx context.Context, j Job, res *kong.CommandResult) {
	logf, err := createLog(r.OutputDir, res.Started, j)
	if err != nil {
		res.Err = fmt.Errorf("%s: %w", j.label(), err)
		return
	}
	res.LogPath = logf.Name()
	timeout := r.timeout()
	runCtx, cancel := context.WithTimeoutCause(ctx, timeout, ErrTimeout)
	defer cancel()
	env := r.Env
	if env == nil {
		env = MinimalEnv(nil)
	}
	exit, killed, err := runGroup(runCtx, j.Argv, logf, env)
	_ = logf.Close() // the program holds descriptors of its own on the file
	res.Argv = scrubAll(r.Scrub, res.Argv)
	if r.Scrub != nil {
		scrubFile(r.Scrub, res.LogPath)
	}
	if errors.As(err, new(*startError)) {
		_ = removeLog(res.LogPath) // nothing ran: no output to keep
		res.LogPath = ""
		res.Err = fmt.Errorf("%s: %w", j.label(), err)
		return
	}
	res.ExitCode = exit
	res.Tail = r.Scrub.String(readTail(res.LogPath, r.tailBytes()))
	switch {
	case killed && errors.Is(context.Cause(runCtx), ErrTimeout):
		err = fmt.Errorf("%w after %s, process group killed", ErrTimeout, timeout)
	case killed:
		err = fmt.Errorf("cancelled after %s, process group killed: %w", r.now().Sub(res.Started).Round(time.Millisecond), ctx.Err())
	case err == nil:
		return
	}
	res.Err = fmt.Errorf("%s: %s: %w%s", j.label(), argvString(res.Argv), err, errTail(res.Tail))
}

// argvString writes argv for a person, quoting the elements a shell would split or expand.
func argvString(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\$`;&|<>*?()[]{}#~!") {
			a = strconv.Quote(a)
		}
		parts[i] = a
	}
	return strings.Join(parts, " ")
}

func scrubAll(s *scrub.Scrubber, in []string) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = s.String(v)
	}
	return out
}

// scrubFile rewrites a command's output file without the secrets it printed, by renaming
// a scrubbed copy over it (a daemon the command started keeps writing to the old file, which
// is gone). A file without secrets is left as it is.
func scrubFile(s *scrub.Scrubber, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	clean := s.Bytes(b)
	if bytes.Equal(clean, b) {
		return
	}
	tmp := path + ".scrubbed"
	if err := os.WriteFile(tmp, clean, 0o600); err != nil {
		_ = os.Remove(path) // better no output than a secret
		return
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		_ = os.Remove(path)
	}
}
