package pgdb

import (
	"bufio"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestDSNParams(t *testing.T) {
	for _, c := range []struct {
		dsn  string
		want map[string]string
	}{
		{`host=db port=5432 user=kong password='it\'s' dbname=kong sslmode=verify-full`,
			map[string]string{"host": "db", "port": "5432", "user": "kong", "password": "it's", "dbname": "kong", "sslmode": "verify-full"}},
		{`host = db  password='a \' b\\c' sslrootcert=/etc/ca.pem application_name=x\ y`,
			map[string]string{"host": "db", "password": `a ' b\c`, "sslrootcert": "/etc/ca.pem", "application_name": "x y"}},
		{"postgres://kong:pw@db:5432/kong?sslmode=require&sslrootcert=%2Fca.pem",
			map[string]string{"sslmode": "require", "sslrootcert": "/ca.pem"}},
		{"postgresql://kong@db1:5432,db2:5433/kong?target_session_attrs=read-write",
			map[string]string{"target_session_attrs": "read-write"}},
		{"postgres://kong@db/kong", map[string]string{}},
	} {
		got, err := dsnParams(c.dsn)
		if err != nil {
			t.Errorf("dsnParams(%q): %v", c.dsn, err)
			continue
		}
		if !maps.Equal(got, c.want) {
			t.Errorf("dsnParams(%q) = %v, want %v", c.dsn, got, c.want)
		}
	}
	if _, err := parseKeyValue("host='unterminated"); !errors.Is(err, ErrBadDSN) {
		t.Errorf("unterminated quote: %v", err)
	}
}

func TestConninfoHasNoPassword(t *testing.T) {
	const dsn = "host=db1,db2 port=5432,5433 user=kong password=s3cret-pw dbname=kong sslmode=require application_name=upgrade pool_max_conns=4"
	cfg, params, err := parseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db := &DB{cfg: cfg, params: params, opts: Options{ConnectTimeout: 5 * time.Second}}
	got := db.conninfo("kong_restore_x")
	want := "application_name='upgrade' connect_timeout='5' dbname='kong_restore_x' fallback_application_name='drawbridge' host='db1,db2' port='5432,5433' sslmode='require' user='kong'"
	if got != want {
		t.Errorf("conninfo =\n%s\nwant\n%s", got, want)
	}
}

func TestBadDSNHidesIt(t *testing.T) {
	const secret = "pw-in-a-bad-dsn"
	for _, dsn := range []string{"postgres://kong:" + secret + "@db:port/kong", "host=db password='" + secret} {
		_, _, err := parseDSN(dsn)
		if !errors.Is(err, ErrBadDSN) || strings.Contains(err.Error(), secret) {
			t.Errorf("parseDSN: %v", err)
		}
	}
}

func TestPassfile(t *testing.T) {
	if got, want := passfileLine(`ko:ng`, `p\a:ss`), `*:*:*:ko\:ng:p\\a\:ss`+"\n"; got != want {
		t.Errorf("passfileLine = %q, want %q", got, want)
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Setenv("PGPASSWORD", "from-env")
	cfg, params, err := parseDSN("postgres://kong:s3cret@db/kong")
	if err != nil {
		t.Fatal(err)
	}
	db := &DB{cfg: cfg, params: params}
	path, cleanup, err := db.writePassfile()
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 || filepath.Dir(path) != tmp {
		t.Errorf("password file %s: %v %v", path, fi.Mode(), err)
	}
	env := toolEnv(path)
	if slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "PGPASSWORD=") }) ||
		!slices.Contains(env, "PGPASSFILE="+path) {
		t.Errorf("tool environment: PGPASSWORD kept or PGPASSFILE missing")
	}
	cleanup()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("password file not removed: %v", err)
	}
}

// copyData passes COPY data through, long lines in pieces, and stops at the "\." line.
func TestCopyData(t *testing.T) {
	long := strings.Repeat("x", 100)
	script := "a\tb\n" + long + "\n\\.x\n\\.\nSELECT 1;\n"
	br := bufio.NewReaderSize(strings.NewReader(script), 16)
	var got strings.Builder
	buf := make([]byte, 7)
	r := &copyData{br: br}
	for {
		n, err := r.Read(buf)
		got.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if want := "a\tb\n" + long + "\n\\.x\n"; got.String() != want {
		t.Errorf("data %q, want %q", got.String(), want)
	}
	if rest, _ := io.ReadAll(br); string(rest) != "SELECT 1;\n" {
		t.Errorf("after the block: %q", rest)
	}

	r = &copyData{br: bufio.NewReader(strings.NewReader("a\tb\n"))}
	if _, err := io.ReadAll(r); !errors.Is(err, errCopyTruncated) {
		t.Errorf("data without its end: %v", err)
	}
}

func TestTailBuffer(t *testing.T) {
	tb := &tailBuffer{max: 32} // exactly the last two lines
	for _, l := range []string{"first line that scrolls away\n", "\n", "pg_dump: error: one\n", "\tdetail two\n"} {
		tb.Write([]byte(l))
	}
	if got := tb.tail(8); got != "pg_dump: error: one; detail two" {
		t.Errorf("tail = %q", got)
	}
}

func TestScrub(t *testing.T) {
	err := scrub(errors.New("password authentication failed: hunter22 was wrong"), "hunter22")
	if err.Error() != "password authentication failed: ****** was wrong" {
		t.Errorf("scrub: %v", err)
	}
	base := pgx.ErrNoRows
	if !errors.Is(scrub(base, base.Error()), pgx.ErrNoRows) {
		t.Error("scrub broke errors.Is")
	}
}
