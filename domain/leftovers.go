package domain

import (
	"regexp"
	"strconv"
)

// What runs leave behind once they end: backup archives (Facts.Backup) and the databases
// rollbacks keep for forensics. Retention deletes them, but never what a run may still need.

// MayRestore reports whether the run may still restore its backup: it has not ended, or
// its rollback failed (a person may retry the rollback). Its backup archive and the
// database its rollback kept must stay.
func (r Run) MayRestore() bool {
	return !r.State.Terminal() || r.State == StateRollbackFailed
}

// FailedDatabase is a database a rollback kept: Kong's database as the upgrade left it,
// renamed <Kong's database>_failed_<run> when the backup was swapped in, and kept for
// forensics until a person drops it.
type FailedDatabase struct {
	Name string
	Size int64 // bytes (pg_database_size); -1 when the role may not read it
	Run  RunID // the run whose rollback kept it, from the name
}

// failedInfix joins Kong's database and the run in a kept database's name.
const failedInfix = "_failed_"

var runDigits = regexp.MustCompile(`^[1-9][0-9]*$`)

// FailedDatabasePrefix is how the names of the databases rollbacks keep of Kong's database
// kongDB begin: <kongDB>_failed_.
func FailedDatabasePrefix(kongDB string) string { return kongDB + failedInfix }

// FailedDatabaseName is the database the rollback of run keeps of Kong's database kongDB.
func FailedDatabaseName(kongDB string, run RunID) string {
	return FailedDatabasePrefix(kongDB) + run.String()
}

// FailedDatabaseRun returns the run whose rollback kept database name of Kong's database
// kongDB; ok is false unless name is exactly <kongDB>_failed_<run number>.
func FailedDatabaseRun(kongDB, name string) (run RunID, ok bool) {
	prefix := FailedDatabasePrefix(kongDB)
	if kongDB == "" || len(name) <= len(prefix) || name[:len(prefix)] != prefix || !runDigits.MatchString(name[len(prefix):]) {
		return 0, false
	}
	n, err := strconv.ParseUint(name[len(prefix):], 10, 64)
	if err != nil {
		return 0, false
	}
	return RunID(n), true
}
