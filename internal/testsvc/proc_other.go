//go:build !linux

package testsvc

import (
	"errors"
	"syscall"
)

// sysProcAttr puts a server in its own process group and runs it as cred (nil: as ourselves).
// Outside Linux there is no parent-death signal: a test binary killed without cleanups leaves
// its servers running.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Credential: cred}
}

// childPIDs is not implemented outside Linux: Pause and Kill reach only the postmaster.
func childPIDs(int) []int { return nil }

// alive reports whether pid exists (zombies count as alive here).
func alive(pid int) bool {
	return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// stopped cannot be observed outside Linux; SIGSTOP is assumed to take effect at once.
func stopped(int) bool { return true }
