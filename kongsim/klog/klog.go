// Package klog writes output the way the kong CLI does (kong/cmd/utils/log.lua): info
// lines on stdout without a prefix, warnings and errors on stderr as
// "YYYY/MM/DD HH:MM:SS [warn] msg", every line prefixed at --v and --vv, nothing with -q,
// and a failing command's "Error: …" block with exit code 1.
package klog

import (
	"fmt"
	"io"
	"time"
)

// Level is the CLI's verbosity.
type Level int

const (
	Quiet   Level = iota - 1 // -q: no output at all
	Normal                   // default
	Verbose                  // --v
	Debug                    // --vv
)

// Logger writes kong-CLI style output.
type Logger struct {
	Stdout, Stderr io.Writer
	Level          Level
	Now            func() time.Time // default time.Now
}

func (l *Logger) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func (l *Logger) prefixed(w io.Writer, tag, format string, args ...any) {
	fmt.Fprintf(w, "%s [%s] %s\n", l.now().Format("2006/01/02 15:04:05"), tag, fmt.Sprintf(format, args...))
}

// Info logs at info level: stdout, no prefix unless --v or --vv.
func (l *Logger) Info(format string, args ...any) {
	switch {
	case l.Level == Quiet:
	case l.Level >= Verbose:
		l.prefixed(l.Stdout, "info", format, args...)
	default:
		fmt.Fprintf(l.Stdout, format+"\n", args...)
	}
}

// Verbose logs only at --v and above.
func (l *Logger) Verbose(format string, args ...any) {
	if l.Level >= Verbose {
		l.prefixed(l.Stdout, "verbose", format, args...)
	}
}

// Debugf logs only at --vv.
func (l *Logger) Debugf(format string, args ...any) {
	if l.Level >= Debug {
		l.prefixed(l.Stdout, "debug", format, args...)
	}
}

// Warn logs a warning on stderr.
func (l *Logger) Warn(format string, args ...any) {
	if l.Level != Quiet {
		l.prefixed(l.Stderr, "warn", format, args...)
	}
}

// Errorf logs an error line on stderr (not the final "Error:" block).
func (l *Logger) Errorf(format string, args ...any) {
	if l.Level != Quiet {
		l.prefixed(l.Stderr, "error", format, args...)
	}
}

// Fail prints the kong CLI's error block for err and returns exit code 1:
//
//	Error: <message>
//
//	  Run with --v (verbose) or --vv (debug) for more details
//
// The error block is printed even with -q, as Kong's does (it comes from bin/kong's
// error handler, not the logger).
func (l *Logger) Fail(err error) int {
	fmt.Fprintf(l.Stderr, "Error: %s\n\n  Run with --v (verbose) or --vv (debug) for more details\n", err)
	return 1
}
