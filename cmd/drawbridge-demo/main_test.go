package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestCommandLine(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		code     int
		contains []string
	}{
		{"without kongsim", []string{"-data", t.TempDir(), "-kongsim", "/nonexistent/kongsim"}, 1,
			[]string{"kongsim binary /nonexistent/kongsim", "go build -o bin/kongsim ./cmd/kongsim, or run make demo"}},
		{"a bad flag", []string{"-port", "1"}, exitUsage, []string{"flag provided but not defined: -port", "-pg-port", "usage: drawbridge-demo"}},
		{"help", []string{"-h"}, 0, []string{"-data", "-listen"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			code := run(t.Context(), tc.args, &out, &out)
			if code != tc.code {
				t.Errorf("exit %d, want %d; output:\n%s", code, tc.code, out.String())
			}
			for _, s := range tc.contains {
				if !strings.Contains(out.String(), s) {
					t.Errorf("output lacks %q:\n%s", s, out.String())
				}
			}
		})
	}
}
