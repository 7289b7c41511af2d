package testsvc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Finding PostgreSQL's binaries and handling its processes.

// findPostgresBinDir returns $DRAWBRIDGE_PG_BIN, else the newest /usr/lib/postgresql/*/bin
// holding initdb and postgres, else the directory of initdb on $PATH.
func findPostgresBinDir() (string, error) {
	if dir := os.Getenv("DRAWBRIDGE_PG_BIN"); dir != "" {
		if missing := missingIn(dir); missing != "" {
			return "", &MissingBinaryError{Binary: missing, Looked: "DRAWBRIDGE_PG_BIN=" + dir}
		}
		return dir, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.SliceStable(dirs, func(i, j int) bool { return pgMajor(dirs[i]) > pgMajor(dirs[j]) })
	for _, dir := range dirs {
		if missingIn(dir) == "" {
			return dir, nil
		}
	}
	if initdb, err := exec.LookPath("initdb"); err == nil {
		if dir := filepath.Dir(initdb); missingIn(dir) == "" {
			return dir, nil
		}
	}
	return "", &MissingBinaryError{Binary: "initdb and postgres", Looked: "$DRAWBRIDGE_PG_BIN, /usr/lib/postgresql/*/bin and $PATH"}
}

// pgMajor is the version in /usr/lib/postgresql/VERSION/bin as a number (9.6 < 10 < 15).
func pgMajor(binDir string) float64 {
	v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	if err != nil {
		return -1
	}
	return v
}

// missingIn returns the first of postgresBinaries that is not an executable file in dir.
func missingIn(dir string) string {
	for _, name := range postgresBinaries {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return name
		}
	}
	return ""
}

// postgresCredential is nil unless we run as root, which PostgreSQL refuses; then it is the
// "postgres" system user.
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("testsvc: running as root, which PostgreSQL refuses, and no %q user to run it as (apt-get install postgresql creates it): %w", "postgres", err)
	}
	cred := &syscall.Credential{}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("testsvc: postgres user ids: %w", err)
	}
	cred.Uid, cred.Gid = uint32(uid), uint32(gid)
	groups, _ := u.GroupIds()
	for _, g := range groups {
		if id, err := strconv.ParseUint(g, 10, 32); err == nil {
			cred.Groups = append(cred.Groups, uint32(id))
		}
	}
	return cred, nil
}

// stopAndWait sends SIGSTOP to pid and waits until the kernel reports it stopped, so a stopped
// postmaster cannot be in the middle of forking a backend we would miss.
func stopAndWait(pid int) error {
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return fmt.Errorf("SIGSTOP pid %d: %w", pid, err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for !stopped(pid) {
		if time.Now().After(deadline) {
			return fmt.Errorf("pid %d not stopped 2s after SIGSTOP", pid)
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// removeStalePID removes a postmaster.pid left by a server that was killed; one naming a
// live process means another server still runs on this data directory, which is an error:
// starting a second postmaster there would be the way to corrupt it.
func removeStalePID(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("testsvc: read %s: %w", path, err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	if pid, err := strconv.Atoi(strings.TrimSpace(line)); err == nil && pid > 0 && alive(pid) && isPostgres(pid) {
		return fmt.Errorf("testsvc: a PostgreSQL server (pid %d) still runs on %s; stop it first (kill -INT %d)", pid, filepath.Dir(path), pid)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("testsvc: remove the stale %s: %w", path, err)
	}
	return nil
}

// isPostgres reports whether pid runs postgres, so a pid reused after a reboot is not taken
// for a server. Where /proc cannot tell, it assumes so.
func isPostgres(pid int) bool {
	comm, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	return strings.HasPrefix(strings.TrimSpace(string(comm)), "postgres")
}
