package bot_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drawbridge/drawbridge/domain"
)

// TestSecretsNeverLeak: a node command prints its environment and drawbridge's config file
// and fails. It got no secret from drawbridge's environment (only PATH, HOME, LANG, TZ and
// commands_env), and what it printed of the config file's secrets reaches neither the
// thread, nor the state file, nor the command's output file, nor the log.
func TestSecretsNeverLeak(t *testing.T) {
	// Not parallel: it sets environment variables of the process drawbridge runs in.
	t.Setenv("DRAWBRIDGE_TEST_CANARY", "env-of-drawbridge-only")
	t.Setenv("DRAWBRIDGE_TEST_ALLOWED", "passed-on-by-commands-env")
	const password = "canary-pw-123456"
	check := `[sh, -c, 'env; cat "$(dirname "$0")/../../drawbridge.yaml"; echo "dsn=postgres://kong:` + password + `@db/kong"; exit 3', "{{.Node.Vars.conf}}"]`
	w := newWorld(t, worldOpts{check: check, password: password, extra: "    commands_env: [DRAWBRIDGE_TEST_ALLOWED]"})
	if r := w.command("U0OPERATOR", channel, "start test 3.5.0"); r.status != 200 {
		t.Fatalf("start answered %d %q", r.status, r.text)
	}
	w.waitRun(1, domain.StateFailedBeforeDowntime)
	var thread string
	w.waitFor("the check's output in the thread", func() bool {
		thread = w.threadText()
		return strings.Contains(thread, "DRAWBRIDGE_TEST_ALLOWED=passed-on-by-commands-env") && strings.Contains(thread, "[redacted]")
	})
	secrets := []string{"xoxb-test", "test-secret", password}
	for _, s := range secrets {
		if strings.Contains(thread, s) {
			t.Errorf("the thread shows %q", s)
		}
	}
	if strings.Contains(thread, "DRAWBRIDGE_TEST_CANARY") {
		t.Error("a node command got a variable of drawbridge's environment that commands_env does not name")
	}
	w.stop() // the state file is read whole, closed
	state, err := os.ReadFile(w.c.Dir + "/state/drawbridge.db")
	if err != nil {
		t.Fatal(err)
	}
	outputs, _ := filepath.Glob(filepath.Join(w.c.Dir, "state", "runs", "*", "*"))
	if len(outputs) == 0 {
		t.Fatal("no command output files")
	}
	for _, s := range secrets {
		if strings.Contains(string(state), s) {
			t.Errorf("the state file holds %q", s)
		}
		for _, f := range outputs {
			if b, _ := os.ReadFile(f); strings.Contains(string(b), s) {
				t.Errorf("%s holds %q", f, s)
			}
		}
		if strings.Contains(w.logs.String(), s) {
			t.Errorf("the log shows %q", s)
		}
	}
}
