package readmetest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ztbroker/ztbroker/internal/testing/pgtest"
	"github.com/ztbroker/ztbroker/internal/testing/testproc"
)

const heading = "## Run it for real"

// walkTimeout is a safety net for a hung step, not a measure of speed.
const walkTimeout = 5 * time.Minute

func TestRunItForReal(t *testing.T) {
	t.Parallel()
	readme, err := readREADME()
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := section(readme, heading)
	if err != nil {
		t.Fatal(err)
	}
	broker := testproc.Build(t)
	cluster := pgtest.StartCluster(t)
	pgPort := portOf(t, cluster.DSN())
	dir := t.TempDir()
	bin := filepath.Join(dir, ".bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(broker, filepath.Join(bin, "broker")); err != nil {
		t.Fatal(err)
	}
	psqlDir := filepath.Dir(lookPsql(t))

	// The README is written for one machine with PostgreSQL on its usual
	// port and the broker's default addresses; the walk runs beside
	// other tests, so these and only these are rewritten. Each must
	// still match, so a README edit that drops one is noticed.
	emu, grpc, http := freeAddr(t), freeAddr(t), freeAddr(t)
	rewrites := [][2]string{
		{"sudo -u postgres psql", "psql"},
		{"127.0.0.1:8089", emu},
		{"127.0.0.1:9090", grpc},
		{"127.0.0.1:8080", http},
		{"broker config init", "broker config init --grpc-addr " + grpc + " --http-addr " + http},
	}
	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	for _, b := range blocks {
		if !b.walk {
			continue
		}
		fmt.Fprintf(&script, "echo 'walk: README.md:%d' >&2\n%s\n", b.line, b.text)
	}
	text := script.String()
	for _, r := range rewrites {
		if !strings.Contains(text, r[0]) {
			t.Fatalf("the walked blocks no longer contain %q; update the test's rewrites", r[0])
		}
		text = strings.ReplaceAll(text, r[0], r[1])
	}
	// The walk's own epilogue: the secrets the steps made, for the
	// search below.
	text += `printf '%s\n' "$ZT_CENTRAL_ADMIN_KEY" "$OWNER_PASSWORD" "$BROKER_PASSWORD" "$ZEROTIER_CENTRAL_TOKEN" > .walk-secrets` + "\n"

	ctx, cancel := context.WithTimeout(context.Background(), walkTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", text)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"PATH="+bin+":"+psqlDir+":"+os.Getenv("PATH"),
		// psql and pgx both read these: the throwaway cluster stands
		// in for the machine's PostgreSQL.
		"PGHOST=127.0.0.1", "PGPORT="+strconv.Itoa(pgPort), "PGUSER=postgres", "PGSSLMODE=disable",
	)
	// Its own process group, so the background processes the steps
	// start are stopped with it whatever happens.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// Files, not pipes: a background process that outlives a failed
	// step would hold a pipe open and keep Run waiting.
	outFile, errFile := create(t, dir, ".walk-stdout"), create(t, dir, ".walk-stderr")
	cmd.Stdout, cmd.Stderr = outFile, errFile
	err = cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	stdout, stderr := readAll(t, dir, ".walk-stdout"), readAll(t, dir, ".walk-stderr")
	logs := readAll(t, dir, "broker.log", "emulator.log")
	if err != nil {
		t.Fatalf("the walk failed: %v\nstderr:\n%s\nstdout:\n%s\nbroker.log:\n%s", err, stderr, stdout, logs)
	}

	out := stdout
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^module +github\.com/ztbroker/ztbroker$`),
		regexp.MustCompile(`broker\.yaml is valid`),
		regexp.MustCompile(`(?m)^ok$`),
		regexp.MustCompile(`revoked lease [0-9a-f-]{36}`),
		regexp.MustCompile(`(?m)^ztbroker_tokens_issued_total\{[^}]*purpose="deploy"[^}]*\} 1$`),
	} {
		if !want.MatchString(out) {
			t.Errorf("the walk's output lacks %s:\n%s", want, out)
		}
	}

	secrets := strings.Fields(readAll(t, dir, ".walk-secrets", "ci.key", "seal.key"))
	if len(secrets) != 6 {
		t.Fatalf("expected 6 secrets from the walk, found %d", len(secrets))
	}
	rows := databaseText(t, cluster.DSN())
	for _, s := range secrets {
		for where, text := range map[string]string{"the logs": logs, "the output": out + stderr, "the database": rows} {
			if strings.Contains(text, s) {
				t.Errorf("a secret the walk made appears in %s", where)
			}
		}
	}
	if states := regexp.MustCompile(`"state":"[a-z_]+"`).FindAllString(rows, -1); len(states) != 1 || states[0] != `"state":"revoked"` {
		t.Errorf("lease states %v, want the one lease revoked", states)
	}
	// The runtime role must also be able to do what serve's workers do
	// at start-up, audit retention included: a missing grant shows only
	// as a logged refusal, so look for one.
	if strings.Contains(logs, "permission denied") {
		t.Errorf("serve, as the runtime role, was refused something:\n%s", logs)
	}
	checkRuntimeRole(t, cluster.DSN())
}

// checkRuntimeRole proves the role serve ran as is as small as the
// README says: it reads and writes rows and changes no schema.
func checkRuntimeRole(t *testing.T, superDSN string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, strings.Replace(strings.Replace(superDSN, "postgres@", "ztbroker@", 1), "/postgres?", "/ztbroker?", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var user string
	if err := conn.QueryRow(ctx, "SELECT current_user").Scan(&user); err != nil || user != "ztbroker" {
		t.Fatalf("connected as %q (%v), want ztbroker", user, err)
	}
	for _, stmt := range []string{
		"CREATE TABLE walk_probe (x int)",
		"DROP TABLE schema_migrations",
		"ALTER TABLE leases ADD COLUMN walk_probe int",
		"TRUNCATE leases",
		"CREATE SCHEMA walk_probe",
	} {
		_, err := conn.Exec(ctx, stmt)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "42501" {
			t.Errorf("%s as the runtime role: %v, want insufficient_privilege (42501)", stmt, err)
		}
	}
}

// databaseText is every row of every table of the ztbroker database, as
// text, for the secret search.
func databaseText(t *testing.T, superDSN string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, strings.Replace(superDSN, "/postgres?", "/ztbroker?", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, table := range tables {
		rows, err := conn.Query(ctx, "SELECT row_to_json(t)::text FROM "+table+" t")
		if err != nil {
			t.Fatal(err)
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range texts {
			b.WriteString(s + "\n")
		}
	}
	return b.String()
}

func readAll(t *testing.T, dir string, names ...string) string {
	t.Helper()
	var b strings.Builder
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		b.Write(data)
		b.WriteString("\n")
	}
	return b.String()
}

func create(t *testing.T, dir, name string) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func lookPsql(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("psql"); err == nil {
		return p
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/psql")
	if len(matches) == 0 {
		t.Fatal("psql not found on PATH or under /usr/lib/postgresql/*/bin")
	}
	return matches[len(matches)-1]
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func portOf(t *testing.T, dsn string) int {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return int(cfg.Port)
}
