//go:build linux

package storage

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPingReportsFailedWrites fills the disk under the state file (its descriptor
// pointed at /dev/full, where every write fails with ENOSPC, while reads still come from
// the memory map) and frees it again: Ping, which writes nothing itself while writes
// succeed, reports the failed write, retries a write at most once per pingRetry, and is
// content again once a write commits.
func TestPingReportsFailedWrites(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no /dev/full to fail writes with: %v", err)
	}
	defer full.Close()
	clock := newTestClock()
	var file *os.File
	path := filepath.Join(t.TempDir(), "drawbridge.db")
	s := openStore(t, path, Options{NoSync: true, Now: clock.Now,
		openFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, perm)
			file = f
			return f, err
		}})
	ctx := t.Context()
	// redirect points the descriptor bbolt writes through at to.
	redirect := func(to *os.File) {
		t.Helper()
		if err := unix.Dup2(int(to.Fd()), int(file.Fd())); err != nil {
			t.Fatalf("dup2: %v", err)
		}
	}
	fresh, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	ping := func(want string) {
		t.Helper()
		err := s.Ping(ctx)
		switch {
		case want == "" && err != nil:
			t.Fatalf("Ping = %v, want nil", err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, syscall.ENOSPC)):
			t.Fatalf("Ping = %v, want an error saying %q and wrapping ENOSPC", err, want)
		}
	}

	ping("")
	redirect(full)
	if _, err := s.AppendAudit(ctx, AuditEvent{Action: "lost"}); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("AppendAudit on a full disk = %v, want ENOSPC", err)
	}
	ping("the last write failed")
	clock.Advance(pingRetry - 1)
	ping("the last write failed") // not yet time to retry
	clock.Advance(1)
	ping("writes fail") // Ping's own write failed: the disk is still full
	ping("the last write failed")

	redirect(fresh)
	ping("the last write failed") // Ping has not tried since
	clock.Advance(pingRetry)
	ping("") // its write committed
	ping("")

	// Any write that commits clears the failure; one its own check refused does not.
	redirect(full)
	if _, err := s.AppendAudit(ctx, AuditEvent{Action: "lost"}); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("AppendAudit on a full disk = %v, want ENOSPC", err)
	}
	redirect(fresh)
	if err := s.CompleteOutbox(ctx, 99, MessageRef{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("CompleteOutbox(99) = %v, want ErrNotFound", err)
	}
	ping("the last write failed")
	if _, err := s.AppendAudit(ctx, AuditEvent{Action: "kept"}); err != nil {
		t.Fatalf("AppendAudit once the disk has room: %v", err)
	}
	ping("")
}
