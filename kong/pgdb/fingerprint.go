package pgdb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/drawbridge/drawbridge/kong"
)

// ConfigTables are Kong's configuration tables: the entities and the plugins' credentials
// and configuration. Those that exist in the schema are fingerprinted.
var ConfigTables = []string{
	"workspaces", "services", "routes", "consumers", "plugins", "upstreams", "targets",
	"certificates", "snis", "ca_certificates", "key_sets", "keys", "sm_vaults", "vaults_beta",
	"filter_chains", "parameters", "tags",
	"keyauth_credentials", "basicauth_credentials", "hmacauth_credentials", "jwt_secrets", "acls",
	"oauth2_credentials", "acme_storage",
}

// RuntimeTables are tables Kong writes while it runs; they are never fingerprinted, even when
// they have a ws_id column. Tables whose name starts with "clustering_" are runtime too.
var RuntimeTables = []string{
	"schema_meta", "locks", "cluster_events", "ratelimiting_metrics", "response_ratelimiting_metrics",
	"sessions", "oauth2_tokens", "oauth2_authorization_codes", "ttls",
}

// isConfigTable decides whether a table of Kong's schema is fingerprinted: a known
// configuration table, or any other table with a ws_id column (a workspaceable entity,
// e.g. a custom plugin's), unless it is a runtime table.
func isConfigTable(name string, hasWsID bool) bool {
	if slices.Contains(RuntimeTables, name) || strings.HasPrefix(name, "clustering_") {
		return false
	}
	return hasWsID || slices.Contains(ConfigTables, name)
}

// Fingerprint hashes Kong's configuration tables in the current schema, in one consistent
// snapshot (a REPEATABLE READ, read-only transaction). At is the snapshot's time on the
// server.
func (db *DB) Fingerprint(ctx context.Context) (kong.Fingerprint, error) {
	var fp kong.Fingerprint
	err := db.do(func() error {
		return bounded(ctx, db.opts.FingerprintTimeout, "the fingerprint", func(ctx context.Context) error {
			var err error
			fp, err = db.fingerprintDB(ctx, "", true)
			return db.explainLock(ctx, "", err)
		})
	}, "fingerprint %s", db.describe())
	return fp, err
}

// fingerprintDB fingerprints database dbname ("" = the DSN's) in the DSN's current schema,
// in one snapshot or (for a database nobody else writes) table by table; see fingerprintIn.
func (db *DB) fingerprintDB(ctx context.Context, dbname string, snapshot bool) (kong.Fingerprint, error) {
	var fp kong.Fingerprint
	err := db.withConn(ctx, dbname, func(conn *pgx.Conn) error {
		read := func() error {
			schema, err := currentSchema(ctx, conn)
			if err != nil {
				return err
			}
			fp, err = fingerprintIn(ctx, conn, schema, snapshot)
			return err
		}
		if !snapshot {
			return read()
		}
		return readOnly(ctx, conn, read)
	})
	return fp, err
}

// readOnly runs fn in a REPEATABLE READ, read-only transaction on conn.
func readOnly(ctx context.Context, conn *pgx.Conn, fn func() error) error {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	if err := fn(); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	return tx.Commit(ctx)
}

// currentSchema is the session's current schema: Kong's tables live there. It is "public"
// when the search_path names no existing schema.
func currentSchema(ctx context.Context, conn *pgx.Conn) (string, error) {
	var schema *string
	if err := conn.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return "", err
	}
	if schema == nil {
		return "public", nil
	}
	return *schema, nil
}

// fingerprintSettings pin every setting that changes how a row prints.
var fingerprintSettings = []string{"TimeZone = 'UTC'", "DateStyle = 'ISO, MDY'", "IntervalStyle = 'postgres'",
	"extra_float_digits = 1", "bytea_output = 'hex'"}

