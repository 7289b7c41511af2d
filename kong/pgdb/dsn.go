package pgdb

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// libpqPassthrough are the DSN parameters handed on to pg_dump and pg_restore as they are.
// Host, port, user and dbname come from pgx's parsed config instead; the password never
// goes into a connection string.
var libpqPassthrough = []string{
	"sslmode", "sslcert", "sslkey", "sslrootcert", "sslcrl", "sslcrldir", "sslsni", "sslcompression",
	"sslnegotiation", "ssl_min_protocol_version", "ssl_max_protocol_version", "gssencmode", "krbsrvname",
	"gsslib", "channel_binding", "require_auth", "requirepeer", "target_session_attrs", "keepalives",
	"keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout", "connect_timeout",
	"options", "application_name", "service",
}

// dsnParams returns the parameters of a DSN that pgx has already parsed successfully: the
// query of a postgres:// URL (parsed by hand: net/url rejects multi-host URLs), or the pairs
// of a key=value string (libpq's quoting).
func dsnParams(dsn string) (map[string]string, error) {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return parseKeyValue(dsn)
	}
	out := map[string]string{}
	_, query, _ := strings.Cut(dsn, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, ErrBadDSN
	}
	for k, v := range q {
		out[k] = v[len(v)-1]
	}
	return out, nil
}

// parseKeyValue parses libpq's "key = value key2='quoted \' value'" format.
func parseKeyValue(s string) (map[string]string, error) {
	out := map[string]string{}
	for {
		s = strings.TrimLeft(s, " \t\n\r\f\v")
		if s == "" {
			return out, nil
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return nil, ErrBadDSN
		}
		key := strings.TrimSpace(s[:eq])
		s = strings.TrimLeft(s[eq+1:], " \t\n\r\f\v")
		var val strings.Builder
		quoted := strings.HasPrefix(s, "'")
		if quoted {
			s = s[1:]
		}
		i, closed := 0, false
		for ; i < len(s); i++ {
			c := s[i]
			if c == '\\' && i+1 < len(s) {
				i++
				val.WriteByte(s[i])
				continue
			}
			if quoted && c == '\'' {
				closed = true
				break
			}
			if !quoted && strings.IndexByte(" \t\n\r\f\v", c) >= 0 {
				break
			}
			val.WriteByte(c)
		}
		if quoted && !closed {
			return nil, ErrBadDSN
		}
		if i < len(s) {
			i++ // the closing quote or the separating space
		}
		s = s[i:]
		out[key] = val.String()
	}
}

// conninfo is a libpq connection string for dbname with the DSN's host(s), port(s), user
// and TLS settings, and no password.
func (db *DB) conninfo(dbname string) string {
	var hosts, ports []string
	seen := map[string]bool{}
	add := func(host string, port uint16) {
		if key := host + "\x00" + strconv.Itoa(int(port)); !seen[key] {
			seen[key] = true
			hosts, ports = append(hosts, host), append(ports, strconv.Itoa(int(port)))
		}
	}
	add(db.cfg.Host, db.cfg.Port)
	for _, fb := range db.cfg.Fallbacks {
		add(fb.Host, fb.Port)
	}
	kv := map[string]string{
		"host":                      strings.Join(hosts, ","),
		"port":                      strings.Join(ports, ","),
		"user":                      db.cfg.User,
		"dbname":                    dbname,
		"fallback_application_name": "drawbridge",
		"connect_timeout":           strconv.Itoa(max(2, int(db.opts.ConnectTimeout.Seconds()+0.5))),
	}
	for _, k := range libpqPassthrough {
		if v, ok := db.params[k]; ok {
			kv[k] = v
		}
	}
	for k, v := range db.toolKeepalives() {
		kv[k] = v
	}
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k + "='" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(kv[k]) + "'")
	}
	return b.String()
}

// passfileLine is a .pgpass line giving password to user on any host, port and database.
func passfileLine(user, password string) string {
	esc := strings.NewReplacer(`\`, `\\`, `:`, `\:`)
	return "*:*:*:" + esc.Replace(user) + ":" + esc.Replace(password) + "\n"
}

// PassfilePattern names the temporary PGPASSFILEs (os.CreateTemp's pattern): what
// RemovePassfiles clears after a crash.
const PassfilePattern = "drawbridge-pgpass-*"

// RemovePassfiles removes the PGPASSFILEs a killed drawbridge left in dir.
func RemovePassfiles(dir string) error {
	left, err := filepath.Glob(filepath.Join(dir, PassfilePattern))
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range left {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// writePassfile writes a temporary PGPASSFILE (mode 0600) for the DSN's password. It returns
// "" and a no-op cleanup when there is no password.
func (db *DB) writePassfile() (path string, cleanup func(), err error) {
	if db.cfg.Password == "" {
		return "", func() {}, nil
	}
	if db.opts.PassfileDir != "" {
		if err := os.MkdirAll(db.opts.PassfileDir, 0o700); err != nil {
			return "", nil, fmt.Errorf("temporary password file: %w", err)
		}
	}
	f, err := os.CreateTemp(db.opts.PassfileDir, PassfilePattern)
	if err != nil {
		return "", nil, fmt.Errorf("temporary password file: %w", err)
	}
	cleanup = func() { _ = os.Remove(f.Name()) }
	_, werr := f.WriteString(passfileLine(db.cfg.User, db.cfg.Password))
	if err := errors.Join(werr, f.Chmod(0o600), f.Close()); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("temporary password file: %w", err)
	}
	return f.Name(), cleanup, nil
}

// toolEnv is the environment of pg_dump and pg_restore: ours, with the password (if any)
// only through passfile.
func toolEnv(passfile string) []string {
	env := os.Environ()
	if passfile == "" {
		return env
	}
	env = slices.DeleteFunc(env, func(kv string) bool {
		return strings.HasPrefix(kv, "PGPASSWORD=") || strings.HasPrefix(kv, "PGPASSFILE=")
	})
	return append(env, "PGPASSFILE="+passfile)
}

// parseDSN parses a DSN with pgx, keeping the password out of any error.
func parseDSN(dsn string) (*pgx.ConnConfig, map[string]string, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgconn's error text quotes the DSN with a best-effort redaction only; say no more
		// than that it failed.
		return nil, nil, ErrBadDSN
	}
	params, err := dsnParams(dsn)
	if err != nil {
		return nil, nil, err
	}
	return cfg, params, nil
}
