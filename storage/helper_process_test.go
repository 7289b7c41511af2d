package storage

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"testing"
)

// TestHelperProcess is not a test: it is the body of the child processes
// that other tests start (see helperCommand). It does nothing unless
// DRAWBRIDGE_STORAGE_HELPER names a mode.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperModeEnv)
	if mode == "" {
		return
	}
	path := os.Getenv(helperPathEnv)
	var err error
	switch mode {
	case "hold":
		err = holdStore(path)
	case "crash":
		var seed uint64
		seed, err = strconv.ParseUint(os.Getenv(helperSeedEnv), 10, 64)
		if err == nil {
			err = crashWriter(path, seed)
		}
	default:
		err = fmt.Errorf("unknown helper mode %q", mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(2)
	}
	os.Exit(0)
}

// holdStore opens the store, says "ready", and keeps it open until its
// standard input closes.
func holdStore(path string) error {
	s, err := Open(path, Options{})
	if err != nil {
		return err
	}
	if err := s.Ping(context.Background()); err != nil {
		return err
	}
	fmt.Println("ready")
	if _, err := io.Copy(io.Discard, os.Stdin); err != nil {
		return err
	}
	return s.Close()
}