// fingerprintIn fingerprints the configuration tables of schema on conn. Inside a
// transaction (inTx) it sees one snapshot, including the transaction's own changes.
// Outside one, each table is read on its own and locked only while it is read: that is for
// a database nobody else writes, the fresh restore, while pg_restore builds its indexes.
func fingerprintIn(ctx context.Context, conn *pgx.Conn, schema string, inTx bool) (kong.Fingerprint, error) {
	set := "SET "
	if inTx {
		set = "SET LOCAL "
	}
	if _, err := conn.Exec(ctx, set+strings.Join(fingerprintSettings, "; "+set)); err != nil {
		return kong.Fingerprint{}, err
	}
	var at time.Time
	if err := conn.QueryRow(ctx, "SELECT now()").Scan(&at); err != nil {
		return kong.Fingerprint{}, err
	}
	tables, err := configTables(ctx, conn, schema)
	if err != nil {
		return kong.Fingerprint{}, err
	}
	fp := kong.Fingerprint{Tables: make(map[string]kong.TableSum, len(tables)), At: at.UTC()}
	for _, t := range tables {
		sum, err := tableSum(ctx, conn, schema, t)
		if err != nil {
			return kong.Fingerprint{}, fmt.Errorf("table %s: %w", t.name, err)
		}
		fp.Tables[t.name] = sum
	}
	fp.Hash = overallHash(fp.Tables)
	return fp, nil
}

// table is a fingerprinted table.
type table struct {
	name        string
	partitioned bool
}

// configTables lists schema's fingerprinted tables, by name.
func configTables(ctx context.Context, conn *pgx.Conn, schema string) ([]table, error) {
	rows, err := conn.Query(ctx, `SELECT c.relname::text, c.relkind = 'p', EXISTS (SELECT 1 FROM pg_attribute a
	        WHERE a.attrelid = c.oid AND a.attname = 'ws_id' AND a.attnum > 0 AND NOT a.attisdropped)
	    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	    WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition
	    ORDER BY 1`, schema)
	if err != nil {
		return nil, err
	}
	var out []table
	var t table
	var wsID bool
	_, err = pgx.ForEachRow(rows, []any{&t.name, &t.partitioned, &wsID}, func() error {
		if isConfigTable(t.name, wsID) {
			out = append(out, t)
		}
		return nil
	})
	return out, err
}

// tableSum reads a table with COPY (its rows as text, in no particular order), takes the
// sha256 of every row, and hashes the sorted row digests: sha256 over the rows in a stable
// order, without making the server sort the rows.
func tableSum(ctx context.Context, conn *pgx.Conn, schema string, t table) (kong.TableSum, error) {
	q := "COPY " + pgx.Identifier{schema, t.name}.Sanitize() + " TO STDOUT"
	if t.partitioned {
		q = "COPY (SELECT * FROM " + pgx.Identifier{schema, t.name}.Sanitize() + ") TO STDOUT"
	}
	var rows rowDigests
	tag, err := conn.PgConn().CopyTo(ctx, &rows, q)
	if err != nil {
		return kong.TableSum{}, err
	}
	if len(rows.partial) > 0 || int64(len(rows.sums)) != tag.RowsAffected() {
		return kong.TableSum{}, fmt.Errorf("COPY gave %d lines for %d rows", len(rows.sums), tag.RowsAffected())
	}
	slices.SortFunc(rows.sums, func(a, b [sha256.Size]byte) int { return bytes.Compare(a[:], b[:]) })
	h := sha256.New()
	for _, s := range rows.sums {
		h.Write(s[:])
	}
	return kong.TableSum{Rows: tag.RowsAffected(), Hash: hex.EncodeToString(h.Sum(nil))}, nil
}

// rowDigests takes COPY's text output and keeps the sha256 of every line (row).
type rowDigests struct {
	partial []byte // a row split across writes
	sums    [][sha256.Size]byte
}

func (r *rowDigests) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			r.partial = append(r.partial, p...)
			break
		}
		line := p[:i]
		if len(r.partial) > 0 {
			r.partial = append(r.partial, line...)
			line = r.partial
		}
		r.sums = append(r.sums, sha256.Sum256(line))
		r.partial = r.partial[:0]
		p = p[i+1:]
	}
	return n, nil
}

// overallHash is sha256 over "name\trows\thash\n" of every table, by name.
func overallHash(tables map[string]kong.TableSum) string {
	names := make([]string, 0, len(tables))
	for n := range tables {
		names = append(names, n)
	}
	slices.Sort(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s\t%d\t%s\n", n, tables[n].Rows, tables[n].Hash)
	}
	return hex.EncodeToString(h.Sum(nil))
}
