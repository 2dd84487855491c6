package pgstate

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/auditfwd/auditfwd/internal/pgsource"
	"github.com/auditfwd/auditfwd/internal/pgtext"
)

// Finding is one line of `auditfwd check --connect`.
type Finding struct {
	OK   bool
	Text string
}

// Inspect says what the connected role can and cannot do that auditfwd
// needs: read the gateway's table, use (or create) state_schema and its
// tables, and who holds the leader lock. It changes nothing.
func Inspect(ctx context.Context, conn *pgconn.PgConn, schema string) []Finding {
	var out []Finding
	add := func(ok bool, format string, args ...any) {
		out = append(out, Finding{ok, fmt.Sprintf(format, args...)})
	}
	// q is a privilege check: false when it cannot be answered.
	q := func(sql string, params ...[]byte) bool {
		ok, _ := queryBool(ctx, conn, sql, params...)
		return ok
	}

	var user, dbname, version string
	_, err := pgtext.QueryRow(ctx, conn, "SELECT current_user, current_database(), current_setting('server_version')", nil, func(v [][]byte) error {
		if err := pgtext.Columns(v, 3); err != nil {
			return err
		}
		var err error
		if user, err = pgtext.String(v[0]); err != nil {
			return err
		}
		if dbname, err = pgtext.String(v[1]); err != nil {
			return err
		}
		version, err = pgtext.String(v[2])
		return err
	})
	if err != nil {
		add(false, "cannot query the server: %v", err)
		return out
	}
	add(true, "connected to database %s as role %s (PostgreSQL %s)", dbname, user, version)

	// The gateway's table: SELECT is all auditfwd needs of it.
	switch present, err := relationExists(ctx, conn, pgsource.Table); {
	case err != nil:
		add(false, "cannot read %s: %v (GRANT audit_reader TO %s)", pgsource.Table, err, ident(user))
	case !present:
		add(false, "%s does not exist in database %s: point the DSN at the gateway's database", pgsource.Table, dbname)
	default:
		var last int64
		err := pgtext.Tx(ctx, conn, func() error {
			// Read-only and rolled back: a check changes nothing.
			if err := pgtext.Exec(ctx, conn, "SET TRANSACTION READ ONLY"); err != nil {
				return err
			}
			n, _, err := pgtext.QueryValue(ctx, conn, "SELECT max(chain_index) FROM "+pgsource.Table, nil, func(v []byte) (*int64, error) {
				return pgtext.Opt(v, pgtext.Int64)
			})
			if err != nil {
				return err
			}
			last = -1
			if n != nil {
				last = *n
			}
			return errRollback
		})
		switch {
		case err != nil && !errors.Is(err, errRollback):
			add(false, "cannot read %s: %v (GRANT audit_reader TO %s)", pgsource.Table, err, ident(user))
		case last < 0:
			hidden := q(`SELECT c.relrowsecurity AND NOT (EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'audit_reader') AND pg_has_role('audit_reader', 'MEMBER'))
				FROM pg_class c WHERE c.oid = $1::regclass`, pgtext.Text(pgsource.Table))
			if hidden {
				add(false, "can read %s, but row-level security hides every row from %s: GRANT audit_reader TO %s (its policy reads every row)", pgsource.Table, user, ident(user))
			} else {
				add(true, "can read %s; it holds no row yet", pgsource.Table)
			}
		default:
			add(true, "can read %s: rows up to chain_index %d", pgsource.Table, last)
		}
	}

	// state_schema: used when it exists (USAGE, CREATE), else created (CREATE on the database).
	id := ident(schema)
	exists, err := schemaExists(ctx, conn, schema)
	if err != nil {
		add(false, "cannot look up state_schema %s: %v", schema, err)
		return out
	}
	if !exists {
		if q("SELECT has_database_privilege(current_database(), 'CREATE')") {
			add(true, "state_schema %s does not exist; it will be created by the first leader (%s may create schemas in %s)", schema, user, dbname)
		} else {
			add(false, "state_schema %s does not exist and %s may not create it: CREATE SCHEMA %s AUTHORIZATION %s (or GRANT CREATE ON DATABASE %s TO %s)",
				schema, user, id, ident(user), ident(dbname), ident(user))
		}
	} else {
		usage := q("SELECT has_schema_privilege($1, 'USAGE')", pgtext.Text(schema))
		create := q("SELECT has_schema_privilege($1, 'CREATE')", pgtext.Text(schema))
		var missing []string
		if !usage {
			missing = append(missing, "USAGE")
		}
		if !create {
			missing = append(missing, "CREATE")
		}
		if len(missing) == 0 {
			add(true, "state_schema %s exists; %s may use it and create tables in it", schema, user)
		} else {
			add(false, "state_schema %s exists but %s lacks %s on it: GRANT USAGE, CREATE ON SCHEMA %s TO %s",
				schema, user, strings.Join(missing, " and "), id, ident(user))
		}
		for _, t := range tables {
			name := id + "." + t.name
			if there, err := relationExists(ctx, conn, name); err != nil || !there {
				if usage && create {
					add(true, "table %s.%s will be created by the first leader", schema, t.name)
				}
				continue
			}
			if q("SELECT has_table_privilege($1, 'SELECT, INSERT, UPDATE, DELETE')", pgtext.Text(name)) {
				add(true, "table %s.%s: %s can read and write it", schema, t.name, user)
				if t.name == CursorTable {
					if cur, err := Indexes(ctx, conn, schema); err == nil && len(cur) > 0 {
						add(true, "delivery cursors (last chain_index delivered): %s", showCursors(cur))
					}
				}
			} else {
				add(false, "table %s.%s: %s cannot read and write it: GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO %s",
					schema, t.name, user, name, ident(user))
			}
		}
	}

	// The leader lock.
	k1, k2 := lockKeys(schema)
	holder, held, err := lockHolder(ctx, conn, k1, k2)
	switch {
	case err != nil:
		add(false, "cannot look at the leader lock: %v", err)
	case !held:
		add(true, "leader lock (pg_locks classid %d, objid %d): free; the first instance to start leads", uint32(k1), uint32(k2))
	default:
		add(true, "leader lock (pg_locks classid %d, objid %d): held by %s", uint32(k1), uint32(k2), holder)
	}
	return out
}

var errRollback = errors.New("rollback")

var plainIdent = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// ident is name as an operator would type it in SQL: quoted only when it
// must be.
func ident(name string) string {
	if plainIdent.MatchString(name) {
		return name
	}
	return pgtext.Ident(name)
}

// showCursors lists cursors as "security 1233, infrastructure 1230, read
// up to 1233".
func showCursors(cur map[string]int64) string {
	names := slices.Sorted(maps.Keys(cur))
	var parts []string
	for _, n := range names {
		if n != ReadCursor {
			parts = append(parts, fmt.Sprintf("%s %d", n, cur[n]))
		}
	}
	if r, ok := cur[ReadCursor]; ok {
		parts = append(parts, fmt.Sprintf("read up to %d", r))
	}
	return strings.Join(parts, ", ")
}
