package kongdb

import (
	"context"
	"encoding/json"
	"fmt"
)

// "kong migrations list" and "status": what the database holds, as Kong prints it.

func (m *migrator) list(_ context.Context, st *State) (int, error) {
	if st.NeedsBootstrap {
		m.log.Info("%s", NeedsBootstrapMessage)
		return 3, nil
	}
	r := ""
	if st.Executed != nil {
		m.log.Info("Executed migrations:\n%s", FormatMigrations(st.Executed))
		r = "\n"
	}
	if st.Pending != nil {
		m.log.Info("%sPending migrations:\n%s", r, FormatMigrations(st.Pending))
		r = "\n"
	}
	if st.New != nil {
		m.log.Info("%sNew migrations available:\n%s", r, FormatMigrations(st.New))
		r = "\n"
	}
	switch {
	case st.Pending != nil && st.New != nil:
		if r != "" {
			m.log.Info("")
		}
		m.log.Warn("Database has pending migrations from a previous upgrade, and new migrations from this upgrade (version %s)", m.opts.Version)
		m.log.Info("\nRun 'kong migrations finish' when ready to complete pending migrations (PostgreSQL database will be incompatible with the previous Kong version)")
		return 4, nil
	case st.Pending != nil:
		m.log.Info("\nRun 'kong migrations finish' when ready")
		return 4, nil
	case st.New != nil:
		m.log.Info("\nRun 'kong migrations up' to proceed")
		return 5, nil
	}
	return 0, nil
}

type statusList struct {
	Subsystem  string   `json:"subsystem"`
	Namespace  string   `json:"namespace"`
	Migrations []string `json:"migrations"`
}

type statusJSON struct {
	NeedsBootstrap bool         `json:"needs_bootstrap"`
	Executed       []statusList `json:"executed_migrations,omitempty"`
	Pending        []statusList `json:"pending_migrations,omitempty"`
	New            []statusList `json:"new_migrations,omitempty"`
	Missing        []statusList `json:"missing_migrations,omitempty"`
}

// StatusJSON renders st as "kong migrations status" prints it (one line, no newline).
func StatusJSON(st *State) []byte {
	conv := func(list []SubsystemMigrations) []statusList {
		var out []statusList
		for _, s := range list {
			out = append(out, statusList{Subsystem: s.Subsystem, Namespace: s.Namespace, Migrations: s.Names()})
		}
		return out
	}
	b, _ := json.Marshal(statusJSON{
		NeedsBootstrap: st.NeedsBootstrap,
		Executed:       conv(st.Executed),
		Pending:        conv(st.Pending),
		New:            conv(st.New),
		Missing:        conv(st.Missing),
	})
	return b
}

// status prints with print(), not the logger, so -q does not silence it.
func (m *migrator) status(_ context.Context, st *State) (int, error) {
	fmt.Fprintf(m.log.Stdout, "%s\n", StatusJSON(st))
	return 0, nil
}
