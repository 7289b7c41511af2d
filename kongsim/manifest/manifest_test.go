package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	tests := []struct {
		name    string
		content string // "" = no file
		want    string // error substring; "" = success
	}{
		{"missing", "", "no such file"},
		{"not JSON", "{nodes:", "invalid character"},
		{"no nodes", `{"version":"3.4.2","nodes":[]}`, "lists no nodes"},
		{"good", `{"version":"3.4.2","nodes":[{"name":"kong-1","prefix":"/p","conf":"/p/kong.conf","admin_url":"http://127.0.0.1:1","status_url":"http://127.0.0.1:2"}]}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.content != "" {
				if err := os.WriteFile(filepath.Join(dir, File), []byte(tc.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			c, err := Read(dir)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Read: %v, want an error with %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Version != "3.4.2" || len(c.Nodes) != 1 || c.Nodes[0] != (Node{"kong-1", "/p", "/p/kong.conf", "http://127.0.0.1:1", "http://127.0.0.1:2"}) {
				t.Errorf("Read = %+v", c)
			}
		})
	}
}
