package notify

import (
	"fmt"
	"io"
	"strings"

	"github.com/drawbridge/drawbridge/domain"
)

// The databases rollbacks kept (<Kong's database>_failed_<run>): in `plan`, in `status`, and
// the answer to `drop-failed`.

// FailedDatabasesText is a cluster's part of `status`: the databases its rollbacks kept,
// each with its size, the run that kept it and the command that drops it; or why they could
// not be listed. It is empty when there are none.
func FailedDatabasesText(slash, cluster string, dbs []domain.FailedDatabase, err error) string {
	switch {
	case err != nil:
		return fmt.Sprintf("*%s*: could not list the databases its rollbacks kept: %s\n", cluster, Escape(cutText(err.Error(), 500)))
	case len(dbs) == 0:
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*%s*: its rollbacks kept %s:\n", cluster, databases(len(dbs)))
	for _, d := range dbs {
		name := Escape(d.Name)
		fmt.Fprintf(&b, "• `%s` %s, kept by run %s's rollback; `%s drop-failed %s %s` drops it\n", name, sizeText(d.Size), d.Run, slash, cluster, name)
	}
	return b.String()
}

// NoFailedDatabasesText is `status <cluster>` when its rollbacks kept no database.
func NoFailedDatabasesText(cluster string) string {
	return fmt.Sprintf("*%s*: its rollbacks kept no database.\n", cluster)
}

// DroppedFailedText answers `drop-failed`: which database is gone, how big it was, and
// whose rollback had kept it (d.Run 0: a run drawbridge does not know).
func DroppedFailedText(cluster string, d domain.FailedDatabase) string {
	whose := ""
	if d.Run != 0 {
		whose = fmt.Sprintf(", which run %s's rollback kept", d.Run)
	}
	return fmt.Sprintf("Dropped `%s` (%s)%s on %s.", Escape(d.Name), sizeText(d.Size), whose, cluster)
}

// planFailedDatabases writes the plan's section on the databases earlier rollbacks kept;
// nothing when there are none.
func planFailedDatabases(w io.Writer, p domain.PlanSummary) {
	switch {
	case p.FailedDatabasesErr != "":
		fmt.Fprintf(w, "\ndatabases kept by rollbacks\n  could not list them: %s\n", p.FailedDatabasesErr)
	case len(p.FailedDatabases) > 0:
		fmt.Fprintf(w, "\ndatabases kept by rollbacks (the bot's drop-failed %s <database> drops one)\n", p.Cluster)
		for _, d := range p.FailedDatabases {
			fmt.Fprintf(w, "  %-34s %12s  run %s\n", d.Name, sizeText(d.Size), d.Run)
		}
	}
}

// sizeText is a database's size, or that it is unknown (-1).
func sizeText(n int64) string {
	if n < 0 {
		return "size unknown"
	}
	return bytesText(n)
}

func databases(n int) string {
	if n == 1 {
		return "1 database"
	}
	return fmt.Sprintf("%d databases", n)
}
