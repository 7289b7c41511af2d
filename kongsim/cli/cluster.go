package cli

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/drawbridge/drawbridge/kongsim/facts"
	"github.com/drawbridge/drawbridge/kongsim/kconf"
	"github.com/drawbridge/drawbridge/kongsim/manifest"
	"github.com/drawbridge/drawbridge/kongsim/prefix"
)

// ClusterNode is one node laid out by "kongsim cluster init".
type ClusterNode = manifest.Node

// Cluster is cluster.json, written by "kongsim cluster init".
type Cluster = manifest.Cluster

// cluster is "kongsim cluster init": N node prefixes under DIR, each with a kong.conf
// pointing at one database and at its own free loopback ports, and Kong V installed.
func cluster(env *Env, argv []string) int {
	if len(argv) == 0 || argv[0] != "init" {
		return fail(env, "cluster", fmt.Errorf("want: cluster init --dir DIR --nodes N --version V [--pg-…]"))
	}
	p, err := parseOpts(argv[1:], []optSpec{
		{long: "dir", value: true}, {long: "nodes", value: true, def: "3"}, {long: "version", value: true},
		{long: "pg-host", value: true, def: "127.0.0.1"}, {long: "pg-port", value: true, def: "5432"},
		{long: "pg-user", value: true, def: "kong"}, {long: "pg-password", value: true},
		{long: "pg-database", value: true, def: "kong"}, {long: "name", value: true, def: "kong"},
	})
	if err != nil {
		return fail(env, "cluster", err)
	}
	n, err := strconv.Atoi(p.str("nodes"))
	if err != nil || n < 1 {
		return fail(env, "cluster", fmt.Errorf("--nodes: %q is not a positive count", p.str("nodes")))
	}
	if p.str("dir") == "" {
		return fail(env, "cluster", fmt.Errorf("--dir is required"))
	}
	v, err := facts.ParseVersion(p.str("version"))
	if err != nil {
		return fail(env, "cluster", err)
	}
	dir, err := filepath.Abs(p.str("dir"))
	if err != nil {
		return fail(env, "cluster", err)
	}
	c := Cluster{Version: v.String()}
	ports := newPortPicker()
	defer ports.release()
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("%s-%d", p.str("name"), i)
		pfx := prefix.Prefix(filepath.Join(dir, name))
		if err := pfx.Install(v); err != nil {
			return fail(env, "cluster", err)
		}
		admin, err := ports.addr()
		if err != nil {
			return fail(env, "cluster", err)
		}
		status, err := ports.addr()
		if err != nil {
			return fail(env, "cluster", err)
		}
		confPath := filepath.Join(string(pfx), "kong.conf")
		values := map[string]string{
			"prefix":        string(pfx),
			"admin_listen":  admin,
			"status_listen": status,
			"proxy_listen":  "off",
			"pg_host":       p.str("pg-host"),
			"pg_port":       p.str("pg-port"),
			"pg_user":       p.str("pg-user"),
			"pg_database":   p.str("pg-database"),
		}
		if pw := p.str("pg-password"); pw != "" {
			values["pg_password"] = pw
		}
		if err := kconf.WriteFile(confPath, values); err != nil {
			return fail(env, "cluster", err)
		}
		c.Nodes = append(c.Nodes, ClusterNode{Name: name, Prefix: string(pfx), Conf: confPath,
			AdminURL: "http://" + admin, StatusURL: "http://" + status})
	}
	b, _ := json.MarshalIndent(c, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, manifest.File), append(b, '\n'), 0o644); err != nil {
		return fail(env, "cluster", err)
	}
	for _, node := range c.Nodes {
		fmt.Fprintf(env.Stdout, "%s\t%s\t%s\t%s\n", node.Name, node.Prefix, node.AdminURL, node.StatusURL)
	}
	return 0
}

// portPicker hands out loopback ports that are free now and outside the kernel's
// ephemeral range, so that no outgoing connection takes one before its node binds it. The
// listeners stay open until every port of the cluster is picked, so none is given twice.
type portPicker struct {
	low, high int
	held      []net.Listener
}

func newPortPicker() *portPicker {
	p := &portPicker{low: 10000, high: 32768}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var lo, hi int
		if _, err := fmt.Sscanf(string(b), "%d %d", &lo, &hi); err == nil && lo > p.low+1000 {
			p.high = lo
		}
	}
	return p
}

func (p *portPicker) addr() (string, error) {
	for range 1000 {
		port := p.low + rand.IntN(p.high-p.low)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		p.held = append(p.held, l)
		return l.Addr().String(), nil
	}
	return "", fmt.Errorf("no free loopback port between %d and %d", p.low, p.high)
}

func (p *portPicker) release() {
	for _, l := range p.held {
		l.Close()
	}
}
