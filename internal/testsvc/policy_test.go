package testsvc

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestMissingBinaryAction(t *testing.T) {
	missing := &MissingBinaryError{Binary: "prometheus", Looked: "$PATH"}
	for _, tc := range []struct {
		name string
		err  error
		ci   string
		want action
	}{
		{"missing binary, CI unset", missing, "", actionSkip},
		{"missing binary, CI=true", missing, "true", actionFail},
		{"missing binary, CI=1", missing, "1", actionFail},
		{"missing binary, CI=false", missing, "false", actionSkip},
		{"missing binary, CI garbage", missing, "yes please", actionSkip},
		{"wrapped missing binary, CI unset", fmt.Errorf("start: %w", missing), "", actionSkip},
		{"other error, CI unset", errors.New("initdb: exit status 1"), "", actionFail},
		{"other error, CI=true", errors.New("initdb: exit status 1"), "true", actionFail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := missingBinaryAction(tc.err, tc.ci); got != tc.want {
				t.Errorf("missingBinaryAction(%v, CI=%q) = %v, want %v", tc.err, tc.ci, got, tc.want)
			}
		})
	}
}

func TestMissingBinaryErrorNamesTheFix(t *testing.T) {
	msg := (&MissingBinaryError{Binary: "initdb", Looked: "/usr/lib/postgresql/*/bin"}).Error()
	for _, want := range []string{"initdb", "/usr/lib/postgresql/*/bin", InstallHint} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not mention %q", msg, want)
		}
	}
}
