package slack

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/layout"
	"github.com/auditfwd/auditfwd/internal/redact"
	"github.com/auditfwd/auditfwd/internal/threads"
)

// Renderer lays out messages (Pack, Parent) with what the config says a
// message may show: every value from an event is redacted first (package
// redact: the detectors, redact.fields, redact.patterns), as a step of its
// own, and then escaped; a rule's template (package layout) says what its
// events' messages show. Every message that carries an event value is made
// here, so posts, replies, parent edits, digests and redelivery are all
// redacted alike. A Renderer is immutable and safe for concurrent use; a
// reload builds a new one. The zero value redacts nothing and uses the
// default layout.
type Renderer struct {
	redact  *redact.Redactor
	layouts map[string]*layout.Layout
	// failed is told of each event whose title template failed when its
	// message is laid out; first is true the first time for its layout (it
	// is logged once per rule). Message.TemplateErrors counts them too.
	failed func(rule string, err error, first bool)
}

// NewRenderer renders with r (nil: no redaction) and the layouts of the
// rules that have a template. failed, when set, is told of each event
// whose title could not be rendered (it falls back to the default heading),
// each time its message is laid out.
func NewRenderer(r *redact.Redactor, layouts []*layout.Layout, failed func(rule string, err error, first bool)) *Renderer {
	out := &Renderer{redact: r, layouts: map[string]*layout.Layout{}, failed: failed}
	for _, l := range layouts {
		out.layouts[l.Rule] = l
	}
	return out
}

// Routing is how the events of one message were routed (spool records
// carry it): whether they are a deploy approval alert, whom each pings, and
// which rule's template shows each.
type Routing struct {
	Alert bool
	// Mentions[i] lists the mention entries of events[i] (see mentionLine;
	// missing entries mean none). A message carries one mention line: the
	// union over the events it holds, each entry once.
	Mentions [][]string
	// Templates[i] names the rule whose template shows events[i]; "" (or
	// missing, or a rule without a template) is the default layout.
	Templates []string
	// Notes[i], when set, says why events[i], a reply in a thread, left
	// the thread's parent as it was (docs/threads.md); the reply shows it
	// above the event.
	Notes []string
}

func (h Routing) template(i int) string { return at(h.Templates, i) }

func (h Routing) note(i int) string { return at(h.Notes, i) }

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}

// Layout returns the template of the named rule, or nil.
func (r *Renderer) Layout(rule string) *layout.Layout {
	if r == nil || rule == "" {
		return nil
	}
	return r.layouts[rule]
}

// Redactor is what the Renderer redacts with (nil: nothing).
func (r *Renderer) Redactor() *redact.Redactor {
	if r == nil {
		return nil
	}
	return r.redact
}

// render is one message being laid out: the Renderer, what was redacted
// so far, and the rules whose title failed (per event).
type render struct {
	r      *Renderer
	n      redact.Counts
	failed redact.Counts
	buf    partsBuffer // parts' buffers, reused from event to event
}

func (r *Renderer) start() *render { return &render{r: r} }

// redactMargin is how far past what a value may show its text is still
// searched for secrets, so that a secret cut by the message's limit is
// found whole.
const redactMargin = 4 << 10

// field is the event field at path as shown: redacted, then escaped and
// cut to max.
func (x *render) field(path, s string, max int) string {
	return escClip(x.fieldText(path, s, max), max)
}

// fieldText is the field at path redacted, not yet escaped.
func (x *render) fieldText(path, s string, max int) string {
	if x.r == nil || x.r.redact == nil {
		return s
	}
	return x.r.redact.Field(path, bounded(s, max), &x.n)
}

// text is a value not tied to one field (an action, a thread's heading)
// redacted by the detectors and patterns, then escaped and cut to max.
func (x *render) text(s string, max int) string {
	return escClip(x.plain(s, max), max)
}

func (x *render) plain(s string, max int) string {
	if x.r == nil || x.r.redact == nil {
		return s
	}
	return x.r.redact.Text(bounded(s, max), &x.n)
}

