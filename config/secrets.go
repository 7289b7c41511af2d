package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/drawbridge/drawbridge/scrub"
)

// The words of drawbridge's and Kong's own output that a secret must not be: drawbridge
// replaces every occurrence of a secret in what it stores, logs and posts, so a database
// password "kong" would turn "kong-1" and "kong migrations up" into "[redacted]-1" and
// "[redacted] migrations up" everywhere.
var ordinaryWords = []string{"kong", "postgres", "admin", "password", "secret", "public", "database", "migrations", "drawbridge", "test"}

// weakSecretLen is the length below which a secret is likely to be found inside ordinary
// text (and is weak anyway).
const weakSecretLen = 8

// SecretWarnings name the configuration's secrets that are short or ordinary words, which
// drawbridge's scrubbing would find inside its own messages, without saying the secret.
func (c *Config) SecretWarnings() []string {
	var out []string
	for _, s := range c.secrets() {
		var why string
		switch {
		case slices.Contains(ordinaryWords, strings.ToLower(s.value)):
			why = "is an ordinary word of drawbridge's and Kong's output"
		case len(s.value) < weakSecretLen:
			why = fmt.Sprintf("is only %d characters long", len(s.value))
		default:
			continue
		}
		out = append(out, fmt.Sprintf("%s %s: drawbridge removes every occurrence of a secret from what it stores, logs and posts, so words containing it will read %q; use a long random value", s.where, why, scrub.Redacted))
	}
	slices.Sort(out)
	return out
}
