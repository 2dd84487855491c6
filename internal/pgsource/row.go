// Package pgsource reads the Rack Gateway's audit table
// (audit.audit_event) in chain_index order, verifies the chain's linkage
// (no gap in chain_index, each previous_hash the previous row's
// event_hash), turns each row into the database-export event line
// (docs/event-format.md: keys in alphabetical order, NULL columns left
// out) and hands the
// lines to a Handler, as the tailer hands over a log's lines. A break in
// the chain becomes one auditfwd.chain_broken alert event.
//
// It only reads, with whatever session it is given: it knows nothing of
// leadership, delivery cursors, routing or Slack (internal/pgstate holds
// the session and auditfwd's own tables; internal/daemon wires them).
package pgsource

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/auditfwd/auditfwd/internal/logpos"
	"github.com/auditfwd/auditfwd/internal/pgtext"
)

// Row is one row of audit.audit_event, as read.
type Row struct {
	ID                      int64
	Timestamp               time.Time
	ChainIndex              int64
	PreviousHash            []byte
	EventHash               []byte
	UserEmail               string
	UserName                *string
	APITokenID              *int64
	APITokenName            *string
	ActionType              string
	Action                  string
	Command                 *string
	Resource                *string
	ResourceType            *string
	Details                 *string
	RequestID               *string
	IPAddress               *netip.Prefix
	UserAgent               *string
	Status                  string
	RBACDecision            *string
	HTTPStatus              *int32
	ResponseTimeMS          int32
	EventCount              int32
	DeployApprovalRequestID *int64
}

// columns are the columns a Row is decoded from, in decode order.
const columns = `id, "timestamp", chain_index, previous_hash, event_hash, user_email, user_name, api_token_id,
	api_token_name, action_type, action, command, resource, resource_type, details, request_id, ip_address,
	user_agent, status, rbac_decision, http_status, response_time_ms, event_count, deploy_approval_request_id`

// decode sets r from a row of columns in the text format, in their order.
func (r *Row) decode(values [][]byte) error {
	if err := pgtext.Columns(values, 24); err != nil {
		return err
	}
	d := &decoder{values: values}
	r.ID = get(d, pgtext.Int64)
	r.Timestamp = get(d, pgtext.Timestamptz)
	r.ChainIndex = get(d, pgtext.Int64)
	r.PreviousHash = get(d, pgtext.Bytea)
	r.EventHash = get(d, pgtext.Bytea)
	r.UserEmail = get(d, pgtext.String)
	r.UserName = opt(d, pgtext.String)
	r.APITokenID = opt(d, pgtext.Int64)
	r.APITokenName = opt(d, pgtext.String)
	r.ActionType = get(d, pgtext.String)
	r.Action = get(d, pgtext.String)
	r.Command = opt(d, pgtext.String)
	r.Resource = opt(d, pgtext.String)
	r.ResourceType = opt(d, pgtext.String)
	r.Details = opt(d, pgtext.String)
	r.RequestID = opt(d, pgtext.String)
	r.IPAddress = opt(d, pgtext.Inet)
	r.UserAgent = opt(d, pgtext.String)
	r.Status = get(d, pgtext.String)
	r.RBACDecision = opt(d, pgtext.String)
	r.HTTPStatus = opt(d, pgtext.Int32)
	r.ResponseTimeMS = get(d, pgtext.Int32)
	r.EventCount = get(d, pgtext.Int32)
	r.DeployApprovalRequestID = opt(d, pgtext.Int64)
	return d.err
}

// decoder walks a row's values, keeping the first error.
type decoder struct {
	values [][]byte
	i      int
	err    error
}

// get decodes the next value.
func get[T any](d *decoder, decode func([]byte) (T, error)) T {
	i := d.i
	d.i++
	var x T
	if d.err != nil {
		return x
	}
	x, err := decode(d.values[i])
	if err != nil {
		d.err = fmt.Errorf("column %d: %w", i+1, err)
	}
	return x
}

// opt decodes the next value, which may be NULL.
func opt[T any](d *decoder, decode func([]byte) (T, error)) *T {
	return get(d, func(v []byte) (*T, error) { return pgtext.Opt(v, decode) })
}

