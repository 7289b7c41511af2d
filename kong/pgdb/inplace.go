package pgdb

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/drawbridge/drawbridge/kong"
)

// inPlaceLockTimeout bounds the wait for other sessions' locks on Kong's tables.
const inPlaceLockTimeout = "30s"

// restoreInPlace restores the archive into the target database itself, in one transaction:
// drop and recreate the schemas, apply the archive's SQL, check the fingerprint, commit.
func (db *DB) restoreInPlace(ctx context.Context, archive string, want kong.Fingerprint) (kong.Restore, error) {
	archived, err := db.archiveSchemas(ctx, archive)
	if err != nil {
		return kong.Restore{}, err
	}
	conn, err := db.connect(ctx, "")
	if err != nil {
		return kong.Restore{}, err
	}
	defer closeConn(conn)
	fp, err := db.inPlace(ctx, conn, archive, archived, want)
	if err != nil {
		return kong.Restore{}, classify(ctx, fmt.Errorf("in place: %w", err))
	}
	return kong.Restore{Method: MethodInPlace, Fingerprint: fp}, nil
}

func (db *DB) inPlace(ctx context.Context, conn *pgx.Conn, archive string, archived []string, want kong.Fingerprint) (kong.Fingerprint, error) {
	kongSchema, err := currentSchema(ctx, conn)
	if err != nil {
		return kong.Fingerprint{}, err
	}
	// Sessions left (other roles') only matter if they hold locks: lock_timeout then says so.
	if _, err := terminateSessions(ctx, conn, db.Name()); err != nil {
		return kong.Fingerprint{}, err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return kong.Fingerprint{}, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }() // a no-op after Commit
	if _, err := conn.Exec(ctx, "SET LOCAL lock_timeout = '"+inPlaceLockTimeout+"'"); err != nil {
		return kong.Fingerprint{}, err
	}
	drop := archived
	if !slices.Contains(drop, kongSchema) {
		drop = append(drop, kongSchema)
	}
	for _, schema := range drop {
		recreate := schema == "public" || !slices.Contains(archived, schema)
		if err := resetSchema(ctx, conn, schema, recreate); err != nil {
			return kong.Fingerprint{}, fmt.Errorf("reset schema %q: %w", schema, err)
		}
	}
	if err := db.applyArchive(ctx, conn.PgConn(), archive); err != nil {
		return kong.Fingerprint{}, fmt.Errorf("rolled back: %w", err)
	}
	if s := conn.PgConn().TxStatus(); s != 'T' {
		return kong.Fingerprint{}, fmt.Errorf("the archive's SQL left the transaction (status %q)", s)
	}
	fp, err := fingerprintIn(ctx, conn, kongSchema, true)
	if err != nil {
		return kong.Fingerprint{}, fmt.Errorf("fingerprint the restored schema: %w", err)
	}
	if !fp.Equal(want) {
		return kong.Fingerprint{}, fmt.Errorf("rolled back: %w", &MismatchError{Database: db.Name(), Diffs: fp.Diff(want), Want: want.Hash, Got: fp.Hash})
	}
	if err := tx.Commit(ctx); err != nil {
		return kong.Fingerprint{}, fmt.Errorf("commit: %w", err)
	}
	return fp, nil
}

// resetSchema drops a schema with everything in it and, when recreate is set (the archive
// does not create it), creates it again with its owner and privileges.
func resetSchema(ctx context.Context, conn *pgx.Conn, schema string, recreate bool) error {
	owner := ""
	var grants []grant
	err := conn.QueryRow(ctx, `SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = $1`, schema).Scan(&owner)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		// absent: nothing to drop, created owned by us
	case err != nil:
		return err
	default:
		rows, err := conn.Query(ctx, `SELECT CASE WHEN a.grantee = 0 THEN '' ELSE pg_get_userbyid(a.grantee) END,
		        a.privilege_type, a.is_grantable
		    FROM pg_namespace n, aclexplode(n.nspacl) a WHERE n.nspname = $1 AND a.grantee <> n.nspowner`, schema)
		if err != nil {
			return err
		}
		if grants, err = pgx.CollectRows(rows, pgx.RowToStructByPos[grant]); err != nil {
			return err
		}
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+ident(schema)+" CASCADE"); err != nil {
			return err
		}
	}
	if !recreate {
		return nil
	}
	q := "CREATE SCHEMA " + ident(schema)
	if owner != "" {
		q += " AUTHORIZATION " + ident(owner)
	}
	if _, err := conn.Exec(ctx, q); err != nil {
		return err
	}
	for _, g := range grants {
		if _, err := conn.Exec(ctx, g.sql("SCHEMA "+ident(schema))); err != nil {
			return err
		}
	}
	return nil
}

