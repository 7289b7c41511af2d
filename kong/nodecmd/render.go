package nodecmd

import (
	"fmt"

	"github.com/drawbridge/drawbridge/config"
)

// RenderAll renders a per-node command template once for each node, with data.Node set
// to that node, into one Job per node in node order. Action is left for the caller to set.
func RenderAll(argv config.Argv, nodes []config.Node, data config.CommandData) ([]Job, error) {
	jobs := make([]Job, 0, len(nodes))
	for _, n := range nodes {
		d := data
		d.Node = config.NodeDataOf(n)
		rendered, err := argv.Render(d)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", n.Name, err)
		}
		jobs = append(jobs, Job{Node: n.Name, Argv: rendered})
	}
	return jobs, nil
}

// RenderOnce renders a run-once command template (migrations_up, migrations_finish,
// freeze, …), which sees the cluster's first node as .Node, into a Job with no Node.
// Action is left for the caller to set.
func RenderOnce(argv config.Argv, first config.Node, data config.CommandData) (Job, error) {
	data.Node = config.NodeDataOf(first)
	rendered, err := argv.Render(data)
	if err != nil {
		return Job{}, err
	}
	return Job{Argv: rendered}, nil
}
