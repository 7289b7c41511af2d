package storage

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by the Store wrap them with what was being
// done; test for them with errors.Is.
var (
	// ErrLocked: another process holds the state file's lock.
	ErrLocked = errors.New("it is locked by another process")
	// ErrNotFound: the run, message, schedule or other record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrClusterBusy: the cluster already has a non-terminal run.
	ErrClusterBusy = errors.New("cluster busy")
	// ErrDuplicate: the record may exist only once and already does.
	ErrDuplicate = errors.New("duplicate")
	// ErrNewerSchema: the state file was written by a newer drawbridge.
	ErrNewerSchema = errors.New("state file schema is newer than this drawbridge")
	// ErrClosed: the Store has been closed.
	ErrClosed = errors.New("state store is closed")
)

// newerSchemaError reports a state file written by a newer drawbridge. It
// matches ErrNewerSchema under errors.Is.
type newerSchemaError struct {
	path      string
	have, max int
}

func (e *newerSchemaError) Error() string {
	return fmt.Sprintf("state file %s has schema version %d, this drawbridge understands up to %d; upgrade drawbridge",
		e.path, e.have, e.max)
}

func (e *newerSchemaError) Is(target error) bool { return target == ErrNewerSchema }
