// Package testsvc owns throwaway real servers for tests: a PostgreSQL cluster and a Prometheus
// server, each started in its own temporary directory on a free loopback port, killed and
// removed when the test ends.
//
// Tests call StartPostgres or StartPrometheus; both stop their server in tb.Cleanup. A package
// that shares one server between its tests starts it in TestMain with NewPostgres or
// NewPrometheus and calls Close itself; ShouldSkip tells TestMain whether a start error means
// "skip" (a binary is missing outside CI) or "fail".
//
// The servers are real processes, so tests can inject faults: Kill (SIGKILL), Pause (SIGSTOP, a
// hung server), Resume, and for PostgreSQL Stop and Restart on the same data and port.
//
// Missing binaries: when initdb/postgres or prometheus are not installed, StartPostgres and
// StartPrometheus skip the test, naming the binary and the install command
// ("apt-get install -y postgresql prometheus"). When the environment has CI=true they fail
// instead, so a CI image without the servers cannot pass silently.
//
// PostgreSQL refuses to run as root. When the test runs as root, initdb and postgres run as the
// "postgres" system user (created by Debian's postgresql package), in a directory under
// os.TempDir() owned by that user.
package testsvc
