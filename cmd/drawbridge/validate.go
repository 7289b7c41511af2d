package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/drawbridge/drawbridge/config"
)

func runValidateConfig(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("validate-config", "[--require-env] FILE", stderr)
	requireEnv := fs.Bool("require-env", false, "treat unset ${VAR} references as problems, as serve does")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	path := fs.Arg(0)
	cfg, err := config.Load(path, config.LoadOptions{AllowMissingEnv: !*requireEnv})
	if err != nil {
		var ps *config.Problems
		if errors.As(err, &ps) {
			fmt.Fprintln(stdout, ps.Error())
		} else {
			fmt.Fprintf(stderr, "drawbridge: %v\n", err)
		}
		return 1
	}
	fmt.Fprintf(stdout, "%s is valid\n\n", path)
	for _, w := range cfg.SecretWarnings() {
		fmt.Fprintf(stdout, "warning: %s\n\n", w)
	}
	if err := cfg.WriteSummary(stdout, time.Now()); err != nil {
		fmt.Fprintf(stderr, "drawbridge: %v\n", err)
		return 1
	}
	return 0
}
