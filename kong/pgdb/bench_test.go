package pgdb

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/kong"
	"github.com/drawbridge/drawbridge/kongsim/kongdb"
)

// The benchmarks share one database of about 100,000 configuration rows: a seeded Kong
// 3.4 (500 services, 2,000 routes, 1,000 plugins, 500 consumers) plus 22,000 bulk
// consumers with a key-auth credential each, all tagged (so tags holds a row per entity).
var bench struct {
	once sync.Once
	name string
	rows int64
	err  error
}

const benchBulkConsumers = 22000

func benchDatabase(b *testing.B) string {
	b.Helper()
	needPG(b)
	bench.once.Do(func() {
		bench.name = "kong_bench"
		if _, bench.err = pg.CreateDatabase(context.Background(), bench.name); bench.err != nil {
			return
		}
		k := kongTarget{Database: bench.name, User: pg.User}
		if bench.err = migrateErr(k, "bootstrap", fromVersion); bench.err != nil {
			return
		}
		o := kongdb.SeedOptions{Services: 500, RoutesPerService: 4, PluginsPerService: 2, Consumers: 500, Upstreams: 10, TargetsPerUpstream: 5, Prometheus: true}
		if bench.err = seedErr(k, o); bench.err != nil {
			return
		}
		bench.err = bulkInsert(bench.name, benchBulkConsumers)
		if bench.err == nil {
			var db *DB
			if db, bench.err = Open(context.Background(), pg.DSN(bench.name), Options{BinDir: pg.BinDir()}); bench.err == nil {
				fp, err := db.Fingerprint(context.Background())
				for _, t := range fp.Tables {
					bench.rows += t.Rows
				}
				bench.err = err
			}
		}
	})
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	return bench.name
}

func bulkInsert(database string, n int) error {
	ctx := context.Background()
	conn, err := pgxConnect(ctx, pg.DSN(database))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, fmt.Sprintf(`
	  INSERT INTO consumers (id, created_at, username, custom_id, tags, ws_id)
	  SELECT md5('bulk-consumer-' || i)::uuid, timestamptz '2024-02-01 00:00:00+00' + i * interval '1 second',
	         'bulk-' || i, 'bulk-cid-' || i, '{bulk}', (SELECT id FROM workspaces WHERE name = 'default')
	    FROM generate_series(1, %[1]d) i;
	  INSERT INTO keyauth_credentials (id, created_at, consumer_id, key, tags, ws_id)
	  SELECT md5('bulk-key-' || i)::uuid, timestamptz '2024-02-01 00:00:00+00' + i * interval '1 second',
	         md5('bulk-consumer-' || i)::uuid, 'bulk-key-' || md5('k' || i), '{bulk}', (SELECT id FROM workspaces WHERE name = 'default')
	    FROM generate_series(1, %[1]d) i`, n))
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, "VACUUM ANALYZE")
	return err
}

// rollback is one benchmarked rollback. Each method settles the database and cleans up
// with the timer stopped, and returns the duration of its timed part.
type rollback struct {
	b    *testing.B
	name string // the seeded database
	dir  string
}

// ours is drawbridge's rollback: Backup (pg_dump -Fc, fsync, sha256, reading the whole
// archive back) and Restore (pg_restore into a fresh database, fingerprint check, swap).
func (r rollback) ours(db *DB, want kong.Fingerprint, i int) time.Duration {
	r.b.StopTimer()
	settle(r.b, r.name)
	r.b.StartTimer()
	start := time.Now()
	backup, err := db.Backup(r.b.Context(), filepath.Join(r.dir, fmt.Sprintf("ours%d.dump", i)))
	if err != nil {
		r.b.Fatal(err)
	}
	res, err := db.Restore(r.b.Context(), backup.Path, want, fmt.Sprintf("b%d", i))
	if err != nil {
		r.b.Fatal(err)
	}
	took := time.Since(start)
	r.b.StopTimer()
	superExec(r.b, "postgres", "DROP DATABASE "+ident(res.FailedDB))
	_ = os.Remove(backup.Path)
	r.b.StartTimer()
	return took
}

