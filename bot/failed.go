package bot

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/notify"
	"github.com/drawbridge/drawbridge/notify/words"
	"github.com/drawbridge/drawbridge/storage"
)

// failedListTimeout bounds listing one cluster's kept databases for `status`: a server that
// does not answer must not hold up the answer about the others.
const failedListTimeout = 10 * time.Second

// dropFailed drops a database a rollback kept (`drop-failed <cluster> <database>`); the
// engine refuses any other name and one a run may still need. What was dropped goes into
// the audit log, under the run whose rollback kept it when drawbridge knows that run.
func (b *Bot) dropFailed(ctx context.Context, c call) (string, error) {
	cluster, name := c.cmd.Args[0], c.cmd.Args[1]
	if _, ok := b.opts.Config.Cluster(cluster); !ok {
		return "", fmt.Errorf("no cluster %q (see `%s clusters`)", truncate(cluster, 40), b.opts.Config.Slack.Command)
	}
	d, err := b.opts.Engine.DropFailedDatabase(ctx, cluster, name)
	if err != nil {
		return "", err
	}
	b.audit(ctx, d.Run, c.user, "failed_db_dropped", words.AuditDropped(d.Name, d.Size, cluster))
	return notify.DroppedFailedText(cluster, d), nil
}

// clusterStatus is `status <cluster>`: its active or scheduled run and the databases its
// rollbacks kept.
func (b *Bot) clusterStatus(ctx context.Context, c config.Cluster) (string, error) {
	runs, err := b.opts.Engine.List(ctx, storage.RunFilter{Cluster: c.Name, Limit: 50})
	if err != nil {
		return "", err
	}
	kept := b.failedDatabases(ctx, c)
	if kept == "" {
		kept = notify.NoFailedDatabasesText(c.Name)
	}
	return withKept(notify.InProgressText(runs, b.windowZone), kept), nil
}

// withKept puts the part on kept databases under the runs of `status`, a blank line apart.
func withKept(runs, kept string) string {
	if kept == "" {
		return runs
	}
	return strings.TrimRight(runs, "\n") + "\n\n" + kept
}

// failedDatabases lists the databases the rollbacks of each cluster kept, asking the
// clusters' servers at once ("" when none kept any).
func (b *Bot) failedDatabases(ctx context.Context, clusters ...config.Cluster) string {
	texts := make([]string, len(clusters))
	var wg sync.WaitGroup
	for i, c := range clusters {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, failedListTimeout)
			defer cancel()
			dbs, err := b.opts.Engine.FailedDatabases(ctx, c.Name)
			texts[i] = notify.FailedDatabasesText(b.opts.Config.Slack.Command, c.Name, dbs, err)
		})
	}
	wg.Wait()
	return strings.Join(texts, "")
}
