// Package wire is drawbridge's composition root: it assembles the upgrade engine with the
// real Kong adapters (Admin API client, node command runner, PostgreSQL, Prometheus), the
// event sink, the outbox and its deliverer, and the bot (App), so that serve, plan, the demo
// and the end-to-end tests build the same thing.
package wire

import (
	"context"
	"log/slog"
	"path/filepath"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/kong/adminapi"
	"github.com/drawbridge/drawbridge/kong/nodecmd"
	"github.com/drawbridge/drawbridge/kong/pgdb"
	"github.com/drawbridge/drawbridge/promwatch"
	"github.com/drawbridge/drawbridge/scrub"
	"github.com/drawbridge/drawbridge/upgrade"
)

// EngineOptions returns the engine's options with the real adapters; callers may replace
// any of them (tests set Clock, Sink, Watcher).
func EngineOptions(cfg *config.Config, store upgrade.Store, log *slog.Logger) upgrade.Options {
	prom := &promwatch.Client{}
	secrets := scrub.New(cfg.Secrets()...)
	watch := &promwatch.Watcher{Client: prom}
	return upgrade.Options{
		Config: cfg,
		Store:  store,
		Nodes:  &adminapi.Client{},
		Commands: func(c *config.Cluster, outDir string) upgrade.Commands {
			return &nodecmd.Runner{OutputDir: outDir, Parallelism: c.Parallelism, Timeout: c.CommandTimeout.D(),
				Env: nodecmd.MinimalEnv(c.CommandsEnv), Scrub: secrets}
		},
		OpenDB: func(ctx context.Context, c *config.Cluster) (upgrade.Database, error) {
			return pgdb.Open(ctx, c.Database.DSN.Reveal(), DatabaseOptions(cfg, c))
		},
		OpenScratch: func(ctx context.Context, c *config.Cluster) (upgrade.Scratch, error) { return openScratch(ctx, cfg, c) },
		Metrics:     prom,
		Watcher:     watch, // the checks of watch.checks, or Kong's built-in ones
		Baseliner:   watch,
		Series:      watch,
		Log:         log,
	}
}

// DatabaseOptions are a cluster's database options: the deadlines of its configuration, and
// the password files under the state directory (PassfileDir).
func DatabaseOptions(cfg *config.Config, c *config.Cluster) pgdb.Options {
	d := c.Database
	return pgdb.Options{StatementTimeout: d.StatementTimeout.D(), LockTimeout: d.LockTimeout.D(), BackupTimeout: d.BackupTimeout.D(),
		RestoreTimeout: d.RestoreTimeout.D(), FingerprintTimeout: d.FingerprintTimeout.D(), PassfileDir: PassfileDir(cfg)}
}

// PassfileDir is where pg_dump's and pg_restore's temporary PGPASSFILEs live: beside the
// state file (which holds nothing less private), not in a shared /tmp.
func PassfileDir(cfg *config.Config) string {
	return filepath.Join(filepath.Dir(cfg.StateFile), "pgpass")
}
