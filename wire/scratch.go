package wire

import (
	"context"
	"fmt"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/kong"
	"github.com/drawbridge/drawbridge/kong/pgdb"
	"github.com/drawbridge/drawbridge/upgrade"
	"github.com/jackc/pgx/v5/pgconn"
)

// scratch adapts kong/pgdb's copies to the engine's Scratch.
type scratch struct {
	server *pgdb.DB // where the copies live
	kongDB string   // Kong's database: the copies' name and, on Kong's server, their model
	like   string   // "" on another server
}

// openScratch opens the server of a cluster's rehearsal: rehearsal.dsn, or Kong's own.
func openScratch(ctx context.Context, cfg *config.Config, c *config.Cluster) (upgrade.Scratch, error) {
	opts := DatabaseOptions(cfg, c)
	// Two pg_restore jobs: the copy is on the way to the gate, and a fresh database (unlike
	// the rollback's in-place restore) may be filled in parallel.
	opts.RestoreJobs = 2
	if dsn := c.Rehearsal.DSN; dsn != "" {
		// Another server: Kong's database only names the copy (no connection to it).
		kong, err := pgconn.ParseConfig(c.Database.DSN.Reveal())
		if err != nil {
			return nil, fmt.Errorf("cluster %s: database.dsn is not a PostgreSQL connection string", c.Name)
		}
		server, err := pgdb.Open(ctx, dsn.Reveal(), opts)
		if err != nil {
			return nil, err
		}
		return &scratch{server: server, kongDB: kong.Database}, nil
	}
	kongDB, err := pgdb.Open(ctx, c.Database.DSN.Reveal(), opts)
	if err != nil {
		return nil, err
	}
	return &scratch{server: kongDB, kongDB: kongDB.Name(), like: kongDB.Name()}, nil
}

func (s *scratch) Name(run domain.RunID) (string, error) {
	return pgdb.RehearsalName(s.kongDB, run.String())
}

func (s *scratch) Restore(ctx context.Context, archive string, run domain.RunID) (kong.ScratchCopy, error) {
	name, err := s.Name(run)
	if err != nil {
		return kong.ScratchCopy{}, err
	}
	return s.server.RestoreCopy(ctx, archive, name, s.like)
}

func (s *scratch) Copy(name string) upgrade.Database { return s.server.On(name) }

func (s *scratch) Drop(ctx context.Context, name string) (bool, error) {
	return s.server.DropCopy(ctx, name)
}

func (s *scratch) Close() { s.server.Close() }
