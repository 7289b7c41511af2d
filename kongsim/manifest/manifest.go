// Package manifest is cluster.json, the file "kongsim cluster init" writes: where each node
// of a simulated cluster lives and answers. It is a package of its own so that drawbridge's
// demo and the tests read it without linking the simulator.
package manifest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// File is the manifest's name in the cluster's directory.
const File = "cluster.json"

// Node is one node laid out by "kongsim cluster init".
type Node struct {
	Name      string `json:"name"`
	Prefix    string `json:"prefix"`
	Conf      string `json:"conf"`
	AdminURL  string `json:"admin_url"`
	StatusURL string `json:"status_url"`
}

// Cluster is the whole manifest.
type Cluster struct {
	Version string `json:"version"` // the version the nodes were laid out with
	Nodes   []Node `json:"nodes"`
}

// Read reads dir/cluster.json.
func Read(dir string) (Cluster, error) {
	var c Cluster
	path := filepath.Join(dir, File)
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("read the kongsim cluster manifest: %w", err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("read the kongsim cluster manifest %s: %w", path, err)
	}
	if len(c.Nodes) == 0 {
		return c, fmt.Errorf("the kongsim cluster manifest %s lists no nodes", path)
	}
	return c, nil
}
