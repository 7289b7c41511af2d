package nodecmd

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperMark follows "--" in the arguments of the test binary re-executed as a fake
// node command.
const helperMark = "nodecmd-helper"

// helper is the argv that runs the test binary as a fake node command doing cmd.
func helper(cmd ...string) []string {
	return append([]string{os.Args[0], "-test.run=^TestHelperProcess$", "--", helperMark}, cmd...)
}

func TestMain(m *testing.M) {
	// Helpers are this binary; built with -race, it would sleep 1s at every clean exit.
	os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	os.Exit(m.Run())
}

// TestHelperProcess is not a test: it is the fake node command, run by re-executing the
// test binary (see helper). In a normal test run it returns at once.
func TestHelperProcess(t *testing.T) {
	args := os.Args
	for len(args) > 0 && args[0] != "--" {
		args = args[1:]
	}
	if len(args) < 3 || args[1] != helperMark {
		return
	}
	os.Exit(helperMain(args[2], args[3:]))
}

func helperMain(cmd string, args []string) int {
	switch cmd {
	case "print": // print LINE… on stdout
		for _, a := range args {
			fmt.Println(a)
		}
	case "interleave": // alternate stdout and stderr, one write each
		os.Stdout.WriteString("o1\n")
		os.Stderr.WriteString("e1\n")
		os.Stdout.WriteString("o2\n")
		os.Stderr.WriteString("e2\n")
	case "args": // each argument quoted, one a line
		for _, a := range args {
			fmt.Printf("%q\n", a)
		}
	case "exit": // exit CODE MESSAGE: MESSAGE on stderr
		fmt.Println("about to fail")
		fmt.Fprintln(os.Stderr, args[1])
		code, _ := strconv.Atoi(args[0])
		return code
	case "sleep": // sleep DURATION [MESSAGE]
		d, _ := time.ParseDuration(args[0])
		time.Sleep(d)
		for _, a := range args[1:] {
			fmt.Println(a)
		}
	case "interval": // sleep DURATION between two timestamps: start NANOS / end NANOS
		d, _ := time.ParseDuration(args[0])
		fmt.Printf("start %d\n", time.Now().UnixNano())
		time.Sleep(d)
		fmt.Printf("end %d\n", time.Now().UnixNano())
	case "lines": // lines N: "line 00001" …
		n, _ := strconv.Atoi(args[0])
		var b bytes.Buffer
		for i := 1; i <= n; i++ {
			fmt.Fprintf(&b, "line %05d\n", i)
		}
		os.Stdout.Write(b.Bytes())
	case "stdin": // how much stdin holds
		b, err := io.ReadAll(os.Stdin)
		fmt.Printf("stdin %d bytes, err %v\n", len(b), err)
	case "spawn": // spawn PIDFILE: a child in our process group that sleeps 60s; we sleep too
		return spawn(args[0], nil, 60*time.Second)
	case "daemon": // daemon PIDFILE: a child in a session of its own, holding our stdout; we exit
		return spawn(args[0], &syscall.SysProcAttr{Setsid: true}, 0)
	default:
		fmt.Fprintln(os.Stderr, "unknown helper command", cmd)
		return 2
	}
	return 0
}

// spawn starts "sleep 60s" as a child sharing our stdout, writes its pid to pidFile and
// sleeps for d.
func spawn(pidFile string, attr *syscall.SysProcAttr, d time.Duration) int {
	child := exec.Command(os.Args[0], helper("sleep", "60s")[1:]...)
	child.Stdout, child.Stderr = os.Stdout, os.Stderr
	child.SysProcAttr = attr
	if err := child.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	tmp := pidFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(child.Process.Pid)), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := os.Rename(tmp, pidFile); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("spawned", child.Process.Pid)
	time.Sleep(d)
	return 0
}

// readPID reads a pid file a helper wrote and kills that process at the test's end.
func readPID(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("pid file of the helper's child: %v", err)
	}
	pid, err := strconv.Atoi(string(b))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	return pid
}

// alive reports whether pid exists and is not a zombie (an orphan that PID 1 of a
// container may never reap).
func alive(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	end := bytes.LastIndexByte(b, ')')
	if end < 0 || end+2 >= len(b) {
		return false
	}
	return b[end+2] != 'Z'
}
