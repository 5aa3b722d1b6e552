package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ztbroker/ztbroker/internal/store/migrate"
)

const (
	templateName = "ztbroker_template"
	// templateLockKey serialises template (re)creation across test
	// processes sharing one server, as `go test ./...` runs packages in
	// parallel.
	templateLockKey int64 = 0x7a74627465737474 // "ztbtestt"
	setupTimeout          = 2 * time.Minute
)

// NewDatabase creates a fresh, fully migrated database for one test and
// drops it at cleanup. It returns the database's DSN.
func NewDatabase(t testing.TB) string {
	t.Helper()
	dsn := serverDSN(t)
	server.templateOnce.Do(func() { server.templateErr = ensureTemplate(dsn) })
	if server.templateErr != nil {
		t.Fatal(server.templateErr)
	}
	return createDatabase(t, dsn, templateName)
}

// NewEmptyDatabase creates a database with no schema at all, for tests of
// migrations themselves, and drops it at cleanup.
func NewEmptyDatabase(t testing.TB) string {
	t.Helper()
	return createDatabase(t, serverDSN(t), "template0")
}

// NewPool returns a pool on a fresh migrated database, closed at cleanup
// before the database is dropped.
func NewPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	dsn := NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatalf("pgtest: open pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func createDatabase(t testing.TB, serverDSN, template string) string {
	t.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	name := "ztbroker_test_" + hex.EncodeToString(b[:])
	err := withConn(serverDSN, func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, template))
		return err
	})
	if err != nil {
		t.Fatalf("pgtest: create database from %s: %v", template, err)
	}
	t.Cleanup(func() {
		err := withConn(serverDSN, func(ctx context.Context, conn *pgx.Conn) error {
			_, err := conn.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
			return err
		})
		if err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return withDatabase(serverDSN, name)
}

// ensureTemplate makes sure the server holds a template database migrated
// with exactly this tree's migrations. The fingerprint in the database's
// comment catches a template left behind by an older checkout on a
// long-lived server.
func ensureTemplate(serverDSN string) error {
	migs, err := migrate.Load()
	if err != nil {
		return err
	}
	h := sha256.New()
	for _, m := range migs {
		fmt.Fprintf(h, "%d\x00%s\x00%s\x00%s\x00", m.Version, m.Name, m.Up, m.Down)
	}
	fingerprint := hex.EncodeToString(h.Sum(nil))

	return withConn(serverDSN, func(ctx context.Context, conn *pgx.Conn) error {
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", templateLockKey); err != nil {
			return fmt.Errorf("pgtest: lock template: %w", err)
		}
		// The lock is released when withConn closes the session.
		var comment *string
		err := conn.QueryRow(ctx,
			"SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
			templateName).Scan(&comment)
		switch {
		case err == nil && comment != nil && *comment == fingerprint:
			return nil
		case err == nil:
			if _, err := conn.Exec(ctx, "DROP DATABASE "+templateName+" WITH (FORCE)"); err != nil {
				return fmt.Errorf("pgtest: drop stale template: %w", err)
			}
		case err != pgx.ErrNoRows:
			return fmt.Errorf("pgtest: look up template: %w", err)
		}
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+templateName+" TEMPLATE template0"); err != nil {
			return fmt.Errorf("pgtest: create template: %w", err)
		}
		pool, err := pgxpool.New(ctx, withDatabase(serverDSN, templateName))
		if err != nil {
			return fmt.Errorf("pgtest: connect to template: %w", err)
		}
		_, err = migrate.Up(ctx, pool)
		pool.Close()
		if err != nil {
			return fmt.Errorf("pgtest: migrate template: %w", err)
		}
		// Marked only once migrated, so an interrupted run is redone.
		_, err = conn.Exec(ctx, "COMMENT ON DATABASE "+templateName+" IS '"+fingerprint+"'")
		if err != nil {
			return fmt.Errorf("pgtest: mark template: %w", err)
		}
		return nil
	})
}

func withConn(dsn string, fn func(context.Context, *pgx.Conn) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("pgtest: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return fn(ctx, conn)
}

// withDatabase points dsn, a URL or a keyword/value string, at database
// name.
func withDatabase(dsn, name string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err == nil {
			u.Path = "/" + name
			return u.String()
		}
	}
	// In keyword/value form a later keyword overrides an earlier one.
	return dsn + " dbname=" + name
}
