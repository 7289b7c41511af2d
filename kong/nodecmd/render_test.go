package nodecmd

import (
	"slices"
	"strings"
	"testing"

	"github.com/drawbridge/drawbridge/config"
)

func TestRenderAll(t *testing.T) {
	nodes := []config.Node{
		{Name: "kong-eu-1", AdminURL: "http://10.0.0.1:8001", Vars: map[string]string{"host": "10.0.0.1", "sudo": "sudo"}},
		{Name: "kong-eu-2", AdminURL: "http://10.0.0.2:8001", Vars: map[string]string{"host": "10.0.0.2", "sudo": ""}},
	}
	argv := config.Argv{"ssh", "{{.Node.Vars.host}}", "{{.Node.Vars.sudo}}", "kong-install", "{{.Version}}", "{{if .Force}}-f{{end}}", "# {{.Node.Name}}"}
	jobs, err := RenderAll(argv, nodes, config.CommandData{Cluster: "eu", Version: "3.5.0"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Job{
		{Node: "kong-eu-1", Argv: []string{"ssh", "10.0.0.1", "sudo", "kong-install", "3.5.0", "# kong-eu-1"}},
		{Node: "kong-eu-2", Argv: []string{"ssh", "10.0.0.2", "kong-install", "3.5.0", "# kong-eu-2"}},
	}
	if len(jobs) != len(want) {
		t.Fatalf("%d jobs", len(jobs))
	}
	for i := range want {
		if jobs[i].Node != want[i].Node || jobs[i].Action != "" || !slices.Equal(jobs[i].Argv, want[i].Argv) {
			t.Errorf("job %d = %+v, want %+v", i, jobs[i], want[i])
		}
	}

	_, err = RenderAll(config.Argv{"ssh", "{{.Node.Vars.user}}@{{.Node.Vars.host}}"}, nodes, config.CommandData{})
	if err == nil || !strings.HasPrefix(err.Error(), "node kong-eu-1: element 1") {
		t.Errorf("missing var: %v", err)
	}
}

func TestRenderOnce(t *testing.T) {
	first := config.Node{Name: "kong-eu-1", Vars: map[string]string{"host": "10.0.0.1"}}
	j, err := RenderOnce(config.Argv{"ssh", "{{.Node.Vars.host}}", "kong", "migrations", "up", "{{if .Force}}-f{{end}}"}, first,
		config.CommandData{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if j.Node != "" || !slices.Equal(j.Argv, []string{"ssh", "10.0.0.1", "kong", "migrations", "up", "-f"}) {
		t.Errorf("job %+v", j)
	}
}
