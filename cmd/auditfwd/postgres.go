package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/pgsource"
	"github.com/auditfwd/auditfwd/internal/pgstate"
)

// connectDB connects to the gateway's database with the configured DSN,
// for the one-shot commands (`check --connect`, `route --replay-db`).
func connectDB(ctx context.Context, cfg *config.Config) (*pgconn.PgConn, error) {
	dsn, err := cfg.PostgresDSN()
	if err != nil {
		return nil, err
	}
	if dsn == "" {
		return nil, fmt.Errorf("no DSN for the gateway's database: set audit_log.postgres.dsn_file, %s or the systemd credential %s",
			config.EnvPostgresDSN, config.CredPostgresDSN)
	}
	conn, err := pgstate.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.PostgresDSNSource(), err)
	}
	return conn, nil
}

// checkConnect is `check --connect`: whether the DSN works and what the
// role may do. It reports false when auditfwd could not run with it.
func checkConnect(env *cliEnv, cfg *config.Config) bool {
	if cfg.AuditLog.Source != config.SourcePostgres {
		fmt.Fprintf(env.stdout, "--connect: audit_log.source is %s; there is no database to connect to\n", cfg.AuditLog.Source)
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := connectDB(ctx, cfg)
	if err != nil {
		fmt.Fprintf(env.stdout, "FAIL  postgres: %v\n", err)
		return false
	}
	defer conn.Close(ctx)
	ok := true
	fmt.Fprintf(env.stdout, "postgres (DSN from %s):\n", cfg.PostgresDSNSource())
	for _, f := range pgstate.Inspect(ctx, conn, cfg.AuditLog.Postgres.StateSchema) {
		mark := "ok  "
		if !f.OK {
			mark, ok = "FAIL", false
		}
		fmt.Fprintf(env.stdout, "%s  %s\n", mark, f.Text)
	}
	return ok
}

// replayDB feeds the last n rows of the gateway's table to fn as audit
// lines, with an auditfwd.chain_broken alert before a row where the chain
// breaks, each named by its chain index.
func replayDB(cfg *config.Config, n int, fn func(where string, line []byte)) error {
	if n <= 0 {
		return &exitError{code: 2, msg: "--replay-db N needs a positive number of rows"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, err := connectDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	rows, err := pgsource.Last(ctx, conn, n)
	if err != nil {
		return err
	}
	pgsource.Replay(rows, func(i int64, alert bool, line []byte) {
		where := "chain_index " + strconv.FormatInt(i, 10)
		if alert {
			where = "before " + where
		}
		fn(where, line)
	})
	return nil
}
