package bot

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplitMrkdwn(t *testing.T) {
	long := "```\n" + strings.Repeat("a line of plan output\n", 300) + "```"
	tests := []struct {
		name      string
		text      string
		max, most int
		want      []string // nil: only check the invariants
	}{
		{"short", "hello", 100, 5, []string{"hello"}},
		{"at line ends", "aaaa\nbbbb\ncccc", 14, 5, []string{"aaaa\nbbbb\n", "cccc"}}, // 4 runes kept for a closing fence
		{"a code block across a cut is closed and reopened", "x\n```\n111\n222\n```", 16, 5,
			[]string{"x\n```\n111\n```", "```\n222\n```"}},
		{"a line longer than a piece is cut", strings.Repeat("z", 25), 14, 5, []string{"zzzzzzzzzz", "zzzzzzzzzz", "zzzzz"}},
		{"a long plan", long, 2900, 45, nil},
		{"too long for the pieces", long, 500, 3, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := splitMrkdwn(tc.text, tc.max, tc.most)
			if tc.want != nil {
				if strings.Join(got, "|") != strings.Join(tc.want, "|") {
					t.Fatalf("splitMrkdwn = %q, want %q", got, tc.want)
				}
				return
			}
			if len(got) > tc.most {
				t.Errorf("%d pieces, at most %d", len(got), tc.most)
			}
			var joined strings.Builder
			for i, p := range got {
				if n := utf8.RuneCountInString(p); n > tc.max {
					t.Errorf("piece %d has %d runes, max %d", i, n, tc.max)
				}
				if strings.Count(p, "```")%2 != 0 {
					t.Errorf("piece %d leaves a code block open:\n%s", i, p)
				}
				joined.WriteString(strings.TrimSuffix(strings.TrimPrefix(p, "```\n"), "\n```"))
			}
			// Cut at line ends: every line is whole in one piece, and none is lost unless the
			// pieces ran out.
			if n := strings.Count(joined.String(), "a line of plan output"); len(got) < tc.most && n != 300 {
				t.Errorf("%d whole lines of 300 in the pieces", n)
			}
			if tc.most == 3 && !strings.Contains(got[2], "…") {
				t.Errorf("a cut text does not say so: %q", got[2])
			}
		})
	}
}
