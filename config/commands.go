package config

import (
	"fmt"
	"strings"
	"text/template"
)

// Commands are the argv templates drawbridge runs to act on a cluster's nodes. No shell is
// involved: each element is one argument, rendered with text/template over CommandData.
// An element that renders empty is dropped.
type Commands struct {
	Stage Argv `yaml:"stage"` // per node, before the gate: prepare Y while X serves
	// Check runs per node after stage, before the gate, with .Version = Y: a test that Y will
	// start on the node (its custom plugins are there, kong check of its configuration…).
	// It failing ends the run before any downtime.
	Check            Argv `yaml:"check"`
	Stop             Argv `yaml:"stop"`              // per node: stop Kong
	Install          Argv `yaml:"install"`           // per node: put .Version on the node (Y, or X in a rollback)
	MigrationsUp     Argv `yaml:"migrations_up"`     // once: kong migrations up
	MigrationsFinish Argv `yaml:"migrations_finish"` // once: kong migrations finish
	Start            Argv `yaml:"start"`             // per node: start Kong
	Decommission     Argv `yaml:"decommission"`      // per node, after a clean watch
	Freeze           Argv `yaml:"freeze"`            // once, optional: announce/enforce the config freeze
	Unfreeze         Argv `yaml:"unfreeze"`          // once, optional
	Export           Argv `yaml:"export"`            // once, optional: application-level backup
}

// Argv is one command template: program and arguments.
type Argv []string

// CommandData is what a command template may use. Run-once commands (migrations_up,
// migrations_finish, freeze, unfreeze, export) see the cluster's first node as .Node.
type CommandData struct {
	Cluster string
	Run     string
	From    string // X, the version the cluster runs before the upgrade
	To      string // Y, the version being upgraded to
	Version string // the version being installed or started: Y, or X during a rollback
	Force   bool   // migrations need -f
	Node    NodeData
	// Scratch is the rehearsal's copy of Kong's database (rehearsal commands only).
	Scratch ScratchData
}

// ScratchData names the rehearsal's scratch database for its commands. There is no
// password: the commands take it from their own environment (KONG_PG_PASSWORD, a pgpass
// file), as Kong's migrations would.
type ScratchData struct {
	Database string
	Host     string
	Port     string
	User     string
}

// NodeData is the node part of CommandData.
type NodeData struct {
	Name     string
	AdminURL string
	Vars     map[string]string
}

// NodeDataOf returns the template view of a node.
func NodeDataOf(n Node) NodeData {
	return NodeData{Name: n.Name, AdminURL: n.AdminURL, Vars: n.Vars}
}

// Render expands every element of the template. Elements that render empty are
// dropped; an empty program is an error.
func (a Argv) Render(data CommandData) ([]string, error) {
	out := make([]string, 0, len(a))
	for i, elem := range a {
		t, err := parseElem(i, elem)
		if err != nil {
			return nil, err
		}
		var b strings.Builder
		if err := t.Execute(&b, data); err != nil {
			return nil, fmt.Errorf("element %d %q: %w", i, elem, cleanTemplateErr(err))
		}
		if i == 0 && b.Len() == 0 {
			return nil, fmt.Errorf("element 0 %q (the program) renders empty", elem)
		}
		if b.Len() > 0 {
			out = append(out, b.String())
		}
	}
	return out, nil
}

func parseElem(i int, elem string) (*template.Template, error) {
	t, err := template.New("arg").Option("missingkey=error").Parse(elem)
	if err != nil {
		return nil, fmt.Errorf("element %d %q: %w", i, elem, cleanTemplateErr(err))
	}
	return t, nil
}

// cleanTemplateErr drops text/template's "template: arg:1:12: executing \"arg\" at <…>:"
// prefix noise down to what a person needs.
func cleanTemplateErr(err error) error {
	msg := err.Error()
	if i := strings.Index(msg, ": executing \"arg\" at "); i >= 0 {
		msg = msg[i+len(": executing \"arg\" at "):]
	}
	msg = strings.TrimPrefix(msg, "template: arg:")
	msg = strings.TrimLeft(msg, "0123456789:")
	return fmt.Errorf("%s", strings.TrimSpace(msg))
}

// commandSpec describes one entry of Commands for validation and documentation.
type commandSpec struct {
	key      string
	argv     Argv
	required bool
	perNode  bool
}

func (c *Commands) specs() []commandSpec {
	return []commandSpec{
		{"stage", c.Stage, false, true},
		{"check", c.Check, false, true},
		{"stop", c.Stop, true, true},
		{"install", c.Install, false, true},
		{"migrations_up", c.MigrationsUp, true, false},
		{"migrations_finish", c.MigrationsFinish, true, false},
		{"start", c.Start, true, true},
		{"decommission", c.Decommission, false, true},
		{"freeze", c.Freeze, false, false},
		{"unfreeze", c.Unfreeze, false, false},
		{"export", c.Export, false, false},
	}
}

// usesVersion reports whether any element refers to .Version.
func (a Argv) usesVersion() bool {
	for _, e := range a {
		if strings.Contains(e, ".Version") {
			return true
		}
	}
	return false
}