// schemaEntry is a SCHEMA line of pg_restore --list: "2615 16385 SCHEMA - kong kong".
var schemaEntry = regexp.MustCompile(`^\d+; \d+ \d+ SCHEMA - (.+) \S+$`)

// archiveSchemas lists the schemas the archive creates (public never: initdb creates it).
func (db *DB) archiveSchemas(ctx context.Context, archive string) ([]string, error) {
	var out bytes.Buffer
	run := toolRun{path: db.tools.restore, args: []string{"--list", archive}, stdout: &out}
	if err := run.run(ctx); err != nil {
		return nil, fmt.Errorf("list the archive: %w", corruptIfToolError(err))
	}
	var schemas []string
	for _, line := range strings.Split(out.String(), "\n") {
		if m := schemaEntry.FindStringSubmatch(line); m != nil {
			schemas = append(schemas, m[1])
		}
	}
	return schemas, nil
}

// corruptIfToolError: pg_restore without a database fails only on the archive.
func corruptIfToolError(err error) error {
	var te *ToolError
	if errors.As(err, &te) {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return err
}

// applyArchive runs the SQL of pg_restore -f - on pc, inside the caller's transaction.
func (db *DB) applyArchive(ctx context.Context, pc *pgconn.PgConn, archive string) error {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	run := toolRun{path: db.tools.restore, args: []string{"--file=-", archive}}
	cmd, stderr := run.command(rctx)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run pg_restore: %w", err)
	}
	applyErr := applyScript(ctx, pc, stdout)
	if applyErr != nil {
		cancel()
	}
	waitErr := cmd.Wait()
	var exit *exec.ExitError
	if errors.As(waitErr, &exit) && exit.ExitCode() > 0 {
		// It failed by itself, not by our cancel: the archive cannot be read.
		return fmt.Errorf("%w: %w", ErrCorrupt, &ToolError{Tool: "pg_restore", ExitCode: exit.ExitCode(), Stderr: stderr.tail(8)})
	}
	if applyErr != nil {
		return fmt.Errorf("apply the archive's SQL: %w", applyErr)
	}
	return toolResult(ctx, "pg_restore", waitErr, stderr)
}

// applyScript runs the SQL pg_restore writes: statements batched through the simple query
// protocol, each "COPY … FROM stdin;" block (always after a blank line, its data ending with
// a "\." line) through CopyFrom. psql's \restrict and \unrestrict lines are skipped.
func applyScript(ctx context.Context, pc *pgconn.PgConn, r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<16)
	var batch strings.Builder
	flush := func() error {
		if strings.TrimSpace(batch.String()) == "" {
			batch.Reset()
			return nil
		}
		_, err := pc.Exec(ctx, batch.String()).ReadAll()
		batch.Reset()
		return err
	}
	prevBlank := true
	for {
		line, err := br.ReadString('\n')
		if len(line) > 0 {
			text := strings.TrimRight(line, "\n")
			switch {
			case strings.HasPrefix(text, `\restrict `) || strings.HasPrefix(text, `\unrestrict `):
			case prevBlank && strings.HasPrefix(text, "COPY ") && strings.HasSuffix(text, " FROM stdin;"):
				if err := flush(); err != nil {
					return err
				}
				if _, err := pc.CopyFrom(ctx, &copyData{br: br}, text); err != nil {
					return err
				}
			default:
				batch.WriteString(line)
			}
			prevBlank = text == ""
		}
		if err == io.EOF {
			return flush()
		}
		if err != nil {
			return err
		}
	}
}

// errCopyTruncated: the script ended inside a COPY block.
var errCopyTruncated = errors.New("the archive's SQL ended inside COPY data")

// copyData reads one COPY block's data lines from br, up to (not including) the "\." line.
type copyData struct {
	br      *bufio.Reader
	rest    []byte // the part of the current line not yet returned
	midLine bool   // rest does not start a line
	done    bool
}

func (c *copyData) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(c.rest) == 0 {
			if c.done {
				break
			}
			if err := c.next(); err != nil {
				return n, err
			}
			continue
		}
		k := copy(p[n:], c.rest)
		c.rest = c.rest[k:]
		n += k
	}
	if n == 0 && c.done {
		return 0, io.EOF
	}
	return n, nil
}

// next loads the next line (or a buffer's worth of a long one) into rest.
func (c *copyData) next() error {
	startsLine := !c.midLine
	line, err := c.br.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		c.rest, c.midLine = line, true
		return nil
	case errors.Is(err, io.EOF):
		return errCopyTruncated
	case err != nil:
		return err
	}
	c.midLine = false
	if startsLine && string(line) == "\\.\n" {
		c.done = true
		return nil
	}
	c.rest = line
	return nil
}
