package pgdb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/drawbridge/drawbridge/kong"
)

// Backup dumps the whole database with pg_dump -Fc (at Options.Compression) to path and
// verifies the archive by reading all of it with pg_restore. The dump goes to a temporary
// file in path's directory (created 0700 if missing), which is fsynced and renamed to path
// only once verified, so path never holds a partial or unreadable archive; an existing file
// there is replaced only by a verified one. The password reaches pg_dump through a
// temporary PGPASSFILE.
func (db *DB) Backup(ctx context.Context, path string) (kong.Backup, error) {
	b, _, err := db.backup(ctx, path, false)
	return b, err
}

// BackupWithFingerprint is Backup plus the Fingerprint of exactly the state the archive
// holds: pg_dump runs on a snapshot exported by the transaction that fingerprints, so the
// two agree even while Kong keeps writing. Use it to get Restore's want.
func (db *DB) BackupWithFingerprint(ctx context.Context, path string) (kong.Backup, kong.Fingerprint, error) {
	return db.backup(ctx, path, true)
}

func (db *DB) backup(ctx context.Context, path string, withFP bool) (kong.Backup, kong.Fingerprint, error) {
	start := db.opts.Now()
	var b kong.Backup
	var fp kong.Fingerprint
	err := db.do(func() error {
		return bounded(ctx, db.opts.BackupTimeout, "the backup", func(ctx context.Context) error {
			var err error
			b, fp, err = db.dumpVerified(ctx, path, withFP)
			return db.explainLock(ctx, "", err)
		})
	}, "backup %s to %s", db.Name(), path)
	b.Duration = db.opts.Now().Sub(start)
	return b, fp, err
}

func (db *DB) dumpVerified(ctx context.Context, path string, withFP bool) (kong.Backup, kong.Fingerprint, error) {
	if err := db.tools.find(); err != nil {
		return kong.Backup{}, kong.Fingerprint{}, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return kong.Backup{}, kong.Fingerprint{}, err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.partial")
	if err != nil {
		return kong.Backup{}, kong.Fingerprint{}, err
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // a no-op once renamed
	if err := tmp.Close(); err != nil {
		return kong.Backup{}, kong.Fingerprint{}, err
	}
	var fp kong.Fingerprint
	if withFP {
		fp, err = db.dumpWithFingerprint(ctx, tmpName)
	} else {
		err = db.dump(ctx, tmpName, "")
	}
	if err != nil {
		return kong.Backup{}, kong.Fingerprint{}, db.explainToolFailure(ctx, err)
	}
	size, sum, err := syncAndHash(tmpName)
	if err != nil {
		return kong.Backup{}, kong.Fingerprint{}, err
	}
	if err := db.readArchive(ctx, tmpName); err != nil {
		return kong.Backup{}, kong.Fingerprint{}, fmt.Errorf("verify the new archive: %w", err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return kong.Backup{}, kong.Fingerprint{}, err
	}
	if err := syncDir(dir); err != nil {
		return kong.Backup{}, kong.Fingerprint{}, err
	}
	return kong.Backup{Path: path, Size: size, SHA256: sum}, fp, nil
}

// dump runs pg_dump -Fc into file, on snapshot when it is not "".
func (db *DB) dump(ctx context.Context, file, snapshot string) error {
	run, cleanup, err := db.dumpRun(file, snapshot)
	if err != nil {
		return err
	}
	defer cleanup()
	return run.run(ctx)
}

func (db *DB) dumpRun(file, snapshot string) (toolRun, func(), error) {
	passfile, cleanup, err := db.writePassfile()
	if err != nil {
		return toolRun{}, nil, err
	}
	args := []string{"--format=custom", "--compress=" + strconv.Itoa(db.opts.Compression), "--file=" + file, "--no-password"}
	if db.opts.LockTimeout > 0 {
		args = append(args, "--lock-wait-timeout="+strconv.FormatInt(db.opts.LockTimeout.Milliseconds(), 10))
	}
	if snapshot != "" {
		args = append(args, "--snapshot="+snapshot)
	}
	args = append(args, "--dbname="+db.conninfo(db.Name()))
	return toolRun{path: db.tools.dump, args: args, passfile: passfile}, cleanup, nil
}

// dumpWithFingerprint exports a snapshot, runs pg_dump on it and fingerprints it meanwhile.
func (db *DB) dumpWithFingerprint(ctx context.Context, file string) (kong.Fingerprint, error) {
	var fp kong.Fingerprint
	err := db.withConn(ctx, "", func(conn *pgx.Conn) error {
		return readOnly(ctx, conn, func() error {
			var snapshot string
			if err := conn.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&snapshot); err != nil {
				return err
			}
			run, cleanup, err := db.dumpRun(file, snapshot)
			if err != nil {
				return err
			}
			defer cleanup()
			dctx, cancel := context.WithCancel(ctx)
			defer cancel()
			cmd, stderr := run.command(dctx)
			if err := cmd.Start(); err != nil {
				return fmt.Errorf("run pg_dump: %w", err)
			}
			schema, err := currentSchema(ctx, conn)
			if err == nil {
				fp, err = fingerprintIn(ctx, conn, schema, true)
			}
			if err != nil {
				cancel()
				_ = cmd.Wait()
				return err
			}
			// The transaction, and with it the snapshot, stays open until pg_dump is done.
			return toolResult(dctx, "pg_dump", cmd.Wait(), stderr)
		})
	})
	return fp, err
}

// explainToolFailure classifies a failed pg_dump or pg_restore by asking the server
// ourselves: unreachable or refused, or neither.
func (db *DB) explainToolFailure(ctx context.Context, err error) error {
	var te *ToolError
	if !errors.As(err, &te) || ctx.Err() != nil {
		return err
	}
	perr := db.ping(ctx)
	for _, kind := range []error{ErrUnreachable, ErrRefused} {
		if errors.Is(perr, kind) {
			return &classified{kind: kind, err: err}
		}
	}
	return err
}

// VerifyBackup checks that the file at path has the recorded sha256 (hex) and that
// pg_restore can read all of it. A mismatch or an unreadable archive is ErrCorrupt.
func (db *DB) VerifyBackup(ctx context.Context, path, sha256Hex string) error {
	return db.do(func() error {
		if sha256Hex == "" {
			return errors.New("no sha256 recorded to check against")
		}
		size, sum, err := hashFile(path)
		if err != nil {
			return err
		}
		if sum != sha256Hex {
			return fmt.Errorf("%w: sha256 of its %d bytes is %s, recorded %s", ErrCorrupt, size, sum, sha256Hex)
		}
		if err := db.tools.find(); err != nil {
			return err
		}
		return db.readArchive(ctx, path)
	}, "verify backup %s", path)
}

// readArchive reads the whole archive with pg_restore -f /dev/null: unlike --list, this
// decompresses every data block, so a truncated data section fails.
func (db *DB) readArchive(ctx context.Context, path string) error {
	run := toolRun{path: db.tools.restore, args: []string{"--file=" + os.DevNull, path}}
	err := run.run(ctx)
	var te *ToolError
	if errors.As(err, &te) {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return err
}

// syncAndHash fsyncs a file and returns its size and sha256.
func syncAndHash(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return 0, "", err
	}
	return hashReader(f)
}

func hashFile(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	return hashReader(f)
}

func hashReader(r io.Reader) (int64, string, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
