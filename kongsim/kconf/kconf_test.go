package kconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drawbridge/drawbridge/kongsim/facts"
)

func TestLoadOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kong.conf")
	conf := "# a comment\npg_host = db.internal   # trailing comment\npg_password = pa\\#ss\nadmin_listen = 127.0.0.1:9001, 127.0.0.1:9444 ssl\n\npg_user=kong_app\n"
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, facts.MustParseVersion("3.4.2"), []string{"KONG_PG_USER=from_env", "PGHOST=ignored", "KONG_PREFIX=/tmp/kp"})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"pg_host":       "db.internal", // file over default
		"pg_password":   "pa#ss",       // escaped # kept
		"pg_user":       "from_env",    // KONG_* over file
		"prefix":        "/tmp/kp",
		"pg_database":   "kong", // default
		"status_listen": "off",  // 3.4's default
	}
	for k, want := range cases {
		if got := c.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	addrs, err := c.HTTPAddrs("admin_listen")
	if err != nil || len(addrs) != 1 || addrs[0] != "127.0.0.1:9001" {
		t.Errorf("admin HTTP addrs %v, %v", addrs, err)
	}
	if m := c.Masked(); m["pg_password"] != "******" || m["pg_user"] != "from_env" {
		t.Errorf("masked: password %q user %q", m["pg_password"], m["pg_user"])
	}
	if !strings.Contains(c.DSN(), "password='pa#ss'") || !strings.Contains(c.DSN(), "host='db.internal'") {
		t.Errorf("DSN %s", c.DSN())
	}
}

func TestDefaultsPerVersion(t *testing.T) {
	for v, want := range map[string]string{"3.5.0": "off", "3.6.0": "127.0.0.1:8007 reuseport backlog=16384"} {
		if got := Defaults(facts.MustParseVersion(v))["status_listen"]; got != want {
			t.Errorf("%s status_listen %q, want %q", v, got, want)
		}
	}
}

func TestMissingConfFile(t *testing.T) {
	if _, err := Load("/nonexistent/kong.conf", facts.MustParseVersion("3.4.2"), nil); err == nil || !strings.Contains(err.Error(), "no file at: /nonexistent/kong.conf") {
		t.Errorf("err = %v", err)
	}
}

func TestKongEnvRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".kong_env")
	in := map[string]string{"pg_password": "a#b", "prefix": "/x"}
	if err := WriteFile(path, in); err != nil {
		t.Fatal(err)
	}
	out, err := ReadFile(path)
	if err != nil || out["pg_password"] != "a#b" || out["prefix"] != "/x" {
		t.Errorf("round trip %v, %v", out, err)
	}
}

func TestBadListener(t *testing.T) {
	c := &Conf{Values: map[string]string{"admin_listen": "8001"}}
	if _, err := c.Listeners("admin_listen"); err == nil {
		t.Error("a listener without host:port parsed")
	}
}
