package migrate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// lockKey is the advisory lock every replica takes before migrating. It is
// an arbitrary constant; only its uniqueness among our advisory locks
// matters.
const lockKey int64 = 0x7a7462726f6b6572 // "ztbroker"

const (
	sqlLock          = `SELECT pg_advisory_lock($1)`
	sqlUnlock        = `SELECT pg_advisory_unlock($1)`
	sqlCreateTracker = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer PRIMARY KEY,
	name       text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`
	sqlApplied       = `SELECT version FROM schema_migrations ORDER BY version`
	sqlTrackerExists = `SELECT to_regclass('schema_migrations') IS NOT NULL`
	sqlRecordApplied = `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`
	sqlRecordUndone  = `DELETE FROM schema_migrations WHERE version = $1`
)

// Up applies every embedded migration that has not been applied yet and
// returns how many it applied. Versions present in the database but unknown
// to this binary (a newer replica migrated first) are left alone.
func Up(ctx context.Context, pool *pgxpool.Pool) (applied int, err error) {
	migs, err := Load()
	if err != nil {
		return 0, err
	}
	err = withLock(ctx, pool, func(conn *pgx.Conn) error {
		done, err := appliedVersions(ctx, conn)
		if err != nil {
			return err
		}
		for _, m := range migs {
			if done[m.Version] {
				continue
			}
			if err := step(ctx, conn, m.Up, sqlRecordApplied, m.Version, m.Name); err != nil {
				return fmt.Errorf("migrate: apply %04d_%s: %w", m.Version, m.Name, err)
			}
			applied++
		}
		return nil
	})
	return applied, err
}

// Down reverts the most recently applied steps migrations, newest first.
// Asking for more steps than are applied reverts everything.
func Down(ctx context.Context, pool *pgxpool.Pool, steps int) error {
	if steps < 0 {
		return fmt.Errorf("migrate: down: negative step count %d", steps)
	}
	migs, err := Load()
	if err != nil {
		return err
	}
	return withLock(ctx, pool, func(conn *pgx.Conn) error {
		done, err := appliedVersions(ctx, conn)
		if err != nil {
			return err
		}
		for i := len(migs) - 1; i >= 0 && steps > 0; i-- {
			m := migs[i]
			if !done[m.Version] {
				continue
			}
			if err := step(ctx, conn, m.Down, sqlRecordUndone, m.Version); err != nil {
				return fmt.Errorf("migrate: revert %04d_%s: %w", m.Version, m.Name, err)
			}
			steps--
		}
		return nil
	})
}

// withLock runs fn on one pooled connection holding the migration lock.
// The lock is session-level, so it must be released on the same connection
// even when ctx has been cancelled meanwhile.
func withLock(ctx context.Context, pool *pgxpool.Pool, fn func(*pgx.Conn) error) (err error) {
	pc, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: acquire connection: %w", err)
	}
	defer pc.Release()
	conn := pc.Conn()
	if _, err := conn.Exec(ctx, sqlLock, lockKey); err != nil {
		return fmt.Errorf("migrate: take lock: %w", err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, uerr := conn.Exec(uctx, sqlUnlock, lockKey); uerr != nil {
			// A connection whose unlock failed may still hold the lock;
			// closing it is the only way to be sure it lets go.
			_ = conn.Close(uctx)
			err = errors.Join(err, fmt.Errorf("migrate: release lock: %w", uerr))
		}
	}()
	if _, err := conn.Exec(ctx, sqlCreateTracker); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	return fn(conn)
}

func appliedVersions(ctx context.Context, conn *pgx.Conn) (map[int]bool, error) {
	rows, err := conn.Query(ctx, sqlApplied)
	if err != nil {
		return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	done := make(map[int]bool, len(versions))
	for _, v := range versions {
		done[int(v)] = true
	}
	return done, nil
}

// step runs one migration body and its bookkeeping in a single transaction,
// so a failed migration leaves neither half-applied schema nor a record.
func step(ctx context.Context, conn *pgx.Conn, body, record string, args ...any) error {
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		// No arguments: pgx uses the simple protocol, which allows the
		// several statements a migration file holds.
		if _, err := tx.Exec(ctx, body); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, record, args...)
		return err
	})
}

// Pending returns the versions of the embedded migrations the database
// lacks, oldest first, reading schema_migrations only: it needs no right
// beyond SELECT, for a server that runs as a role that may not migrate.
func Pending(ctx context.Context, pool *pgxpool.Pool) ([]int, error) {
	migs, err := Load()
	if err != nil {
		return nil, err
	}
	var exists bool
	if err := pool.QueryRow(ctx, sqlTrackerExists).Scan(&exists); err != nil {
		return nil, fmt.Errorf("migrate: look for schema_migrations: %w", err)
	}
	done := map[int]bool{}
	if exists {
		pc, err := pool.Acquire(ctx)
		if err != nil {
			return nil, fmt.Errorf("migrate: acquire connection: %w", err)
		}
		defer pc.Release()
		if done, err = appliedVersions(ctx, pc.Conn()); err != nil {
			return nil, err
		}
	}
	var pending []int
	for _, m := range migs {
		if !done[m.Version] {
			pending = append(pending, m.Version)
		}
	}
	return pending, nil
}
