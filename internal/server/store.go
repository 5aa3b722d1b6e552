package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ztbroker/ztbroker/internal/config"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/store/migrate"
	"github.com/ztbroker/ztbroker/internal/store/pgstore"
)

// OpenPool connects to the configured database without touching its
// schema.
func OpenPool(ctx context.Context, f *config.Config) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(f.Database.ConnString.Reveal())
	if err != nil {
		// pgx echoes the connection string in parse errors; it may
		// hold a password.
		return nil, fmt.Errorf("database.url: cannot parse the connection string")
	}
	if f.Database.MaxConns > 0 {
		pc.MaxConns = int32(f.Database.MaxConns)
	}
	pc.ConnConfig.ConnectTimeout = 5 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	return pool, nil
}

// openStore connects and migrates under the migrator's advisory lock, so
// replicas starting together apply each migration once.
func openStore(ctx context.Context, f *config.Config, log *slog.Logger) (store.Store, func(), error) {
	pool, err := OpenPool(ctx, f)
	if err != nil {
		return nil, nil, err
	}
	mctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if f.Database.Migrations == config.MigrationsVerify {
		pending, err := migrate.Pending(mctx, pool)
		if err == nil && len(pending) > 0 {
			err = fmt.Errorf("the database lacks migrations %v (database.migrations is verify); run \"broker migrate\" as the schema's owner", pending)
		}
		if err != nil {
			pool.Close()
			return nil, nil, err
		}
		log.Info("database ready", "migrations_applied", 0)
		return pgstore.New(pool), pool.Close, nil
	}
	n, err := migrate.Up(mctx, pool)
	if err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("migrate: %w", err)
	}
	log.Info("database ready", "migrations_applied", n)
	return pgstore.New(pool), pool.Close, nil
}
