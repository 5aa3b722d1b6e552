package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
)

// pgCluster is the driver's own connection to the cluster under test,
// on its maintenance database, apart from the databases it measures.
type pgCluster struct {
	conn       *pgx.Conn
	adminURL   string
	postmaster int
	// statements reports whether pg_stat_statements is loaded.
	statements bool
}

func openCluster(ctx context.Context, adminURL string) (*pgCluster, error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", redactURL(adminURL), err)
	}
	c := &pgCluster{conn: conn, adminURL: adminURL}
	// Our own backend's parent is the postmaster: the cluster must run on
	// this machine for its CPU time to be read.
	var backend int
	if err := conn.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		return nil, err
	}
	st, err := readStat(backend)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL must run on this machine to measure its CPU: %w", err)
	}
	c.postmaster = st.ppid
	var libs string
	if err := conn.QueryRow(ctx, `SHOW shared_preload_libraries`).Scan(&libs); err != nil {
		return nil, err
	}
	if strings.Contains(libs, "pg_stat_statements") {
		if _, err := conn.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`); err != nil {
			return nil, err
		}
		c.statements = true
	}
	return c, nil
}

func (c *pgCluster) close() { _ = c.conn.Close(context.Background()) }

// freshDatabase drops and creates name and returns its URL.
func (c *pgCluster) freshDatabase(ctx context.Context, name string) (string, error) {
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := c.conn.Exec(ctx, `DROP DATABASE IF EXISTS `+ident+` WITH (FORCE)`); err != nil {
		return "", err
	}
	if _, err := c.conn.Exec(ctx, `CREATE DATABASE `+ident); err != nil {
		return "", err
	}
	u, err := url.Parse(c.adminURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

// pgSnap is a reading of the cluster's cumulative counters.
type pgSnap struct {
	commits    int64 // pg_stat_database.xact_commit of the measured database
	statements int64 // pg_stat_statements calls in that database
	writes     int64 // of which inserts, updates and deletes
	walBytes   int64 // from pg_current_wal_lsn, cluster-wide
	walRecords int64 // pg_stat_wal, cluster-wide
	walFPI     int64
}

func (s pgSnap) sub(o pgSnap) pgSnap {
	return pgSnap{
		commits: s.commits - o.commits, statements: s.statements - o.statements, writes: s.writes - o.writes,
		walBytes: s.walBytes - o.walBytes, walRecords: s.walRecords - o.walRecords, walFPI: s.walFPI - o.walFPI,
	}
}

// snapshot reads the counters for database db. pg_stat_database lags
// by up to a second (backends flush their counts when idle or every
// second), which cancels out over a window of steady load.
func (c *pgCluster) snapshot(ctx context.Context, db string) (pgSnap, error) {
	var s pgSnap
	err := c.conn.QueryRow(ctx, `SELECT
		(SELECT xact_commit FROM pg_stat_database WHERE datname = $1),
		pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint,
		(SELECT wal_records FROM pg_stat_wal), (SELECT wal_fpi FROM pg_stat_wal)`, db).
		Scan(&s.commits, &s.walBytes, &s.walRecords, &s.walFPI)
	if err != nil {
		return s, fmt.Errorf("read statistics: %w", err)
	}
	if c.statements {
		// A write is a statement that inserts, updates or deletes, by its
		// text: a read can write WAL too (pruning a page it visits).
		err = c.conn.QueryRow(ctx, `SELECT COALESCE(sum(calls), 0)::bigint,
				COALESCE(sum(calls) FILTER (WHERE query ~* '\m(insert|update|delete)\M'), 0)::bigint
			FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1`, db).
			Scan(&s.statements, &s.writes)
		if err != nil {
			return s, fmt.Errorf("read pg_stat_statements: %w", err)
		}
	}
	return s, nil
}

// resetStatements zeroes pg_stat_statements, so that statementReport
// covers one run.
func (c *pgCluster) resetStatements(ctx context.Context) error {
	if !c.statements {
		return nil
	}
	_, err := c.conn.Exec(ctx, `SELECT pg_stat_statements_reset()`)
	return err
}

// stmtRow is one statement's share of a run.
type stmtRow struct {
	calls          int64
	execMs, planMs float64
	rows           int64
	walBytes       int64
	query          string
}

// statementReport lists the statements run in db since the last reset,
// most called first.
func (c *pgCluster) statementReport(ctx context.Context, db string) ([]stmtRow, error) {
	if !c.statements {
		return nil, nil
	}
	rows, err := c.conn.Query(ctx, `SELECT calls, total_exec_time, total_plan_time, rows, wal_bytes::bigint,
			regexp_replace(query, '\s+', ' ', 'g')
		FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
		WHERE d.datname = $1 ORDER BY calls DESC, total_exec_time DESC LIMIT 25`, db)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (stmtRow, error) {
		var s stmtRow
		err := r.Scan(&s.calls, &s.execMs, &s.planMs, &s.rows, &s.walBytes, &s.query)
		return s, err
	})
}

// redactURL drops a password from a connection URL for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
