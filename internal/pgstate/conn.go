// Package pgstate is auditfwd's side of the gateway's database
// (audit_log.source: postgres): connecting without ever showing the DSN's
// password, the leader lock (a session advisory lock held on one dedicated
// connection, whose health is watched), auditfwd's own schema
// (state_schema) and in it the delivery cursors and the thread table. Every
// write goes through the leader's locked session, so an instance that lost
// the lock cannot move a cursor.
//
// It never reads the gateway's table (internal/pgsource does) and never
// talks to Slack.
package pgstate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/auditfwd/auditfwd/internal/pgtext"
)

// ConnectTimeout bounds a connection attempt when the DSN sets none.
const ConnectTimeout = 10 * time.Second

// appName is the application_name auditfwd's sessions carry (unless the
// DSN sets one), so that pg_stat_activity and `auditfwd check --connect`
// say which host holds the leader lock.
func appName() string {
	host, _ := os.Hostname()
	return strings.TrimSpace("auditfwd " + host)
}

// Connect opens one connection from dsn. The server is asked to notice a
// vanished client within about 10 s (TCP keepalives), so that a dead
// leader's lock is freed for a standby. No error shows the DSN's password.
func Connect(ctx context.Context, dsn string) (*pgconn.PgConn, error) {
	cfg, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, errors.New(Redact(err.Error(), cfg.Password))
	}
	// A dead peer on a silent network is found by keepalives; the settings
	// are per session (ignored on unix sockets). tcp_user_timeout is newer
	// (PostgreSQL 12), so it goes alone and may fail.
	if err := pgtext.Exec(ctx, conn, "SET tcp_keepalives_idle = 4; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 2"); err != nil {
		conn.Close(ctx)
		return nil, errors.New(Redact(err.Error(), cfg.Password))
	}
	pgtext.Exec(ctx, conn, "SET tcp_user_timeout = 8000")
	return conn, nil
}

// ParseDSN parses dsn (a URL or key=value pairs) with auditfwd's defaults:
// a connect timeout and application_name. Its error never shows the DSN.
// The session's DateStyle and TimeZone are ISO and UTC whatever the DSN
// or the server says, so that the timestamps read are in the one format
// pgtext decodes.
func ParseDSN(dsn string) (*pgconn.Config, error) {
	if strings.TrimSpace(dsn) == "" {
		return nil, errors.New("the DSN is empty")
	}
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		msg := err.Error()
		var pe *pgconn.ParseConfigError
		if errors.As(err, &pe) {
			// "cannot parse `<the DSN, best-effort redacted>`: why": keep why.
			if i := strings.LastIndex(msg, "`: "); i >= 0 {
				msg = msg[i+3:]
			}
			msg = strings.ReplaceAll(msg, pe.ConnString, "…")
		}
		return nil, fmt.Errorf("the DSN cannot be parsed (a URL postgres://user@host:5432/db or key=value pairs): %s", Redact(msg, ""))
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = ConnectTimeout
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = appName()
	}
	for k := range cfg.RuntimeParams {
		switch strings.ToLower(k) {
		case "datestyle", "timezone":
			delete(cfg.RuntimeParams, k)
		case "statement_cache_capacity", "description_cache_capacity", "default_query_exec_mode":
			// pgx's own settings, which it took out of the DSN: the server
			// would refuse them as unknown parameters.
			delete(cfg.RuntimeParams, k)
		}
	}
	cfg.RuntimeParams["DateStyle"] = "ISO"
	cfg.RuntimeParams["TimeZone"] = "UTC"
	return cfg, nil
}

var (
	urlPassword = regexp.MustCompile(`(://[^:/@\s]*:)[^@\s]*@`)
	kvPassword  = regexp.MustCompile(`(?i)(password\s*=\s*)('[^']*'|[^\s&]*)`)
)

// Redact removes passwords from s: the one given (the DSN's, when known),
// and anything that looks like one in a DSN (user:secret@, password=…).
func Redact(s, password string) string {
	if len(password) >= 3 {
		s = strings.ReplaceAll(s, password, "xxxxx")
	}
	s = urlPassword.ReplaceAllString(s, "${1}xxxxx@")
	return kvPassword.ReplaceAllString(s, "${1}xxxxx")
}
