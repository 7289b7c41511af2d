// Package upgrade is the upgrade engine: runs and their states, the twelve steps of
// Kong's in-place upgrade with a check of the real world for each, the approval gate,
// scheduling into maintenance windows, and rollback. It is pure logic behind small
// interfaces declared here; Kong, Prometheus, Slack and storage are reached only through
// them.
package upgrade
