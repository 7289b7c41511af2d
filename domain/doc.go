// Package domain is drawbridge's vocabulary for a run: the run and its typed facts, its
// states with the words people read, the step table, the records of steps and decisions,
// the events that describe a change with a snapshot of the run, and the watch's checks,
// readings, reports and breaches.
//
// It imports nothing of drawbridge's own. storage persists these values, upgrade decides on
// them, promwatch fills the watch's parts, and notify renders them; none of them needs
// another's package for a word.
package domain
