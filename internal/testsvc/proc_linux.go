package testsvc

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// sysProcAttr puts a server in its own process group, runs it as cred (nil: as ourselves), and
// has the kernel SIGKILL it if the test binary dies without running cleanups (a go test
// -timeout panic, a SIGINT). Pdeathsig is set after the credential change, so it survives it.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Credential: cred, Pdeathsig: syscall.SIGKILL}
}

// childPIDs lists the live children of ppid from /proc.
func childPIDs(ppid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var pids []int
	for _, path := range stats {
		pid, parent, state, ok := readStat(path)
		if ok && parent == ppid && state != 'Z' {
			pids = append(pids, pid)
		}
	}
	return pids
}

// alive reports whether pid exists and is not a zombie. Postgres backends orphaned by a killed
// postmaster are reparented to PID 1, which in a container may never reap them.
func alive(pid int) bool {
	_, _, state, ok := readStat("/proc/" + strconv.Itoa(pid) + "/stat")
	return ok && state != 'Z'
}

// readStat parses pid, parent pid and state from /proc/PID/stat. The command name in
// parentheses may contain spaces and parentheses, so fields are counted after the last ')'.
func readStat(path string) (pid, ppid int, state byte, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, 0, false
	}
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 1 || end < open {
		return 0, 0, 0, false
	}
	pid, err = strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil {
		return 0, 0, 0, false
	}
	fields := bytes.Fields(b[end+1:])
	if len(fields) < 2 || len(fields[0]) != 1 {
		return 0, 0, 0, false
	}
	ppid, err = strconv.Atoi(string(fields[1]))
	if err != nil {
		return 0, 0, 0, false
	}
	return pid, ppid, fields[0][0], true
}

// stopped reports whether pid is stopped by a signal, or gone.
func stopped(pid int) bool {
	_, _, state, ok := readStat("/proc/" + strconv.Itoa(pid) + "/stat")
	return !ok || state == 'T' || state == 'Z'
}