// exported is the database-export event shape; the field order is the
// keys' alphabetical order, as the gateway writes its lines.
type exported struct {
	Action                  string  `json:"action"`
	ActionType              string  `json:"action_type"`
	APITokenID              *int64  `json:"api_token_id,omitempty"`
	APITokenName            *string `json:"api_token_name,omitempty"`
	ChainIndex              int64   `json:"chain_index"`
	Command                 *string `json:"command,omitempty"`
	DeployApprovalRequestID *int64  `json:"deploy_approval_request_id,omitempty"`
	Details                 any     `json:"details,omitempty"`
	EventCount              int32   `json:"event_count"`
	HTTPStatus              *int32  `json:"http_status,omitempty"`
	ID                      int64   `json:"id"`
	IPAddress               string  `json:"ip_address,omitempty"`
	LatencyMS               int32   `json:"latency_ms"`
	RBACDecision            *string `json:"rbac_decision,omitempty"`
	RequestID               *string `json:"request_id,omitempty"`
	Resource                *string `json:"resource,omitempty"`
	ResourceType            *string `json:"resource_type,omitempty"`
	Status                  string  `json:"status"`
	Timestamp               string  `json:"timestamp"`
	UserAgent               *string `json:"user_agent,omitempty"`
	UserEmail               string  `json:"user_email"`
	UserName                *string `json:"user_name,omitempty"`
}

// Event is the row as a database-export audit line: `timestamp` in RFC
// 3339 with the stored precision, `details` the decoded JSON when it is
// valid JSON (else the text), `ip_address` without a /32 or /128,
// `latency_ms` from response_time_ms, NULL columns left out.
func (r *Row) Event() []byte {
	e := exported{
		Action: r.Action, ActionType: r.ActionType, APITokenID: r.APITokenID, APITokenName: r.APITokenName,
		ChainIndex: r.ChainIndex, Command: r.Command, DeployApprovalRequestID: r.DeployApprovalRequestID,
		EventCount: r.EventCount, HTTPStatus: r.HTTPStatus, ID: r.ID, LatencyMS: r.ResponseTimeMS,
		RBACDecision: r.RBACDecision, RequestID: r.RequestID, Resource: r.Resource, ResourceType: r.ResourceType,
		Status: r.Status, Timestamp: r.Timestamp.UTC().Format(time.RFC3339Nano), UserAgent: r.UserAgent,
		UserEmail: r.UserEmail, UserName: r.UserName,
	}
	if r.Details != nil {
		e.Details = details(*r.Details)
	}
	if r.IPAddress != nil {
		if p := *r.IPAddress; p.IsSingleIP() {
			e.IPAddress = p.Addr().String()
		} else {
			e.IPAddress = p.String()
		}
	}
	line, err := json.Marshal(e)
	if err != nil { // cannot happen for these types; never lose the row over it
		e.Details = *r.Details
		line, _ = json.Marshal(e)
	}
	return line
}

// maxDetailsDepth bounds the nesting of a details document embedded as
// JSON; deeper (hostile) documents stay text, so the line stays within what
// the event scanner accepts.
const maxDetailsDepth = 32

// details is the details column as an event value: the JSON document
// itself when the text is one (json.Marshal compacts it), else the text.
func details(s string) any {
	b := []byte(s)
	if !json.Valid(b) || depth(b) > maxDetailsDepth {
		return s
	}
	return json.RawMessage(b)
}

// depth is the deepest nesting of brackets in a valid JSON document.
func depth(b []byte) int {
	d, deepest, inString, escaped := 0, 0, false, false
	for _, c := range b {
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			d++
			deepest = max(deepest, d)
		case c == '}' || c == ']':
			d--
		}
	}
	return deepest
}

// Gen is the generation of every position this package hands out: a row's
// position is a pure function of its chain_index, the same on every
// instance, so delivery cursors and thread records mean the same thing to
// the next leader.
const Gen = 1

// RowPos is the position of the row at chain index i.
func RowPos(i int64) logpos.Position { return logpos.Position{Gen: Gen, Offset: 2*i + 1} }

// BreakPos is the position of the chain_broken alert for a break found just
// before the row at chain index i: after the row before it, before it.
func BreakPos(i int64) logpos.Position { return logpos.Position{Gen: Gen, Offset: 2 * i} }

// IndexOf is the chain index of the last row at or before pos: -1 before
// the first row.
func IndexOf(pos logpos.Position) int64 {
	if pos.Offset <= 0 {
		return -1
	}
	return (pos.Offset - 1) / 2
}
