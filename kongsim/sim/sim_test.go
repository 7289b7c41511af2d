package sim

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/kongsim/facts"
)

func TestSetAndLoad(t *testing.T) {
	dir := t.TempDir()
	f, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if f.Traffic != DefaultTraffic || f.Faults != (Faults{}) {
		t.Fatalf("missing file loads %+v", f)
	}
	err = Set(&f, []string{"traffic.rps=120", "faults.bad_release.version=3.5.0", "faults.bad_release.error_ratio=0.2",
		"faults.start_delay=3s", "faults.ignore_stop=true", "faults.migration_fail=core:021_340_to_350"})
	if err != nil {
		t.Fatal(err)
	}
	if err := Save(dir, f); err != nil {
		t.Fatal(err)
	}
	g, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if g.Traffic.RPS != 120 || g.Faults.BadRelease == nil || g.Faults.BadRelease.Version != "3.5.0" ||
		g.Faults.BadRelease.ErrorRatio != 0.2 || time.Duration(g.Faults.StartDelay) != 3*time.Second || !g.Faults.IgnoreStop {
		t.Fatalf("round trip: %+v %+v", g.Traffic, g.Faults)
	}
	if err := Set(&g, []string{"faults.bad_release=", "faults.ignore_stop="}); err != nil {
		t.Fatal(err)
	}
	if g.Faults.BadRelease != nil || g.Faults.IgnoreStop {
		t.Fatalf("clear: %+v", g.Faults)
	}
	for _, bad := range []string{"traffic.rpm=1", "faults.ignore_stop=maybe", "traffic", "faults.start_delay=5"} {
		if err := Set(&g, []string{bad}); err == nil || !strings.Contains(err.Error(), "keys:") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestWatchSeesChanges(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	seen := make(chan File, 10)
	go Watch(ctx, dir, 10*time.Millisecond, func(f File) { seen <- f }, func(err error) { t.Error(err) })
	if f := <-seen; f.Faults.AdminHang {
		t.Fatal("initial content has admin_hang")
	}
	if err := Update(dir, func(f *File) error { f.Faults.AdminHang = true; return nil }); err != nil {
		t.Fatal(err)
	}
	select {
	case f := <-seen:
		if !f.Faults.AdminHang {
			t.Fatalf("change not seen: %+v", f.Faults)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not report the change")
	}
}

func TestBadReleaseApplies(t *testing.T) {
	v := func(s string) facts.Version { return facts.MustParseVersion(s) }
	cases := []struct {
		version, running string
		want             bool
	}{
		{"3.5.0", "3.5.0", true},
		{"3.5.0", "3.4.2", false},
		{"!3.4.2", "3.5.0", true},
		{"!3.4.2", "3.4.2", false},
		{"nonsense", "3.4.2", false},
	}
	for _, tc := range cases {
		if got := (&BadRelease{Version: tc.version}).Applies(v(tc.running)); got != tc.want {
			t.Errorf("bad release %q on %s: %v", tc.version, tc.running, got)
		}
	}
	if (*BadRelease)(nil).Applies(v("3.4.2")) {
		t.Error("no fault applies")
	}
}
