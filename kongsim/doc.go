// Package kongsim is the root of the Kong simulator used by drawbridge's tests and demo, a
// product of its own that links none of drawbridge's packages.
// Its subpackages stand in for what drawbridge touches of Kong Gateway: the kong CLI
// (cli), kong.conf and KONG_* configuration (kconf), a node's prefix directory (prefix),
// Kong's PostgreSQL schema and migrations (kongdb), the Admin and Status APIs with the
// Prometheus plugin's metrics (node), and run-time switches for traffic and faults (sim).
// docs/kongsim.md says what is emulated and where it differs from Kong.
package kongsim
