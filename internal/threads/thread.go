package threads

import (
	"encoding/json"
	"hash/fnv"
	"strings"
	"time"

	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/logpos"
)

// Thread is one Slack thread as remembered in state_dir: where its parent
// is, and what the parent must show.
type Thread struct {
	Channel      string          `json:"channel"`       // the config channel (queue) it belongs to
	Key          string          `json:"key"`           // Spec.Key of its events
	SlackChannel string          `json:"slack_channel"` // the Slack channel ID of the parent
	TS           string          `json:"ts"`            // the parent's ts: replies name it, edits change it
	Approval     bool            `json:"approval,omitempty"`
	Window       time.Duration   `json:"window,omitempty"` // thread_by's window
	Count        int             `json:"count"`            // events in the thread, the parent's included
	LastSeen     time.Time       `json:"last_seen"`        // the latest event's time: the window runs from it
	Touched      time.Time       `json:"touched"`          // when the thread last changed: it is forgotten a window (or ApprovalRetention) later
	First        json.RawMessage `json:"first"`            // the parent's event (long values cut): the parent keeps showing it
	// FirstNotApplied says why the parent's own event left its request as
	// it was (a thread opened by a denied approve); the parent says so.
	FirstNotApplied string   `json:"first_not_applied,omitempty"`
	Latest          Latest   `json:"latest"`
	Request         *Request `json:"request,omitempty"` // a deploy approval request's state
	// NoEdit is Slack's reason for refusing edits of this parent for good
	// (cant_update_message, edit_window_closed): replies go on, unedited.
	NoEdit string `json:"no_edit,omitempty"`
	// LastPos and LastHash name the last spool record applied: a record
	// read again after a crash between recording the thread and
	// acknowledging the spool is recognised and not posted twice.
	LastPos  logpos.Position `json:"last_pos"`
	LastHash uint64          `json:"last_hash,omitempty"`
}

// Latest is the newest event of a thread, as the parent shows it.
type Latest struct {
	Action  string    `json:"action"`
	Status  string    `json:"status,omitempty"`
	Time    time.Time `json:"time,omitzero"`
	TimeRaw string    `json:"time_raw,omitempty"`
	Actor   string    `json:"actor,omitempty"`
}

// Request is a deploy approval request as its thread shows it: what it
// asks for, fixed by the first event that applied (normally its create),
// and its current state and who set it (lifecycle.go).
type Request struct {
	ID string `json:"id"`
	// Fixed: the request fields below were taken from an event that
	// applied and never change again. A thread opened by an event that did
	// not apply (a denied approve) has none yet.
	Fixed     bool   `json:"fixed,omitempty"`
	Requester string `json:"requester,omitempty"`
	App       string `json:"app,omitempty"`
	Rack      string `json:"rack,omitempty"`
	Branch    string `json:"branch,omitempty"`
	Commit    string `json:"commit,omitempty"`
	Message   string `json:"message,omitempty"`

	State    string    `json:"state,omitempty"` // Pending, Approved, Rejected, Expired; Unknown ("") before any event applied
	By       string    `json:"by,omitempty"`    // who approved, rejected
	At       time.Time `json:"at,omitzero"`     // when State was set
	AtRaw    string    `json:"at_raw,omitempty"`
	Until    string    `json:"until,omitempty"` // the approval's end, as the gateway wrote it
	Extended bool      `json:"extended,omitempty"`
	ExtendBy string    `json:"extend_by,omitempty"`
	Notes    string    `json:"notes,omitempty"`
}

// maxValue bounds every value a Thread keeps from an event.
const maxValue = 300

// New is the thread a parent starts: ev (read from line) is its first event.
func New(channel, key string, s Spec, ev *event.Event, line []byte, now time.Time) Thread {
	t := Thread{Channel: channel, Key: key, Approval: s.Approval, Window: s.Window, First: compact(line, ev)}
	if s.Approval {
		t.Request = &Request{ID: clip(ev.Get("resource"), maxValue)}
	}
	t.FirstNotApplied = t.apply(ev, now)
	return t
}

// upgrade fills in what a thread recorded by an older auditfwd lacks: its
// request's fields were fixed once it had a state.
func (t *Thread) upgrade() {
	if r := t.Request; r != nil && !r.Fixed && r.State != Unknown {
		r.Fixed = true
	}
}

// Clone is a copy of t that can change without changing t.
func (t Thread) Clone() Thread {
	if t.Request != nil {
		r := *t.Request
		t.Request = &r
	}
	t.First = append(json.RawMessage(nil), t.First...)
	return t
}

// restart is t carried over to a new parent whose first event is ev: a
// request keeps what it asks for and its state, a thread_by count starts
// again.
func (t *Thread) restart(ev *event.Event, line []byte, now time.Time) Thread {
	n := Thread{Channel: t.Channel, Key: t.Key, Approval: t.Approval, Window: t.Window, First: compact(line, ev)}
	if t.Request != nil {
		r := *t.Request
		n.Request = &r
	}
	n.FirstNotApplied = n.apply(ev, now)
	return n
}

// Joins reports whether an event at evTime (zero: now) belongs to t rather
// than starting a new thread: a request's events always do; thread_by
// events do within the window after the thread's last event.
func (t *Thread) Joins(evTime, now time.Time) bool {
	if t.Approval {
		return true
	}
	if evTime.IsZero() {
		evTime = now
	}
	return !evTime.After(t.LastSeen.Add(t.Window))
}

