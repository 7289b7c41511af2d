package bot

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/notify"
)

func TestSplit(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		err  bool
	}{
		{"start prod-eu 3.5.0", []string{"start", "prod-eu", "3.5.0"}, false},
		{"  reject 7   not  today ", []string{"reject", "7", "not", "today"}, false},
		{`reject 7 "not during the sale"`, []string{"reject", "7", "not during the sale"}, false},
		{`reject 7 'it''s'`, []string{"reject", "7", "its"}, false},
		{"reject 7 “smart quotes”", []string{"reject", "7", "smart quotes"}, false},
		{"reject 7 ‘single smart’", []string{"reject", "7", "single smart"}, false},
		{`reject 7 a\ b`, []string{"reject", "7", "a b"}, false},
		{`reject 7 "say \"no\""`, []string{"reject", "7", `say "no"`}, false},
		{`reject 7 $(rm -rf /) ; echo`, []string{"reject", "7", "$(rm", "-rf", "/)", ";", "echo"}, false},
		{`reject 7 "unclosed`, nil, true},
		{"", nil, false},
	}
	for _, tc := range cases {
		got, err := Split(tc.in)
		if (err != nil) != tc.err || !slices.Equal(got, tc.want) {
			t.Errorf("Split(%q) = %q, %v; want %q, err %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestParse(t *testing.T) {
	cases := []struct {
		text string
		want Command
		err  string // substring of the UsageError; "" for success
	}{
		{"", Command{Name: "help"}, ""},
		{"start prod-eu 3.5.0", Command{Name: "start", Args: []string{"prod-eu", "3.5.0"}}, ""},
		{"START prod-eu 3.5.0 --force", Command{Name: "start", Args: []string{"prod-eu", "3.5.0"}, Force: true}, ""},
		{"start prod-eu 3.7.1 --chain --force", Command{Name: "start", Args: []string{"prod-eu", "3.7.1"}, Force: true, Chain: true}, ""},
		{"schedule prod-eu 3.7.1 next --chain", Command{Name: "schedule", Args: []string{"prod-eu", "3.7.1", "next"}, Chain: true}, ""},
		{"plan prod-eu 3.7.1 --chain", Command{Name: "plan", Args: []string{"prod-eu", "3.7.1"}, Chain: true}, ""},
		{"plan prod-eu 3.7.1 --force", Command{}, `unknown option "--force"`},
		{"approve 7 --chain", Command{}, `unknown option "--chain"`},
		{"reject 7 not during the sale", Command{Name: "reject", Args: []string{"7", "not during the sale"}}, ""},
		{"reject 7", Command{Name: "reject", Args: []string{"7"}}, ""},
		{"status", Command{Name: "status"}, ""},
		{"deploy prod", Command{}, `unknown command "deploy"`},
		{"start prod-eu", Command{}, "start needs <cluster> <version> [--force]"},
		{"start a b c", Command{}, `"c" is one too many`},
		{"approve 7 --force", Command{}, `unknown option "--force"`},
		{"plan x", Command{}, "usage: /kong-upgrade plan <cluster> <version>"},
		{`reject 7 "oops`, Command{}, "a quote is not closed"},
	}
	for _, tc := range cases {
		got, err := Parse("/kong-upgrade", tc.text)
		if tc.err != "" {
			var ue *UsageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Parse(%q) error %v, want %q", tc.text, err, tc.err)
			}
			continue
		}
		if err != nil || got.Name != tc.want.Name || got.Force != tc.want.Force || !slices.Equal(got.Args, tc.want.Args) {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tc.text, got, err, tc.want)
		}
	}
}

// FuzzParse: any text parses to a known command or a UsageError, never a panic, and a
// parsed command respects its arity.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"start prod-eu 3.5.0 --force", `reject 7 "a b"`, "“x", `\`, "approve", "status 1 2", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		cmd, err := Parse("/kong-upgrade", text)
		if err != nil {
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Fatalf("error %T %v is not a UsageError", err, err)
			}
			return
		}
		s, ok := specOf(cmd.Name)
		if !ok {
			t.Fatalf("unknown command %q parsed", cmd.Name)
		}
		if len(cmd.Args) < s.min || (s.max >= 0 && len(cmd.Args) > s.max) || (s.max == -1 && len(cmd.Args) > s.min+1) {
			t.Fatalf("%q: %d args for %s", text, len(cmd.Args), s.name)
		}
		if cmd.Chain && !s.chain {
			t.Fatalf("--chain accepted by %s", s.name)
		}
		if cmd.Force && !s.force {
			t.Fatalf("--force accepted by %s", s.name)
		}
	})
}

// FuzzDecodeInteraction: any body decodes to an interaction or an error, never a panic.
func FuzzDecodeInteraction(f *testing.F) {
	f.Add([]byte(`payload=%7B%22type%22%3A%22block_actions%22%7D`))
	f.Add([]byte(`payload=`))
	f.Add([]byte(`payload={"type":"block_actions","actions":[{"action_id":"approve","value":"run=1;rev=2"}]}`))
	f.Add([]byte("%zz"))
	f.Fuzz(func(t *testing.T, body []byte) {
		cb, err := DecodeInteraction(body)
		if err != nil {
			return
		}
		for _, a := range cb.ActionCallback.BlockActions {
			if a != nil {
				_, _, _ = ParseButtonValue(a.Value)
			}
		}
	})
}

func TestParseButtonValue(t *testing.T) {
	run, rev, err := ParseButtonValue(notify.ButtonValue(domain.Run{ID: 42, Revision: 17}))
	if err != nil || run != 42 || rev != 17 {
		t.Errorf("round trip: %v %v %v", run, rev, err)
	}
	for _, bad := range []string{"", "run=", "run=abc;rev=1", "rev=3", "run=1;rev=x"} {
		if _, _, err := ParseButtonValue(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// TestCommandTable: one table serves typed commands and buttons. Every command has its
// action; the buttons notify renders are exactly the commands marked button, each with the
// role its typed form needs.
func TestCommandTable(t *testing.T) {
	var buttons []string
	for _, s := range specs {
		if s.name != "help" && actions[s.name] == nil {
			t.Errorf("command %s has no action", s.name)
		}
		if s.button {
			buttons = append(buttons, s.name)
			if s.role() == RoleAnyone || !s.run {
				t.Errorf("button %s: role %s, takes a run %v", s.name, s.role(), s.run)
			}
		}
	}
	rendered := []string{notify.ActionApprove, notify.ActionReject, notify.ActionAbort, notify.ActionRollback, notify.ActionDecommission, notify.ActionResume}
	slices.Sort(buttons)
	slices.Sort(rendered)
	if !slices.Equal(buttons, rendered) {
		t.Errorf("buttons in the table %v, rendered %v", buttons, rendered)
	}
	if len(actions) != len(specs)-1 {
		t.Errorf("%d actions for %d commands besides help", len(actions), len(specs)-1)
	}
}
