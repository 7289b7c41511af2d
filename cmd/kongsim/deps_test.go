package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestKongsimStandsApart: kongsim is the second opinion drawbridge is tested against, so it
// links none of drawbridge's packages (its catalog above all): only its own.
func TestKongsimStandsApart(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	const module = "github.com/drawbridge/drawbridge/"
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, module) && !strings.HasPrefix(pkg, module+"kongsim") && pkg != module+"cmd/kongsim" {
			t.Errorf("kongsim links a package of drawbridge's: %s", pkg)
		}
	}
}
