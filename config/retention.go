package config

import (
	"fmt"
	"time"
)

// Retention says how long drawbridge keeps what it no longer needs. The serving process
// applies it at start and every hour after.
type Retention struct {
	// IdempotencyKeys is how long the key of a Slack request drawbridge has handled (a
	// button click, say) is remembered after it was claimed, so that Slack's retry or a
	// replay of it is not carried out twice; default 24h, at least 1h.
	IdempotencyKeys Duration `yaml:"idempotency_keys"`
	// DeadLetters is how long a Slack message the outbox gave up on is kept for people to
	// see what Slack never got; default 720h (30 days), at least 1h.
	DeadLetters Duration `yaml:"dead_letters"`
	// BackupsPerCluster is how many backup archives of each cluster are kept, the newest
	// runs' (the archive of a run that may still restore it and that of the cluster's
	// latest succeeded run are kept besides); default 5; 0 keeps every archive.
	BackupsPerCluster int `yaml:"backups_per_cluster"`
	// Records is how long the change record of a run (the run, its steps, approvals and
	// audit events) is kept after it ended; default 0: forever. What is pruned is said in
	// the audit log.
	Records Duration `yaml:"records"`
}

// MinRetainedKeys is the shortest retention.idempotency_keys: Slack replays a signed request
// for up to 5 minutes and retries events for longer; a key must outlive both by far.
const MinRetainedKeys = time.Hour

// minRetainedDeadLetters is the shortest retention.dead_letters: long enough for a person to
// look.
const minRetainedDeadLetters = time.Hour

// retentionDefaults are applied to the retention keys absent from the file.
var retentionDefaults = []struct {
	key   string
	apply func(r *Retention)
}{
	{"idempotency_keys", func(r *Retention) { r.IdempotencyKeys = Duration(24 * time.Hour) }},
	{"dead_letters", func(r *Retention) { r.DeadLetters = Duration(30 * 24 * time.Hour) }},
	{"backups_per_cluster", func(r *Retention) { r.BackupsPerCluster = 5 }},
}

func applyRetentionDefaults(r *Retention, col *collector) {
	for _, d := range retentionDefaults {
		if !col.present(join("retention", d.key)) {
			d.apply(r)
		}
	}
}

func (v *validator) retention() {
	r := v.cfg.Retention
	if r.IdempotencyKeys.D() < MinRetainedKeys {
		v.col.add("retention.idempotency_keys", fmt.Sprintf("at least %s, e.g. 24h", Duration(MinRetainedKeys)),
			"is %s: Slack retries and replays a request for minutes, and one that comes after its key was forgotten is carried out twice", r.IdempotencyKeys)
	}
	if r.DeadLetters.D() < minRetainedDeadLetters {
		v.col.add("retention.dead_letters", fmt.Sprintf("at least %s, e.g. 720h (30 days)", Duration(minRetainedDeadLetters)),
			"is %s: the messages Slack never got would be gone before anyone could look", r.DeadLetters)
	}
	if r.Records != 0 && r.Records.D() < 24*time.Hour {
		v.col.add("retention.records", "nothing (keep the records forever), or at least 24h, e.g. 8760h (a year)",
			"is %s: a run's change record would go before anyone could read it", r.Records)
	}
	if r.BackupsPerCluster < 0 {
		v.col.add("retention.backups_per_cluster", "a number of archives such as 5, or 0 to keep every archive", "is %d", r.BackupsPerCluster)
	}
}
