package gatewaydb

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5"
)

// HMACSecret is the gateway's AUDIT_HMAC_SECRET in tests.
var HMACSecret = []byte("test-audit-hmac-secret")

// chainLock is the key of the gateway's transaction-scoped advisory lock
// around "read the highest chain_index, insert the next".
const chainLock = 0x61756469 // "audi"

// Event is what the gateway records: the columns it fills. Empty strings
// and zero numbers of nullable columns are stored as NULL; Time zero is now.
type Event struct {
	Time                    time.Time
	UserEmail               string
	UserName                string
	APITokenID              int64
	APITokenName            string
	ActionType              string
	Action                  string
	Command                 string
	Resource                string
	ResourceType            string
	Details                 string
	RequestID               string
	IPAddress               string
	UserAgent               string
	Status                  string
	RBACDecision            string
	HTTPStatus              int32
	ResponseTimeMS          int32
	EventCount              int32
	DeployApprovalRequestID int64
}

// Row is an appended event with its place in the chain.
type Row struct {
	Event
	ID           int64
	ChainIndex   int64
	PreviousHash []byte
	EventHash    []byte
}

// Hash is the row's event_hash: HMAC-SHA256 over its fields in the
// gateway's order (chain_index and the numbers little-endian, previous_hash
// absent for row 0, the timestamp as RFC 3339 with nanoseconds in UTC,
// strings as their bytes, NULL as nothing).
func Hash(secret []byte, chainIndex int64, previous []byte, e Event) []byte {
	m := hmac.New(sha256.New, secret)
	var b [8]byte
	put64 := func(v int64) {
		binary.LittleEndian.PutUint64(b[:], uint64(v))
		m.Write(b[:])
	}
	put32 := func(v int32) {
		binary.LittleEndian.PutUint32(b[:4], uint32(v))
		m.Write(b[:4])
	}
	put64(chainIndex)
	m.Write(previous)
	m.Write([]byte(e.Time.UTC().Format(time.RFC3339Nano)))
	m.Write([]byte(e.UserEmail))
	m.Write([]byte(e.UserName))
	if e.APITokenID != 0 {
		put64(e.APITokenID)
	}
	for _, s := range []string{e.APITokenName, e.ActionType, e.Action, e.Command, e.Resource, e.ResourceType, e.Details, e.IPAddress, e.UserAgent, e.Status, e.RBACDecision} {
		m.Write([]byte(s))
	}
	put32(e.HTTPStatus)
	put32(e.ResponseTimeMS)
	if e.DeployApprovalRequestID != 0 {
		put64(e.DeployApprovalRequestID)
	}
	return m.Sum(nil)
}

// Gateway appends events as the gateway does, connected as its login role.
type Gateway struct {
	conn *pgx.Conn
}

// Gateway connects to db as the gateway's role (a member of audit_writer).
func (c *Cluster) Gateway(ctx context.Context, db string) (*Gateway, error) {
	conn, err := pgx.Connect(ctx, c.DSN("gateway", GatewayPassword, db))
	if err != nil {
		return nil, fmt.Errorf("gatewaydb: connect as gateway: %w", err)
	}
	return &Gateway{conn: conn}, nil
}

// Close disconnects.
func (g *Gateway) Close() { g.conn.Close(context.Background()) }

// Append records e as the next row of the chain, in one transaction.
func (g *Gateway) Append(ctx context.Context, e Event) (Row, error) {
	var r Row
	err := pgx.BeginFunc(ctx, g.conn, func(tx pgx.Tx) error {
		var err error
		r, err = AppendTx(ctx, tx, e)
		return err
	})
	return r, err
}

// AppendTx records e as the next row of the chain inside tx: the advisory
// lock, the highest chain_index and its hash, the HMAC, the insert through
// audit.append_event. Several calls in one transaction append several rows.
func AppendTx(ctx context.Context, tx pgx.Tx, e Event) (Row, error) {
	last, prev, err := head(ctx, tx)
	if err != nil {
		return Row{}, err
	}
	r := Row{Event: e, ChainIndex: last + 1, PreviousHash: prev}
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	r.Time = r.Time.UTC()
	if r.EventCount == 0 {
		r.EventCount = 1
	}
	r.EventHash = Hash(HMACSecret, r.ChainIndex, r.PreviousHash, r.Event)
	var ip *netip.Addr
	if r.IPAddress != "" {
		a, err := netip.ParseAddr(r.IPAddress)
		if err != nil {
			return Row{}, fmt.Errorf("gatewaydb: ip_address %q: %w", r.IPAddress, err)
		}
		ip = &a
	}
	err = tx.QueryRow(ctx, `SELECT audit.append_event($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)`,
		r.Time, r.ChainIndex, r.PreviousHash, r.EventHash, r.UserEmail, null(r.UserName), nullInt(r.APITokenID), null(r.APITokenName),
		r.ActionType, r.Action, null(r.Command), null(r.Resource), null(r.ResourceType), null(r.Details), null(r.RequestID),
		ip, null(r.UserAgent), r.Status, null(r.RBACDecision), nullInt(int64(r.HTTPStatus)), r.ResponseTimeMS, r.EventCount,
		nullInt(r.DeployApprovalRequestID)).Scan(&r.ID)
	if err != nil {
		return Row{}, fmt.Errorf("gatewaydb: append: %w", err)
	}
	return r, nil
}

