package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBinaryLinksNoFake: the production binary holds no simulator, fake or test server;
// the demo is a binary of its own (cmd/drawbridge-demo).
func TestBinaryLinksNoFake(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	const module = "github.com/drawbridge/drawbridge/"
	for _, pkg := range strings.Fields(string(out)) {
		rest, ours := strings.CutPrefix(pkg, module)
		if !ours {
			continue
		}
		for _, banned := range []string{"internal/", "kongsim", "cmd/drawbridge-demo"} {
			if strings.HasPrefix(rest, banned) {
				t.Errorf("drawbridge links %s", pkg)
			}
		}
	}
}
