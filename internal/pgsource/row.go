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
	"net/netip"
	"time"

	"github.com/auditfwd/auditfwd/internal/logpos"
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

// columns are the columns a Row is scanned from, in scan order.
const columns = `id, "timestamp", chain_index, previous_hash, event_hash, user_email, user_name, api_token_id,
	api_token_name, action_type, action, command, resource, resource_type, details, request_id, ip_address,
	user_agent, status, rbac_decision, http_status, response_time_ms, event_count, deploy_approval_request_id`

func (r *Row) dest() []any {
	return []any{&r.ID, &r.Timestamp, &r.ChainIndex, &r.PreviousHash, &r.EventHash, &r.UserEmail, &r.UserName,
		&r.APITokenID, &r.APITokenName, &r.ActionType, &r.Action, &r.Command, &r.Resource, &r.ResourceType,
		&r.Details, &r.RequestID, &r.IPAddress, &r.UserAgent, &r.Status, &r.RBACDecision, &r.HTTPStatus,
		&r.ResponseTimeMS, &r.EventCount, &r.DeployApprovalRequestID}
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