// bounded is the part of s that redaction needs to look at when at most
// max characters of it are shown.
func bounded(s string, max int) string {
	n := 4*max + redactMargin
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// done finishes m: it carries what was redacted and which titles failed.
func (x *render) done(m Message) Message {
	m.Redacted.AddAll(x.n)
	m.TemplateErrors.AddAll(x.failed)
	return m
}

// title is the heading text of ev under rule's template, escaped: "" when
// the rule has no title, or when it failed for this event (counted and
// reported through failed).
func (x *render) title(ev *event.Event, l *layout.Layout) string {
	if !l.HasTitle() {
		return ""
	}
	s, err := l.Title(ev, func(path, raw string) string { return x.fieldText(path, raw, capAction) })
	if err != nil {
		x.failed.Add(l.Rule, 1)
		if x.r.failed != nil {
			x.r.failed(l.Rule, err, l.FirstFailure())
		}
		return ""
	}
	return escClip(s, capAction)
}

// Title is the heading text the rule's template gives ev as Slack shows it
// to a reader (redacted; plain text, not escaped for mrkdwn), and what was
// redacted; "" when the rule has no title or it failed for ev (err says
// why). For `check` and `route --explain`.
func (r *Renderer) Title(rule string, ev *event.Event) (string, redact.Counts, error) {
	l := r.Layout(rule)
	if !l.HasTitle() {
		return "", nil, nil
	}
	x := r.start()
	s, err := l.Title(ev, func(path, raw string) string { return x.fieldText(path, raw, capAction) })
	return s, x.n, err
}

// Redactions lists, for `route --explain` and the dry run, each field of ev
// the message would show changed, with what it would show instead (not
// escaped, not cut), in the event's order.
func (r *Renderer) Redactions(ev *event.Event) []event.Field {
	var out []event.Field
	x := r.start()
	if a := x.plain(ev.Action, capAction); a != ev.Action {
		out = append(out, event.Field{Key: "action", Value: a})
	}
	for _, f := range ev.Fields {
		if v := x.fieldText(f.Key, f.Value, capValue); v != bounded(f.Value, capValue) {
			out = append(out, event.Field{Key: f.Key, Value: v})
		}
	}
	return out
}

// thread is a copy of t with every value a parent shows from its events
// redacted (not escaped: the parent escapes them as it always does). The
// key's value and the request's ID are the fields they come from; who
// acted is hidden when redact.fields hides any of the user's fields; any
// other value is hidden when redact.fields hides it in the thread's first
// event, and always searched by the detectors and patterns. A field added
// to threads.Thread fails TestEveryThreadValueIsRedactedOrNotShown until it
// is placed here or known not to be shown.
func (x *render) thread(t *threads.Thread, first *event.Event) threads.Thread {
	c := t.Clone()
	if x.r == nil || x.r.redact == nil {
		return c
	}
	hidden := x.hiddenIn(first)
	heading := func(s string) string {
		for _, h := range hidden {
			if s != "" && (s == h || len(s) >= 64 && strings.HasPrefix(h, s)) {
				x.n.Add(redact.FieldLabel, 1)
				return redact.Hidden
			}
		}
		return x.plain(s, capResource)
	}
	actor := func(s string) string {
		if s != "" && (x.r.redact.Hides("user_email") || x.r.redact.Hides("user_name") || x.r.redact.Hides("api_token_name")) {
			x.n.Add(redact.FieldLabel, 1)
			return redact.Hidden
		}
		return heading(s)
	}
	if field, value, ok := strings.Cut(c.Key, "="); ok {
		from := field
		if c.Approval {
			from = "resource" // deploy_approval_request=<the request's resource>
		}
		c.Key = field + "=" + x.fieldText(from, value, capValue)
	}
	c.Latest.Action = x.plain(c.Latest.Action, capAction)
	c.Latest.Status = x.fieldText("status", c.Latest.Status, capStatus)
	c.Latest.TimeRaw = x.plain(c.Latest.TimeRaw, capTime)
	c.Latest.Actor = actor(c.Latest.Actor)
	if q := c.Request; q != nil {
		q.ID = x.fieldText("resource", q.ID, capResource)
		q.Requester, q.By, q.ExtendBy = actor(q.Requester), actor(q.By), actor(q.ExtendBy)
		q.App, q.Rack, q.Branch, q.Commit = heading(q.App), heading(q.Rack), heading(q.Branch), heading(q.Commit)
		q.Message, q.Notes, q.Until = heading(q.Message), heading(q.Notes), heading(q.Until)
		q.AtRaw = x.plain(q.AtRaw, capTime)
	}
	return c
}

// hiddenIn lists the values redact.fields hides in ev (nil: none): its
// fields, and the keys of JSON objects in them one level down
// (details.branch).
func (x *render) hiddenIn(ev *event.Event) []string {
	if ev == nil {
		return nil
	}
	var out []string
	for _, f := range ev.Fields {
		if x.r.redact.Hides(f.Key) {
			out = append(out, f.Value)
			continue
		}
		if !strings.HasPrefix(f.Value, "{") {
			continue
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal([]byte(f.Value), &obj) != nil {
			continue
		}
		for k := range obj {
			if x.r.redact.Hides(f.Key + "." + k) {
				if v, ok := layout.Value(ev, f.Key+"."+k); ok && v != "" {
					out = append(out, v)
				}
			}
		}
	}
	return out
}

// Parent is the parent message of a thread (parent in thread.go), with
// every value from the thread's events redacted.
func (r *Renderer) Parent(t *threads.Thread) Message {
	x := r.start()
	// The first event is parsed once, for what redact.fields hides in it
	// and for the parent to show it.
	var first *event.Event
	if ev, err := event.Parse(t.First); err == nil {
		first = &ev
	}
	shown := x.thread(t, first)
	return x.done(parent(&shown, first, x))
}

// ThreadStart is the parent a threads.Start decision posts: the new
// thread's parent with the mention line of whom d pings.
func (r *Renderer) ThreadStart(d threads.Decision) Message {
	return withMentions(r.Parent(&d.Thread), [][]string{d.Ping}, 1)
}

// ThreadReply is the reply that the reply decisions ds of events post
// (templates[i] names the rule whose template shows events[i]), and how
// many of the events it holds (Slack's limits may cut it). It pings
// nobody, and says of each event that did not apply why.
func (r *Renderer) ThreadReply(events []event.Event, templates []string, ds []threads.Decision) (Message, int) {
	notes := make([]string, len(ds))
	for i, d := range ds {
		notes[i] = d.NotApplied
	}
	return r.Pack(events, Routing{Templates: templates, Notes: notes})
}
