package pgstate

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/auditfwd/auditfwd/internal/pgtext"
)

// The tables auditfwd keeps in state_schema (docs/high-availability.md).
const (
	CursorTable = "delivery_cursor"
	ThreadTable = "thread"
)

// tables are created when absent, in this order.
var tables = []struct{ name, ddl string }{
	{CursorTable, `CREATE TABLE %s.` + CursorTable + ` (
    channel     text PRIMARY KEY,
    position    bigint NOT NULL,
    chain_index bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text NOT NULL DEFAULT ''
);
COMMENT ON TABLE %[1]s.` + CursorTable + ` IS 'auditfwd: per channel, the last audit row delivered to Slack (chain_index); channel * is how far the leader has read';
COMMENT ON COLUMN %[1]s.` + CursorTable + `.position IS '2 * chain_index + 1 once row chain_index is delivered; 2 * chain_index once only the auditfwd.chain_broken alert before it is'`},
	{ThreadTable, `CREATE TABLE %s.` + ThreadTable + ` (
    channel    text NOT NULL,
    key        text NOT NULL,
    thread     text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel, key)
);
COMMENT ON TABLE %[1]s.` + ThreadTable + ` IS 'auditfwd: Slack threads (parent message, request state) so that the next leader continues them; thread is the JSON document'`},
}

// Prepare makes state_schema ready for the leader: the schema is used as it
// is when it exists (auditfwd needs USAGE and CREATE on it) and created
// only when absent (which needs CREATE on the database); then the tables
// that are missing are created. Only the leader calls it, so two instances
// never race to create them.
func Prepare(ctx context.Context, s *Session, schema string) error {
	id := pgtext.Ident(schema)
	return s.Do(ctx, func(ctx context.Context, conn *pgconn.PgConn) error {
		exists, err := schemaExists(ctx, conn, schema)
		if err != nil {
			return fmt.Errorf("state_schema %s: %w", schema, err)
		}
		if !exists {
			if err := pgtext.Exec(ctx, conn, "CREATE SCHEMA "+id); err != nil {
				return fmt.Errorf("cannot create state_schema %s (%w): create it for auditfwd's role (CREATE SCHEMA %s AUTHORIZATION <role>) or GRANT CREATE ON DATABASE to it; `auditfwd check --connect` says what is missing",
					schema, err, schema)
			}
		}
		for _, t := range tables {
			present, err := relationExists(ctx, conn, id+"."+t.name)
			if err != nil {
				return fmt.Errorf("state_schema %s: %w", schema, err)
			}
			if present {
				continue
			}
			if err := pgtext.Exec(ctx, conn, fmt.Sprintf(t.ddl, id)); err != nil {
				return fmt.Errorf("cannot create table %s.%s (%w): auditfwd's role needs USAGE and CREATE on schema %s; `auditfwd check --connect` says what is missing",
					schema, t.name, err, schema)
			}
		}
		return nil
	})
}

// schemaExists reports whether the schema named schema exists.
func schemaExists(ctx context.Context, conn *pgconn.PgConn, schema string) (bool, error) {
	return queryBool(ctx, conn, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", pgtext.Text(schema))
}

// relationExists reports whether name (schema.table, quoted as SQL would
// need it) names a table or view.
func relationExists(ctx context.Context, conn *pgconn.PgConn, name string) (bool, error) {
	return queryBool(ctx, conn, "SELECT to_regclass($1) IS NOT NULL", pgtext.Text(name))
}

// errNoRow is a query that should have returned a row returning none.
var errNoRow = errors.New("no rows in result set")

// queryBool runs a query that returns one boolean.
func queryBool(ctx context.Context, conn *pgconn.PgConn, sql string, params ...[]byte) (bool, error) {
	b, found, err := pgtext.QueryValue(ctx, conn, sql, params, pgtext.Bool)
	if err == nil && !found {
		err = errNoRow
	}
	return b, err
}