// Expired reports whether t is forgotten at now.
func (t *Thread) Expired(now time.Time) bool {
	keep := t.Window
	if t.Approval {
		keep = ApprovalRetention
	}
	return now.After(t.Touched.Add(keep))
}

// apply counts ev into t and, for a request, moves its state when ev fits
// the request's life. It returns why ev did not apply ("" when it did):
// the parent is then left as it was.
func (t *Thread) apply(ev *event.Event, now time.Time) (notApplied string) {
	t.Count++
	t.Touched = now
	at := ev.Time
	if at.IsZero() {
		at = now
	}
	if at.After(t.LastSeen) {
		t.LastSeen = at
	}
	if t.Request != nil {
		// An event that does not apply leaves what the parent shows.
		if notApplied = t.Request.apply(ev); notApplied != "" && t.Latest.Action != "" {
			return notApplied
		}
	}
	t.Latest = Latest{
		Action: clip(ev.Action, maxValue), Status: clip(ev.Get("status"), maxValue),
		Time: ev.Time, TimeRaw: clip(ev.TimeRaw, maxValue), Actor: actor(ev),
	}
	return notApplied
}

// Mark records that the spool record at pos holding line was applied.
func (t *Thread) Mark(pos logpos.Position, line []byte) {
	t.LastPos, t.LastHash = pos, Hash(line)
}

// Applied reports whether the record at pos holding line is the last one
// applied to t.
func (t *Thread) Applied(pos logpos.Position, line []byte) bool {
	return pos == t.LastPos && Hash(line) == t.LastHash
}

// Hash identifies a record's event.
func Hash(line []byte) uint64 {
	h := fnv.New64a()
	h.Write(line)
	return h.Sum64()
}

// apply moves r by ev when ev fits the request's life (lifecycle.go), and
// returns why not otherwise. What the request asks for is taken once, from
// the first event that applies, and never changes afterwards: a later
// event's details cannot rewrite it.
func (r *Request) apply(ev *event.Event) (notApplied string) {
	step := StepOf(ev.Action)
	next, why := transition(r.State, step, ev.Get("status"))
	if why != "" {
		return why
	}
	d := details(ev)
	get := func(names ...string) string {
		for _, n := range names {
			if v := ev.Get(n); v != "" {
				return clip(v, maxValue)
			}
			if v, ok := d[n].(string); ok && v != "" {
				return clip(v, maxValue)
			}
		}
		return ""
	}
	who := actor(ev)
	if !r.Fixed {
		r.Fixed = true
		if step == StepCreate {
			r.Requester = who
		}
		r.App = get("app", "app_name")
		r.Rack = get("rack", "rack_name")
		r.Branch = get("git_branch", "branch")
		r.Commit = get("git_commit_hash", "git_commit", "commit_sha", "commit")
		r.Message = get("message")
	}
	at, atRaw := ev.Time, clip(ev.TimeRaw, maxValue)
	switch step {
	case StepCreate:
		r.At, r.AtRaw = at, atRaw
	case StepApprove:
		r.By, r.At, r.AtRaw = who, at, atRaw
		r.Until, r.Notes = get("expires_at", "approved_until", "until"), get("notes")
	case StepReject:
		r.By, r.At, r.AtRaw = who, at, atRaw
		r.Notes = get("notes", "reason")
		r.Until, r.Extended, r.ExtendBy = "", false, ""
	case StepExtend:
		r.Extended, r.ExtendBy = true, who
		if until := get("expires_at", "extended_until", "until"); until != "" {
			r.Until = until
		}
	case StepExpire:
		r.At, r.AtRaw = at, atRaw
	}
	r.State = next
	return ""
}

// details decodes the event's details field, a JSON object in a string
// (the database export and the gateway's own lines carry one).
func details(ev *event.Event) map[string]any {
	raw := ev.Get("details")
	if !strings.HasPrefix(raw, "{") {
		return nil
	}
	var m map[string]any
	if json.Unmarshal([]byte(raw), &m) != nil {
		return nil
	}
	return m
}

// actor is who acted in ev, as a message shows a user: "Name (email)", the
// email or name alone, or "API token: name".
func actor(ev *event.Event) string {
	if tok := ev.Get("api_token_name"); tok != "" {
		return "API token: " + clip(tok, maxValue)
	}
	name, email := clip(ev.Get("user_name"), maxValue), clip(ev.Get("user_email"), maxValue)
	switch {
	case name != "" && email != "":
		return name + " (" + email + ")"
	case email != "":
		return email
	}
	return name
}

// maxFirst is the longest event line a thread keeps as it is; longer ones
// are kept with their values cut, so the table stays small.
const maxFirst = 2 << 10

// compact is the event a thread keeps for its parent.
func compact(line []byte, ev *event.Event) json.RawMessage {
	if len(line) <= maxFirst {
		return append(json.RawMessage(nil), line...)
	}
	var b strings.Builder
	b.WriteByte('{')
	write := func(k, v string) {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		kj, _ := json.Marshal(clip(k, 100))
		vj, _ := json.Marshal(clip(v, 256))
		b.Write(kj)
		b.WriteByte(':')
		b.Write(vj)
	}
	write("action", ev.Action)
	if ev.TimeRaw != "" {
		write("ts", ev.TimeRaw)
	}
	for i, f := range ev.Fields {
		if i == 40 {
			break
		}
		write(f.Key, f.Value)
	}
	b.WriteByte('}')
	return json.RawMessage(b.String())
}
