package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/drawbridge/drawbridge/changerecord"
	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/storage"
)

const auditUsage = "export --config FILE [--run N | --since DATE] [--format jsonl|csv] | verify --config FILE"

// runAudit is "drawbridge audit export|verify": the change records, read from the state file,
// or through the running drawbridge (audit.token) when serve holds it.
func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "export" && args[0] != "verify") {
		fmt.Fprintf(stderr, "usage: drawbridge audit %s\n", auditUsage)
		return exitUsage
	}
	sub := args[0]
	fs := newFlagSet("audit "+sub, "--config FILE", stderr)
	configPath := fs.String("config", "drawbridge.yaml", "configuration file")
	runFlag := fs.Uint64("run", 0, "export: only this run")
	since := fs.String("since", "", "export: runs created since this date (2006-01-02) or RFC 3339 time")
	format := fs.String("format", "jsonl", "export: jsonl or csv")
	if code, ok := parseFlags(fs, args[1:]); !ok {
		return code
	}
	q := url.Values{"format": {*format}}
	var f changerecord.Filter
	if *runFlag != 0 {
		f.Run = domain.RunID(*runFlag)
		q.Set("run", strconv.FormatUint(*runFlag, 10))
	}
	if *since != "" {
		t, err := parseSince(*since)
		if err != nil {
			fmt.Fprintf(stderr, "drawbridge audit: --since %q: want a date (2006-01-02) or an RFC 3339 time\n", *since)
			return exitUsage
		}
		f.Since = t
		q.Set("since", t.Format(time.RFC3339))
	}
	if *format != "jsonl" && *format != "csv" {
		fmt.Fprintf(stderr, "drawbridge audit: --format %q: want jsonl or csv\n", *format)
		return exitUsage
	}
	cfg, err := config.Load(*configPath, config.LoadOptions{})
	if err != nil {
		fmt.Fprintf(stderr, "drawbridge audit: %v\n", err)
		return 1
	}
	st, err := storage.Open(cfg.StateFile, storage.Options{LockTimeout: 300 * time.Millisecond, Secrets: cfg.Secrets()})
	if errors.Is(err, storage.ErrLocked) {
		return auditThroughServe(ctx, cfg, sub, q, stdout, stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "drawbridge audit: %v\n", err)
		return 1
	}
	defer st.Close()
	if sub == "verify" {
		v, err := st.VerifyAudit(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "drawbridge audit verify: %v\n", err)
			return 1
		}
		return printVerdict(v, stdout)
	}
	if err := exportRecords(ctx, st, f, *format, stdout); err != nil {
		fmt.Fprintf(stderr, "drawbridge audit export: %v\n", err)
		return 1
	}
	return 0
}

func parseSince(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Parse(time.DateOnly, s)
}

func exportRecords(ctx context.Context, src changerecord.Source, f changerecord.Filter, format string, w io.Writer) error {
	lines, err := changerecord.Lines(ctx, src, f)
	if err != nil {
		return err
	}
	if format == "csv" {
		return changerecord.WriteCSV(w, lines)
	}
	return changerecord.WriteJSONL(w, lines)
}

// printVerdict prints a verification and returns the exit code: 0 intact, 3 broken.
func printVerdict(v storage.AuditVerdict, w io.Writer) int {
	if len(v.Problems) == 0 {
		fmt.Fprintf(w, "audit log intact: %d events (%d chained) of %d runs in %d clusters verify\n", v.Events, v.Chained, v.Runs, v.Clusters)
		return 0
	}
	fmt.Fprintf(w, "audit log broken: %s\n", v.Problems[0])
	if len(v.Problems) > 1 {
		fmt.Fprintf(w, "and %d more problems:\n", len(v.Problems)-1)
		for _, p := range v.Problems[1:] {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
	return 3
}

// auditThroughServe asks the running drawbridge (the state file is its) at its listen address.
func auditThroughServe(ctx context.Context, cfg *config.Config, sub string, q url.Values, stdout, stderr io.Writer) int {
	if cfg.Audit.Token == "" {
		fmt.Fprintf(stderr, "drawbridge audit: %s is in use by a running drawbridge; set audit.token in the configuration to read the records through it, or stop it\n", cfg.StateFile)
		return 1
	}
	host, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		fmt.Fprintf(stderr, "drawbridge audit: listen %q: %v\n", cfg.Listen, err)
		return 1
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	u := "http://" + net.JoinHostPort(host, port) + "/audit/" + sub + "?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		fmt.Fprintf(stderr, "drawbridge audit: %v\n", err)
		return 1
	}
	req.Header.Set("Authorization", "Bearer "+cfg.Audit.Token.Reveal())
	resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "drawbridge audit: ask the running drawbridge at %s: %v\n", cfg.Listen, err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		fmt.Fprintf(stderr, "drawbridge audit: the running drawbridge answered %s: %s\n", resp.Status, strings.TrimSpace(string(b)))
		return 1
	}
	if sub == "verify" {
		var v storage.AuditVerdict
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			fmt.Fprintf(stderr, "drawbridge audit verify: %v\n", err)
			return 1
		}
		return printVerdict(v, stdout)
	}
	if _, err := io.Copy(stdout, resp.Body); err != nil {
		fmt.Fprintf(stderr, "drawbridge audit export: %v\n", err)
		return 1
	}
	return 0
}

// auditHandler serves GET /audit/export and /audit/verify to a bearer of audit.token.
func auditHandler(cfg *config.Config, st *storage.Store, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := cfg.Audit.Token.Reveal()
		got, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if token == "" || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			http.Error(w, "audit endpoints need audit.token as a bearer token", http.StatusUnauthorized)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/verify") {
			v, err := st.VerifyAudit(r.Context())
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(v)
			return
		}
		var f changerecord.Filter
		if s := r.URL.Query().Get("run"); s != "" {
			id, err := domain.ParseRunID(s)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			f.Run = id
		}
		if s := r.URL.Query().Get("since"); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				http.Error(w, "since: want an RFC 3339 time", http.StatusBadRequest)
				return
			}
			f.Since = t
		}
		format := r.URL.Query().Get("format")
		if format == "csv" {
			w.Header().Set("Content-Type", "text/csv")
		} else {
			format = "jsonl"
			w.Header().Set("Content-Type", "application/x-ndjson")
		}
		if err := exportRecords(r.Context(), st, f, format, w); err != nil {
			log.Error("export the change records", "err", err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
}
