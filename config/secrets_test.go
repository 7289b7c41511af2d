package config

import (
	"maps"
	"strings"
	"testing"
)

// TestSecretWarnings: a secret that is an ordinary word of the output, or short, is named
// (never shown); long random secrets are not.
func TestSecretWarnings(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string // substrings, one warning each, in order
	}{
		{name: "long random secrets", env: testEnv},
		{name: "the database password kong", env: map[string]string{"DSN": "postgres://kong:kong@127.0.0.1:5432/kong"},
			want: []string{"the password in clusters[prod-eu].database.dsn is an ordinary word of drawbridge's and Kong's output"}},
		{name: "a short signing secret", env: map[string]string{"SIGNING": "abc12"},
			want: []string{`slack.signing_secret is only 5 characters long: drawbridge removes every occurrence of a secret from what it stores, logs and posts, so words containing it will read "[redacted]"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := maps.Clone(testEnv)
			maps.Copy(env, tc.env)
			cfg, ps := parse(t, base, env)
			if ps != nil {
				t.Fatal(ps)
			}
			got := cfg.SecretWarnings()
			if len(got) != len(tc.want) {
				t.Fatalf("warnings %q, want %d", got, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("warning %q lacks %q", got[i], w)
				}
				for _, secret := range tc.env {
					if _, pw, ok := strings.Cut(secret, "kong:"); ok {
						secret, _, _ = strings.Cut(pw, "@")
					}
					if strings.Contains(got[i], `"`+secret+`"`) {
						t.Errorf("warning %q shows the secret", got[i])
					}
				}
			}
		})
	}
}
