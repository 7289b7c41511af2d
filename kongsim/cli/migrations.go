package cli

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/drawbridge/drawbridge/kongsim/facts"
	"github.com/drawbridge/drawbridge/kongsim/kconf"
	"github.com/drawbridge/drawbridge/kongsim/klog"
	"github.com/drawbridge/drawbridge/kongsim/kongdb"
	"github.com/drawbridge/drawbridge/kongsim/sim"
)

const migrationsUsage = `Usage: kong migrations COMMAND [OPTIONS]

Manage database schema migrations.

The available commands are:
  bootstrap                         Bootstrap the database and run all
                                    migrations.

  up                                Run any new migrations.

  finish                            Finish running any pending migrations after
                                    'up'.

  list                              List executed migrations.

  reset                             Reset the database.

  status                            Dump the database migration status in JSON format

Options:
 -y,--yes                           Assume "yes" to prompts and run
                                    non-interactively.

 -q,--quiet                         Suppress all output.

 -f,--force                         Run migrations even if database reports
                                    as already executed.

 --db-timeout     (optional number) Timeout, in seconds, for all database
                                    operations.

 --lock-timeout   (default 60)      Timeout, in seconds, for nodes waiting on
                                    the leader node to finish running
                                    migrations.

 -c,--conf        (optional string) Configuration file.

 -p,--prefix      (optional string) Override output directory.

`

var migrationsOpts = []optSpec{
	{short: "y", long: "yes"},
	{short: "q", long: "quiet"},
	{short: "f", long: "force"},
	{long: "db-timeout", value: true},
	{long: "lock-timeout", value: true, def: "60"},
	{short: "c", long: "conf", value: true},
	{short: "p", long: "prefix", value: true},
}

// kongMigrations is "kong migrations <sub>": options are parsed here; the work, output and
// exit code are kongdb.Migrations'.
func kongMigrations(ctx context.Context, env *Env, argv []string) int {
	p, err := parseOpts(argv, migrationsOpts)
	if err != nil {
		fmt.Fprintf(env.Stderr, "%v\n\n%s", err, migrationsUsage)
		return 1
	}
	if len(p.args) == 0 {
		fmt.Fprint(env.Stderr, migrationsUsage)
		return 1
	}
	sub := p.args[0]
	log := logger(env, p)
	conf, pfx, v, err := nodeConf(env, p.str("conf"), p.str("prefix"))
	if err != nil {
		if !slices.Contains(kongdb.Subcommands(facts.Default().Latest().Version), sub) {
			fmt.Fprintf(env.Stderr, "No such command for migrations: %s\n\n%s", sub, migrationsUsage)
			return 1
		}
		return log.Fail(err)
	}
	if err := kconf.Check(conf); err != nil {
		return log.Fail(err)
	}
	if !slices.Contains(kongdb.Subcommands(v), sub) {
		// "status" arrived in 3.0; 2.8 has no such command.
		fmt.Fprintf(env.Stderr, "No such command for migrations: %s\n\n%s", sub, migrationsUsage)
		return 1
	}
	dbTimeout, set, err := p.seconds("db-timeout")
	if err != nil {
		return log.Fail(err)
	}
	if !set {
		dbTimeout = defaultDBTimeout(v)
	}
	lockTimeout, _, err := p.seconds("lock-timeout")
	if err != nil {
		return log.Fail(err)
	}
	sf, err := sim.Load(string(pfx))
	if err != nil {
		return log.Fail(err)
	}
	opts := kongdb.Options{
		Force:       p.flag("force"),
		Yes:         p.flag("yes"),
		Quiet:       p.flag("quiet"),
		DBTimeout:   dbTimeout,
		LockTimeout: lockTimeout,
		FailAt:      sf.Faults.MigrationFail,
		FinishFail:  sf.Faults.FinishFail,
		Delay:       delays(sf.Faults, log),
		LockRace:    time.Duration(sf.Faults.LockRace),
		Version:     v.String(),
		TTY:         env.TTY,
		Stdin:       env.Stdin,
	}
	log.Verbose("Kong: %s", v)
	pfx.LogCommand(append([]string{"migrations"}, argv...))
	return kongdb.Migrations(ctx, sub, opts, conf, facts.Default().Known(v, kconf.LoadedPlugins(conf.Get("plugins"), v)), log)
}

// defaultDBTimeout is --db-timeout when it is not given: through 3.6 it defaults to 60 s
// and overrides pg_timeout; from 3.7 it is optional (Kong PR #12761) and pg_timeout (5000
// ms by default) applies to every migration statement. 0 means pg_timeout.
func defaultDBTimeout(v facts.Version) time.Duration {
	if v.Less(facts.MustParseVersion("3.7.0")) {
		return 60 * time.Second
	}
	return 0
}

// delays is the migration_delay fault for kongdb; a bad value is reported once and ignored.
func delays(f sim.Faults, log *klog.Logger) func(subsystem, name string) time.Duration {
	if f.MigrationDelay == "" {
		return nil
	}
	if _, err := f.DelayFor("", ""); err != nil {
		log.Warn("kongsim: %v", err)
		return nil
	}
	return func(subsystem, name string) time.Duration {
		d, _ := f.DelayFor(subsystem, name)
		return d
	}
}
