// Package storage owns drawbridge's persisted state in bbolt: the buckets, the records
// that are storage's own (audit events, schedules, the outbox, message references,
// idempotency keys), the schema version and its migrations. Runs, step records and
// approvals are domain's values; storage persists them.
//
// Callers get a typed API. They never see a *bolt.Tx or a byte slice that
// points into the memory map: every value is decoded (JSON, each record
// carrying a "v" format field) inside its transaction. Every state change is
// one bbolt Update that checks and writes, so a check such as "the cluster has
// no active run" and the write that depends on it cannot be separated by
// another writer or by a crash.
//
// Layout (schema version 3):
//
//	meta          schema_version → big-endian uint64; ping → when Ping last wrote (only after a write failed)
//	runs          be64(run ID) → domain.Run (record format 2: typed facts since version 3)
//	active        cluster name → be64(run ID) of its one non-terminal run
//	steps         be64(run ID) + be64(step index) → domain.StepRecord (format 2)
//	approvals     be64(run ID) + be64(arrival seq) → domain.Approval
//	audit         be64(seq) → AuditEvent
//	audit_by_run  be64(run ID) + be64(seq) → empty (added by schema version 2)
//	schedules     be64(run ID) → Schedule
//	outbox        be64(seq) → OutboxMessage (pending)
//	outbox_dead   be64(seq) → OutboxMessage (dead letters, with the time they died)
//	message_refs  key → MessageRef
//	claimed_keys  idempotency key → claim time
//
// Sequence numbers come from the owning bucket's NextSequence and are stored
// big-endian so that bbolt's byte order is numeric order.
package storage
