package demo

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/drawbridge/drawbridge/internal/testsvc"
)

func TestLockDataRefusesASecondDemo(t *testing.T) {
	dir := t.TempDir()
	release, err := lockData(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = lockData(dir)
	if err == nil || !strings.Contains(err.Error(), "another drawbridge-demo (pid ") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second lock: %v, want it refused naming the first demo and %s", err, dir)
	}
	release()
	release2, err := lockData(dir)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	release2()
}

func TestPortHint(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, busy := net.Listen("tcp", l.Addr().String())
	if busy == nil {
		t.Fatal("a second listener on the same port")
	}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"listen", busy, "port 5 is in use by another program; stop it or choose another port with -x"},
		{"testsvc", fmt.Errorf("start: %w", testsvc.ErrAddrInUse), "port 5 is in use"},
		{"other", errors.New("initdb failed"), "initdb failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := portHint(tc.err, 5, "-x")
			if !strings.HasPrefix(got.Error(), tc.want) {
				t.Errorf("portHint = %q, want it to start with %q", got, tc.want)
			}
			if !errors.Is(got, tc.err) {
				t.Error("the hint lost the error it wraps")
			}
		})
	}
	if !errors.Is(busy, syscall.EADDRINUSE) {
		t.Fatalf("net.Listen's error %v is not EADDRINUSE", busy)
	}
}
