package pgdb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/drawbridge/drawbridge/kong"
)

// rehearsalInfix marks the scratch databases of rehearsals: the only databases RestoreCopy
// creates and DropCopy drops.
const rehearsalInfix = "_rehearsal_"

// RehearsalName is the scratch database of run's rehearsal: <kongDB>_rehearsal_<run>.
func RehearsalName(kongDB, run string) (string, error) {
	if !suffixPattern.MatchString(run) {
		return "", fmt.Errorf("run %q: want letters, digits and _", run)
	}
	name := kongDB + rehearsalInfix + run
	if len(name) > maxIdentLen {
		return "", fmt.Errorf("database name %q is longer than PostgreSQL's %d bytes", name, maxIdentLen)
	}
	return name, nil
}

func checkScratchName(name, kongDB string) error {
	if !strings.Contains(name, rehearsalInfix) || name == kongDB {
		return fmt.Errorf("%w: %q is not a rehearsal's scratch database (<db>%s<run>)", ErrRefused, name, rehearsalInfix)
	}
	return nil
}

// On returns the same server, role and settings with another database: a scratch copy.
func (db *DB) On(name string) *DB {
	cfg := db.cfg.Copy()
	cfg.Database = name
	return &DB{cfg: cfg, params: db.params, opts: db.opts, tools: db.tools}
}

// RestoreCopy restores a pg_dump archive into a new database name on this server, for a
// rehearsal. When like names a database of this server (Kong's own), the copy is created
// like it (owner, encoding, locale, settings, privileges) and the archive's ownership and
// privileges are kept, so Kong's role may migrate it as it would the real one; otherwise
// (another server) the copy belongs to this role and the archive is restored without owners
// and privileges. A database of that name left by an earlier attempt is dropped first; a
// copy that fails half-way is dropped again. Only names with "_rehearsal_" are accepted.
func (db *DB) RestoreCopy(ctx context.Context, archive, name, like string) (kong.ScratchCopy, error) {
	start := db.opts.Now()
	cp := kong.ScratchCopy{Database: name, Host: db.cfg.Host, Port: int(db.cfg.Port), User: db.cfg.User}
	err := db.do(func() error {
		return bounded(ctx, db.opts.RestoreTimeout, "the copy's restore", func(ctx context.Context) error {
			return db.restoreCopy(ctx, archive, name, like)
		})
	}, "copy %s into %q", archive, name)
	cp.Duration = db.opts.Now().Sub(start)
	return cp, err
}

func (db *DB) restoreCopy(ctx context.Context, archive, name, like string) error {
	if err := checkScratchName(name, like); err != nil {
		return err
	}
	if _, err := os.Stat(archive); err != nil {
		return err
	}
	if err := db.tools.find(); err != nil {
		return err
	}
	m, err := db.connectMaintenance(ctx)
	if err != nil {
		return err
	}
	defer closeConn(m)
	owned := like != ""
	var likeDB database
	if owned {
		d, err := lookupDatabase(ctx, m, like)
		if err != nil {
			return classify(ctx, err)
		}
		if !d.exists {
			return fmt.Errorf("%w: database %q does not exist", ErrRefused, like)
		}
		likeDB = d
	}
	// A leftover of an earlier attempt is dropped first. The session of a process killed
	// while it created the copy may still be committing it: then the name is taken again
	// between the drop and the create (duplicate_database or a unique violation), and the
	// drop is tried again.
	for attempt := 1; ; attempt++ {
		if err := dropDatabase(ctx, m, name, true); err != nil {
			return fmt.Errorf("drop the leftover copy: %w", err)
		}
		var err error
		if owned {
			err = createLike(ctx, m, name, likeDB)
		} else {
			_, err = m.Exec(ctx, "CREATE DATABASE "+ident(name)+" TEMPLATE template0")
		}
		if err == nil {
			break
		}
		if code := pgCode(err); (code == codeDuplicateDatabase || code == codeUniqueViolation) && attempt < 5 {
			continue
		}
		return classify(ctx, fmt.Errorf("create %q: %w", name, err))
	}
	if err := db.restoreInto(ctx, name, archive, owned); err != nil {
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		return errors.Join(err, dropDatabase(cctx, m, name, true))
	}
	return nil
}

// restoreInto runs pg_restore of the whole archive into dbname.
func (db *DB) restoreInto(ctx context.Context, dbname, archive string, owned bool) error {
	passfile, cleanup, err := db.writePassfile()
	if err != nil {
		return err
	}
	defer cleanup()
	args := []string{"--exit-on-error", "--no-password", "--dbname=" + db.conninfo(dbname)}
	if !owned {
		args = append(args, "--no-owner", "--no-privileges")
	}
	if db.opts.RestoreJobs > 1 {
		args = append(args, "--jobs="+strconv.Itoa(db.opts.RestoreJobs))
	}
	run := toolRun{path: db.tools.restore, args: append(args, archive), passfile: passfile}
	if err := run.run(ctx); err != nil {
		return fmt.Errorf("pg_restore into %q: %w", dbname, db.explainRestoreFailure(ctx, archive, err))
	}
	return nil
}

// DropCopy drops a rehearsal's scratch database, ending its sessions; it reports whether
// there was one. It is safe to repeat and refuses any name without "_rehearsal_".
func (db *DB) DropCopy(ctx context.Context, name string) (bool, error) {
	return db.dropNamed(ctx, name, func() error { return checkScratchName(name, "") })
}

// dropNamed drops database name once check accepts the name, ending its sessions; it
// reports whether there was one.
func (db *DB) dropNamed(ctx context.Context, name string, check func() error) (bool, error) {
	var existed bool
	err := db.do(func() error {
		if err := check(); err != nil {
			return err
		}
		m, err := db.connectMaintenance(ctx)
		if err != nil {
			return err
		}
		defer closeConn(m)
		d, err := lookupDatabase(ctx, m, name)
		if err != nil || !d.exists {
			return classify(ctx, err)
		}
		existed = true
		return dropDatabase(ctx, m, name, true)
	}, "drop %q", name)
	return existed, err
}

// Copies lists the rehearsals' scratch databases on this server whose names start with
// prefix (e.g. "kong_rehearsal_").
func (db *DB) Copies(ctx context.Context, prefix string) ([]string, error) {
	var names []string
	err := db.do(func() error {
		m, err := db.connectMaintenance(ctx)
		if err != nil {
			return err
		}
		defer closeConn(m)
		rows, err := m.Query(ctx, `SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY datname`, prefix)
		if err != nil {
			return classify(ctx, err)
		}
		names, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return classify(ctx, err)
	}, "list the scratch databases")
	return names, err
}
