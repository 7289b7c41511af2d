//go:build !linux

package pgdb

import (
	"syscall"
	"time"
)

// userTimeout: TCP_USER_TIMEOUT is Linux's; elsewhere the keepalives alone apply.
func userTimeout(time.Duration) func(network, address string, c syscall.RawConn) error { return nil }
