package pgdb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/kong"
)

func sha256File(t *testing.T, path string) (int64, string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return int64(len(b)), hex.EncodeToString(sum[:])
}

// dirEntries lists a directory's names.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestBackup(t *testing.T) {
	_, dsn := newKongDB(t)
	// A password the trust-authenticated server ignores: it must travel only through a
	// PGPASSFILE in $TMPDIR, removed afterwards.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	db := open(t, withUser(dsn, pg.User, "s3cret-pass"))
	dir := filepath.Join(t.TempDir(), "backups", "kong")
	path := filepath.Join(dir, "1.dump")

	b, err := db.Backup(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	size, sum := sha256File(t, path)
	if b.Path != path || b.Size != size || b.SHA256 != sum || b.Duration <= 0 {
		t.Errorf("Backup = %+v, file has %d bytes, sha256 %s", b, size, sum)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("backup directory: %v, %v", fi.Mode(), err)
	}
	if got := dirEntries(t, dir); len(got) != 1 || got[0] != "1.dump" {
		t.Errorf("backup directory holds %v, want only 1.dump", got)
	}
	if got := dirEntries(t, tmp); len(got) != 0 {
		t.Errorf("$TMPDIR holds %v after the backup, want nothing (password file removed)", got)
	}
	if err := db.VerifyBackup(t.Context(), path, b.SHA256); err != nil {
		t.Errorf("VerifyBackup of a good archive: %v", err)
	}

	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cut := good[:len(good)-64] // inside the last table's data block
	if out, err := exec.Command(filepath.Join(pg.BinDir(), "pg_restore"), "--list", writeFile(t, cut)).CombinedOutput(); err != nil {
		t.Fatalf("the cut must be in the data section, so that --list still passes: %v\n%s", err, out)
	}
	for _, c := range []struct {
		name   string
		data   []byte
		sha256 string // "" = the data's own
		why    string
	}{
		{"truncated in the data section", cut, "", "end of file"},
		{"garbage", []byte(strings.Repeat("not a pg_dump archive\n", 100)), "", "valid archive"},
		{"good bytes, other sha256", good, strings.Repeat("0", 64), "sha256"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, c.data)
			want := c.sha256
			if want == "" {
				_, want = sha256File(t, p)
			}
			err := db.VerifyBackup(t.Context(), p, want)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.why) {
				t.Errorf("VerifyBackup = %v, want ErrCorrupt mentioning %q", err, c.why)
			}
		})
	}
	if err := db.VerifyBackup(t.Context(), path, ""); err == nil {
		t.Error("VerifyBackup without a recorded sha256 passed")
	}
}

func writeFile(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "x.dump")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The fingerprint BackupWithFingerprint returns is the one Restore then finds.
func TestBackupWithFingerprint(t *testing.T) {
	_, dsn := newKongDB(t)
	db := open(t, dsn)
	want, err := db.Fingerprint(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	b, fp, err := db.BackupWithFingerprint(t.Context(), filepath.Join(t.TempDir(), "a.dump"))
	if err != nil {
		t.Fatal(err)
	}
	if !fp.Equal(want) {
		t.Errorf("fingerprint with the backup differs: %s", kong.DiffString(fp.Diff(want)))
	}
	if err := db.VerifyBackup(t.Context(), b.Path, b.SHA256); err != nil {
		t.Error(err)
	}
}

// deadPort is a loopback port nothing listens on.
func deadPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return net.JoinHostPort("127.0.0.1", itoa(port))
}

func TestOpenErrors(t *testing.T) {
	needPG(t)
	const secret = "Sup3r-s3cret-pw"
	dead := deadPort(t)
	for _, c := range []struct {
		name string
		dsn  string
		want error
	}{
		{"wrong port, URL", "postgres://kong:" + secret + "@" + dead + "/kong?sslmode=disable", ErrUnreachable},
		{"wrong port, key=value", "host=127.0.0.1 port=" + dead[strings.LastIndex(dead, ":")+1:] + " user=kong password='" + secret + "' dbname=kong sslmode=disable", ErrUnreachable},
		{"no such database", withUser(pg.DSN("no_such_db"), pg.User, secret), ErrRefused},
		{"no such role", withUser(pg.DSN("postgres"), "nobody_here", secret), ErrRefused},
		{"unparsable", "postgres://kong:" + secret + "@127.0.0.1:notaport/kong", ErrBadDSN},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			db, err := Open(ctx, c.dsn, Options{BinDir: pg.BinDir(), ConnectTimeout: 2 * time.Second})
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, c.want) {
				t.Errorf("Open: %v; want %v", err, c.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error contains the password: %v", err)
			}
		})
	}
}

// A pg_dump that cannot connect fails with the server's state, without the password.
func TestBackupUnreachableNoPassword(t *testing.T) {
	_, dsn := newKongDB(t)
	const secret = "An0ther-s3cret"
	db := open(t, withUser(dsn, pg.User, secret))
	cfg := db.cfg.Copy()
	cfg.Port = portOf(t, deadPort(t))
	db.cfg = cfg
	dir := t.TempDir()
	_, err := db.Backup(t.Context(), filepath.Join(dir, "x.dump"))
	if !errors.Is(err, ErrUnreachable) {
		t.Errorf("Backup: %v, want ErrUnreachable", err)
	}
	var te *ToolError
	if !errors.As(err, &te) || te.Tool != "pg_dump" || te.ExitCode != 1 {
		t.Errorf("Backup: %v, want a pg_dump *ToolError", err)
	}
	if err != nil && strings.Contains(err.Error(), secret) {
		t.Errorf("the error contains the password: %v", err)
	}
	if got := dirEntries(t, dir); len(got) != 0 {
		t.Errorf("left %v behind", got)
	}
}
