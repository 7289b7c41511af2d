package testsvc

import (
	"errors"
	"net"
	"testing"
)

// busyThenFree returns a picker whose first port is held by a listener, as when another
// process takes the free port between picking and binding it.
func busyThenFree(t *testing.T) (pick func() (int, error), busy int, calls *int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	busy = l.Addr().(*net.TCPAddr).Port
	calls = new(int)
	pick = func() (int, error) {
		*calls++
		if *calls == 1 {
			return busy, nil
		}
		return freePort()
	}
	return pick, busy, calls
}

func TestPostgresRetriesOnBusyPort(t *testing.T) {
	t.Parallel()
	pick, busy, calls := busyThenFree(t)
	pg, err := newPostgres(t.Context(), pick)
	if err != nil {
		if ShouldSkip(err) {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	if *calls != 2 || pg.Port == busy {
		t.Errorf("picked %d ports, serving on %d (busy %d): want a retry on a new port", *calls, pg.Port, busy)
	}
}

func TestPrometheusRetriesOnBusyPort(t *testing.T) {
	t.Parallel()
	pick, busy, calls := busyThenFree(t)
	prom, err := newPrometheus(t.Context(), PrometheusConfig{}, pick)
	if err != nil {
		if ShouldSkip(err) {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { prom.Close() })
	if *calls != 2 || prom.port == busy {
		t.Errorf("picked %d ports, serving on %d (busy %d): want a retry on a new port", *calls, prom.port, busy)
	}
}

func TestAddrInUseIsOnlyRetriedThreeTimes(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	calls := 0
	_, err = newPrometheus(t.Context(), PrometheusConfig{}, func() (int, error) {
		calls++
		return l.Addr().(*net.TCPAddr).Port, nil
	})
	if ShouldSkip(err) {
		t.Skip(err)
	}
	if !errors.Is(err, ErrAddrInUse) || calls != maxStartAttempts {
		t.Errorf("err = %v after %d attempts, want ErrAddrInUse after %d", err, calls, maxStartAttempts)
	}
}