// head takes the gateway's chain lock for tx and reads the chain's last
// row: its chain index (-1 when the table is empty) and event_hash.
func head(ctx context.Context, tx pgx.Tx) (last int64, prev []byte, err error) {
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(chainLock)); err != nil {
		return 0, nil, fmt.Errorf("gatewaydb: lock: %w", err)
	}
	err = tx.QueryRow(ctx, "SELECT chain_index, event_hash FROM audit.audit_event ORDER BY chain_index DESC LIMIT 1").Scan(&last, &prev)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return -1, nil, nil
	case err != nil:
		return 0, nil, fmt.Errorf("gatewaydb: last row: %w", err)
	}
	return last, prev, nil
}

func null(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nullInt(n int64) *int64 {
	if n == 0 {
		return nil
	}
	return &n
}

// Tamper runs statements in database db as audit_owner with the table's
// triggers disabled, in one transaction, as an intruder with the owner's
// rights would: `DELETE FROM audit.audit_event WHERE chain_index = 5`.
func (c *Cluster) Tamper(ctx context.Context, db string, statements ...string) error {
	return c.Tx(ctx, db, func(tx pgx.Tx) error { return TamperTx(ctx, tx, statements...) })
}

// TamperTx is Tamper inside tx.
func TamperTx(ctx context.Context, tx pgx.Tx, statements ...string) error {
	all := append([]string{"SET LOCAL ROLE audit_owner", "ALTER TABLE audit.audit_event DISABLE TRIGGER USER"}, statements...)
	all = append(all, "ALTER TABLE audit.audit_event ENABLE TRIGGER USER", "RESET ROLE")
	for _, q := range all {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("gatewaydb: tamper: %s: %w", q, err)
		}
	}
	return nil
}

// Tx runs f in one transaction as the superuser in database db.
func (c *Cluster) Tx(ctx context.Context, db string, f func(tx pgx.Tx) error) error {
	conn, err := c.Admin(ctx, db)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return pgx.BeginFunc(ctx, conn, f)
}

// Preload appends events in one COPY as the superuser, chained and hashed
// as the gateway's inserts would have been: for a benchmark's 100,000 rows,
// which the gateway's one-row transactions would take minutes to write.
func (c *Cluster) Preload(ctx context.Context, db string, events []Event) error {
	return c.Tx(ctx, db, func(tx pgx.Tx) error {
		last, prev, err := head(ctx, tx)
		if err != nil {
			return err
		}
		i := 0
		src := pgx.CopyFromFunc(func() ([]any, error) {
			if i == len(events) {
				return nil, nil
			}
			e := events[i]
			i++
			if e.Time.IsZero() {
				e.Time = time.Now()
			}
			if e.EventCount == 0 {
				e.EventCount = 1
			}
			last++
			h := Hash(HMACSecret, last, prev, e)
			row := []any{e.Time.UTC(), last, prev, h, e.UserEmail, null(e.UserName), nullInt(e.APITokenID), null(e.APITokenName),
				e.ActionType, e.Action, null(e.Command), null(e.Resource), null(e.ResourceType), null(e.Details), null(e.RequestID),
				null(e.IPAddress), null(e.UserAgent), e.Status, null(e.RBACDecision), nullInt(int64(e.HTTPStatus)), e.ResponseTimeMS,
				e.EventCount, nullInt(e.DeployApprovalRequestID)}
			prev = h
			return row, nil
		})
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"audit", "audit_event"}, []string{"timestamp", "chain_index", "previous_hash", "event_hash",
			"user_email", "user_name", "api_token_id", "api_token_name", "action_type", "action", "command", "resource", "resource_type",
			"details", "request_id", "ip_address", "user_agent", "status", "rbac_decision", "http_status", "response_time_ms",
			"event_count", "deploy_approval_request_id"}, src)
		if err != nil {
			return fmt.Errorf("gatewaydb: preload: %w", err)
		}
		return nil
	})
}