// plain is the baseline: pg_dump -Fc, CREATE DATABASE, pg_restore -d.
func (r rollback) plain(i int) time.Duration {
	r.b.StopTimer()
	settle(r.b, r.name)
	r.b.StartTimer()
	start := time.Now()
	path := filepath.Join(r.dir, fmt.Sprintf("plain%d.dump", i))
	fresh := fmt.Sprintf("%s_plain_%d", r.name, i)
	run(r.b, filepath.Join(pg.BinDir(), "pg_dump"), "-Fc", "-f", path, "-d", pg.DSN(r.name))
	superExec(r.b, "postgres", "CREATE DATABASE "+ident(fresh)+" TEMPLATE template0")
	run(r.b, filepath.Join(pg.BinDir(), "pg_restore"), "-d", pg.DSN(fresh), path)
	took := time.Since(start)
	r.b.StopTimer()
	superExec(r.b, "postgres", "DROP DATABASE "+ident(fresh))
	_ = os.Remove(path)
	r.b.StartTimer()
	return took
}

func openBench(b *testing.B, name string, opts Options) (*DB, kong.Fingerprint) {
	b.Helper()
	opts.BinDir = pg.BinDir()
	db, err := Open(b.Context(), pg.DSN(name), opts)
	if err != nil {
		b.Fatal(err)
	}
	want, err := db.Fingerprint(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	return db, want
}

// BenchmarkBackupRestore is a rollback as drawbridge does it. "default" uses pgdb's
// defaults (zlib level 1); "compress=6" dumps at pg_dump's default level, as the baseline.
func BenchmarkBackupRestore(b *testing.B) {
	name := benchDatabase(b)
	for _, c := range []struct {
		name string
		opts Options
	}{
		{"default", Options{}},
		{"compress=6", Options{Compression: 6}},
	} {
		b.Run(c.name, func(b *testing.B) {
			db, want := openBench(b, name, c.opts)
			r := rollback{b: b, name: name, dir: b.TempDir()}
			b.ResetTimer()
			for i := range b.N {
				r.ours(db, want, i)
			}
			b.ReportMetric(float64(bench.rows), "config-rows")
		})
	}
}

// BenchmarkPlainPgDumpRestore is the baseline: pg_dump -Fc, CREATE DATABASE, pg_restore -d.
func BenchmarkPlainPgDumpRestore(b *testing.B) {
	name := benchDatabase(b)
	r := rollback{b: b, name: name, dir: b.TempDir()}
	b.ResetTimer()
	for i := range b.N {
		r.plain(i)
	}
	b.ReportMetric(float64(bench.rows), "config-rows")
}

// BenchmarkRollbackRatio alternates ours (defaults) and the baseline in every iteration,
// in turn first, so that both see the same machine load, and reports ours/plain.
func BenchmarkRollbackRatio(b *testing.B) {
	name := benchDatabase(b)
	db, want := openBench(b, name, Options{})
	r := rollback{b: b, name: name, dir: b.TempDir()}
	var ours, plain time.Duration
	b.ResetTimer()
	for i := range b.N {
		if i%2 == 0 {
			ours += r.ours(db, want, i)
			plain += r.plain(i)
		} else {
			plain += r.plain(i)
			ours += r.ours(db, want, i)
		}
	}
	b.ReportMetric(float64(ours.Milliseconds())/float64(b.N), "ours-ms/op")
	b.ReportMetric(float64(plain.Milliseconds())/float64(b.N), "plain-ms/op")
	b.ReportMetric(float64(ours)/float64(plain), "ours/plain")
}

// settle gives every iteration the same start: the source vacuumed (as autovacuum keeps a
// live database; a freshly restored one is not yet) and no checkpoint pending.
func settle(b *testing.B, database string) {
	b.Helper()
	superExec(b, database, "VACUUM (ANALYZE)")
	superExec(b, database, "CHECKPOINT")
}

func run(b *testing.B, name string, args ...string) {
	b.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		b.Fatalf("%s: %v\n%s", filepath.Base(name), err, out)
	}
}
