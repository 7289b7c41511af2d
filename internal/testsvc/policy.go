package testsvc

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"
)

// InstallHint is the command that installs every binary this package needs (Debian/Ubuntu).
const InstallHint = "apt-get install -y postgresql prometheus"

// MissingBinaryError reports a server binary that is not installed.
type MissingBinaryError struct {
	Binary string // e.g. "initdb" or "prometheus"
	Looked string // where it was looked for
}

func (e *MissingBinaryError) Error() string {
	return fmt.Sprintf("testsvc: %s not found (looked in %s); install with: %s", e.Binary, e.Looked, InstallHint)
}

// ShouldSkip reports whether tests should be skipped, not failed, because of err: true only when
// err is (or wraps) a *MissingBinaryError and the environment variable CI is not true.
// Meant for TestMain, which has no testing.TB; StartPostgres and StartPrometheus apply it themselves.
func ShouldSkip(err error) bool {
	return missingBinaryAction(err, os.Getenv("CI")) == actionSkip
}

type action int

const (
	actionFail action = iota
	actionSkip
)

// missingBinaryAction decides what a start error means for a test, given the value of $CI.
// Only a missing binary outside CI skips; every other error fails.
func missingBinaryAction(err error, ci string) action {
	var missing *MissingBinaryError
	if !errors.As(err, &missing) {
		return actionFail
	}
	if inCI, perr := strconv.ParseBool(ci); perr == nil && inCI {
		return actionFail
	}
	return actionSkip
}

// skipOrFail ends the test because starting a server failed.
func skipOrFail(tb testing.TB, err error) {
	tb.Helper()
	switch missingBinaryAction(err, os.Getenv("CI")) {
	case actionSkip:
		tb.Skipf("skipping: %v", err)
	default:
		var missing *MissingBinaryError
		if errors.As(err, &missing) {
			tb.Fatalf("%v (CI=true: a missing binary fails instead of skipping)", err)
		}
		tb.Fatalf("%v", err)
	}
}
