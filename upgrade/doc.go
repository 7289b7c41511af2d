// Package upgrade is the upgrade engine: it decides on runs (domain's values) and carries
// out the twelve steps of Kong's in-place upgrade with a check of the real world for each,
// the approval gate, scheduling into maintenance windows, and rollback. Each run is load →
// decide (decide.go, pure) → act; the steps are a table (steps.go) with their code in one
// file per phase (steps_prepare.go, steps_downtime.go, steps_after.go). Kong, Prometheus,
// the state file and the event sink are reached only through the small interfaces declared
// here (ports.go).
package upgrade
