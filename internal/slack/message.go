package slack

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	slackapi "github.com/slack-go/slack"

	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/layout"
	"github.com/auditfwd/auditfwd/internal/redact"
	"github.com/auditfwd/auditfwd/internal/threads"
)

// Slack's limits, with a margin where Slack's own counting is undocumented.
// Lengths are counted in UTF-16 code units, which is never less than the
// number of characters Slack counts, so a text that fits here fits there.
const (
	maxBlocks       = 50
	maxSectionText  = 3000
	maxContextText  = 2000 // per context element (Slack allows 3,000; keep a margin)
	maxContextElems = 10
	maxText         = 40000
	// maxBlocksText bounds the sum of all block text in one message, to stay
	// clear of Slack's undocumented msg_blocks_too_long.
	maxBlocksText = 12000
)

// Caps for one escaped value. The main section's caps add up to well under
// maxSectionText, so it is never cut as a whole (which could split the
// <!date^…> token).
const (
	capAction   = 300
	capUser     = 300 // name and email each
	capStatus   = 100
	capTime     = 100
	capResource = 400
	capResType  = 100
	capKey      = 100
	capValue    = maxContextText - capKey - 2
	capChannel  = 200
)

// Message is one chat.postMessage payload: Block Kit blocks and the plain
// fallback text that notifications (and mobile) show. Both are already
// redacted and escaped for mrkdwn.
type Message struct {
	Text   string           `json:"text"`
	Blocks []slackapi.Block `json:"blocks,omitempty"`
	// Redacted counts what was redacted in it, by detector: counted in
	// auditfwd_redactions_total once Slack takes the message.
	Redacted redact.Counts `json:"-"`
	// TemplateErrors counts, by rule, the events shown with the default
	// heading because their title failed: auditfwd_template_errors_total.
	TemplateErrors redact.Counts `json:"-"`
}

// Pack builds one message from the first n events that fit Slack's limits.
// n >= 1 whenever events is not empty: a single event that is too large is
// cut, never rejected. One event gives a single-event message; n > 1 gives a
// digest (a "N audit events" heading, then each event fully shown, in
// order). how says whether it is a deploy approval alert, whom each event
// pings, which rule's template shows it and, for a reply in a thread, why
// it left the parent as it was. The message gets one mention line, the
// union over the events it holds with each entry once, as its first line in
// the fallback text (so that notifications show it) and as its first block;
// replies ping nobody (the parent did), so they are packed without
// mentions. Pack of no events returns an empty Message and 0.
func (r *Renderer) Pack(events []event.Event, how Routing) (Message, int) {
	if len(events) == 0 {
		return Message{}, 0
	}
	x := r.start()
	alert, mentions := how.Alert, how.Mentions
	// Reserve room for the mention line of every event, whatever n turns out to be.
	reserve := mentionReserve(mentions)
	if len(events) == 1 {
		return x.done(withMentions(x.single(&events[0], r.Layout(how.template(0)), alert, reserve, how.note(0)), mentions, 1)), 1
	}

	// Reserve room for the heading, whatever n turns out to be.
	const headingReserve = 64
	usedBlocks, usedText, usedFallback := 1+reserve.blocks, headingReserve+reserve.text, headingReserve+reserve.text
	parts := make([]eventParts, 0, min(len(events), maxBlocks/2))
	px := r.start() // each event's counts, added once the event is in the digest
	for i := range events {
		clear(px.n)
		clear(px.failed)
		p := px.notedParts(&events[i], r.Layout(how.template(i)), how.note(i))
		// No divider between events: each starts with a bold emoji heading,
		// and two blocks per event let a digest carry ~24 ordinary events.
		needBlocks := 1 + ceilDiv(len(p.ctx), maxContextElems) // section + context blocks
		needText := p.size
		needFallback := units(p.text) + 2
		if usedBlocks+needBlocks > maxBlocks || usedText+needText > maxBlocksText || usedFallback+needFallback > maxText {
			break
		}
		usedBlocks += needBlocks
		usedText += needText
		usedFallback += needFallback
		parts = append(parts, p)
		x.n.AddAll(px.n)
		x.failed.AddAll(px.failed)
	}
	if len(parts) <= 1 {
		x = r.start() // only what the single message shows counts
		return x.done(withMentions(x.single(&events[0], r.Layout(how.template(0)), alert, reserve, how.note(0)), mentions, 1)), 1
	}

	n := len(parts)
	var heading string
	if alert {
		heading = fmt.Sprintf("🚀 %d deploy approval requests", n)
	} else {
		heading = fmt.Sprintf("%d audit events", n)
	}
	blocks := make([]slackapi.Block, 0, usedBlocks)
	blocks = append(blocks, section("*"+heading+"*"))
	var text strings.Builder
	size := len(heading)
	for i := range parts {
		size += 2 + len(parts[i].text)
	}
	text.Grow(size)
	text.WriteString(heading)
	for i := range parts {
		blocks = append(blocks, parts[i].blocks(len(parts[i].ctx))...)
		text.WriteString("\n\n")
		text.WriteString(parts[i].text)
	}
	return x.done(withMentions(Message{Text: clip(text.String(), maxText), Blocks: blocks}, mentions, n)), n
}

// single lays out one event (under note, when set), cutting what does not
// fit in what reserve leaves.
func (x *render) single(ev *event.Event, l *layout.Layout, alert bool, reserve room, note string) Message {
	p := x.notedParts(ev, l, note)
	var blocks []slackapi.Block
	var text strings.Builder
	budgetBlocks, budgetText := maxBlocks-reserve.blocks, maxBlocksText-reserve.text
	if alert {
		heading := x.alertHeading(ev)
		blocks = append(blocks, section("*"+heading+"*"))
		text.WriteString(heading + "\n")
		budgetBlocks--
		budgetText -= units(heading) + 2
	}
	k := p.fit(budgetBlocks, budgetText)
	blocks = append(blocks, p.blocks(k)...)
	text.WriteString(p.text)
	return Message{Text: clip(text.String(), maxText), Blocks: blocks}
}

// stepDone is what each step of a request's life (threads.StepOf) did, as
// an alert's heading says it.
var stepDone = map[string]string{
	threads.StepCreate: "requested", threads.StepApprove: "approved", threads.StepReject: "rejected",
	threads.StepExtend: "extended", threads.StepExpire: "expired",
}

// alertHeading heads a deploy approval alert posted on its own (a
// redelivered dead letter, or alerts without threads): what the event did
// to its request, so that an approval never reads "requested". Its values
// are rendered as the action and the Status line are.
func (x *render) alertHeading(ev *event.Event) string {
	verb, lifecycle := strings.CutPrefix(ev.Action, threads.LifecyclePrefix)
	if !lifecycle {
		return "🚀 Deploy approval alert"
	}
	done, known := stepDone[threads.StepOf(ev.Action)]
	switch st := ev.Get("status"); {
	case known && (st == "" || st == "success") && done == "requested":
		return "🚀 Deploy approval requested"
	case known && (st == "" || st == "success"):
		return "🚀 Deploy approval request " + done
	case st == "" || st == "success":
		return "🚀 Deploy approval request: " + x.text(verb, capAction)
	default:
		return "🚀 Deploy approval request: " + x.text(verb, capAction) + " " + x.field("status", st, capStatus)
	}
}

// eventParts is one event rendered: the main section, one context element
// per remaining field, and the fallback text.
type eventParts struct {
	main string   // mrkdwn: heading, User, Status, Time, Resource
	ctx  []string // mrkdwn "key: value", one per remaining field
	text string   // fallback lines, escaped
	size int      // units(main) + units of every ctx element
}

// parts lays out one event: under rule template l when it is not nil.
// The main section, the context elements and the fallback text are
// written into the render's buffers, reused from event to event, and cut
// from one string at the end.
func (x *render) parts(ev *event.Event, l *layout.Layout) eventParts {
	b := &x.buf
	b.reset()
	heading := x.title(ev, l)
	if heading == "" {
		heading = x.text(ev.Action, capAction)
	}
	emo := emoji(ev)
	for _, s := range [...]string{"*", emo, " ", heading, "*"} {
		b.main = append(b.main, s...)
	}
	for _, s := range [...]string{emo, " ", heading} {
		b.text = append(b.text, s...)
	}

	shown := map[string]bool{}
	timeLine := func() {
		switch {
		case !ev.Time.IsZero():
			var rfc [len(time.RFC3339) + 16]byte
			t := ev.Time.UTC().AppendFormat(rfc[:0], time.RFC3339)
			b.main = append(b.main, "\n*Time:* "...)
			b.main = appendSlackDate(b.main, ev.Time, t)
			b.text = append(b.text, "\nTime: "...)
			b.text = append(b.text, t...)
		case ev.TimeRaw != "":
			v := x.text(ev.TimeRaw, capTime)
			b.line("Time", v, v)
		}
	}
	if l != nil && l.Fields != nil {
		x.listed(ev, l.Fields)
		timeLine()
		return b.finish()
	}

	if u := x.userLine(ev, shown); u != "" {
		b.line("User", u, u)
	}
	if st := ev.Get("status"); st != "" {
		v := x.field("status", st, capStatus)
		b.line("Status", v, v)
		shown["status"] = true
	}
	timeLine()
	if v := x.resourceLine(ev, shown); v != "" {
		b.line("Resource", v, v)
	}

	for _, f := range ev.Fields {
		if f.Value == "" || shown[f.Key] {
			continue
		}
		b.context(x.text(f.Key, capKey), x.field(f.Key, f.Value, capValue))
	}
	return b.finish()
}

// partsBuffer is where parts writes one event: the main section, the
// fallback text and the context elements back to back (ends[i] is where
// element i ends).
type partsBuffer struct {
	main, text, ctx []byte
	ends            []int
}

// reset empties b for the next event; the first time, it gives it room for
// an ordinary event in one allocation.
func (b *partsBuffer) reset() {
	if b.main == nil {
		const n = 512
		buf := make([]byte, 3*n)
		b.main, b.text, b.ctx = buf[:0:n], buf[n:n:2*n], buf[2*n:2*n]
		b.ends = make([]int, 0, 16)
	}
	b.main, b.text, b.ctx, b.ends = b.main[:0], b.text[:0], b.ctx[:0], b.ends[:0]
}

// line adds a "label: value" line to the main section and the text.
func (b *partsBuffer) line(label, mrkdwnValue, textValue string) {
	for _, s := range [...]string{"\n*", label, ":* ", mrkdwnValue} {
		b.main = append(b.main, s...)
	}
	for _, s := range [...]string{"\n", label, ": ", textValue} {
		b.text = append(b.text, s...)
	}
}

// context adds the context element "label: value".
func (b *partsBuffer) context(label, value string) {
	b.ctx = append(b.ctx, label...)
	b.ctx = append(b.ctx, ": "...)
	b.ctx = append(b.ctx, value...)
	b.ends = append(b.ends, len(b.ctx))
}

// finish adds the context elements to the fallback text and cuts the
// event's parts, sized, from one string.
func (b *partsBuffer) finish() eventParts {
	var all strings.Builder
	all.Grow(len(b.main) + 2*len(b.ctx) + len(b.text) + len(b.ends))
	all.Write(b.main)
	all.Write(b.ctx)
	all.Write(b.text)
	start := 0
	for _, end := range b.ends {
		all.WriteByte('\n')
		all.Write(b.ctx[start:end])
		start = end
	}
	s := all.String()
	p := eventParts{main: s[:len(b.main)], text: s[len(b.main)+len(b.ctx):]}
	p.size = units(p.main)
	if len(b.ends) > 0 {
		p.ctx = make([]string, len(b.ends))
		at := len(b.main)
		start = 0
		for i, end := range b.ends {
			p.ctx[i] = s[at+start : at+end]
			p.size += units(p.ctx[i])
			start = end
		}
	}
	return p
}

// listed lays out a template's fields, in order, as lines of the main
// section while they fit (leaving room for the time line), then as
// context elements. A field the event lacks is left out.
func (x *render) listed(ev *event.Event, fields []string) {
	const budget = maxSectionText - 300
	b := &x.buf
	shown := map[string]bool{}
	for _, name := range fields {
		var label, v string
		switch name {
		case layout.FieldUser:
			label, v = "User", x.userLine(ev, shown)
		case layout.FieldStatus:
			label, v = "Status", x.field("status", ev.Get("status"), capStatus)
		case layout.FieldResource:
			label, v = "Resource", x.resourceLine(ev, shown)
		default:
			raw, _ := layout.Value(ev, name)
			label, v = escClip(name, capKey), x.field(name, raw, capValue)
		}
		switch {
		case v == "":
		case len(b.ends) == 0 && units(string(b.main))+units(label)+units(v)+8 <= budget:
			b.line(label, v, v)
		default:
			b.context(label, v)
		}
	}
}

// resourceLine renders the Resource value, with its type, and marks the
// fields it shows.
func (x *render) resourceLine(ev *event.Event, shown map[string]bool) string {
	res := ev.Get("resource")
	if res == "" {
		return ""
	}
	v := x.field("resource", res, capResource)
	shown["resource"] = true
	if rt := ev.Get("resource_type"); rt != "" {
		v += " (" + x.field("resource_type", rt, capResType) + ")"
		shown["resource_type"] = true
	}
	return v
}

// notedParts is parts with a "not applied" note (auditfwd's words, which
// may quote a value: redacted and escaped like any value) as the first line
// of the event, when note is set.
func (x *render) notedParts(ev *event.Event, l *layout.Layout, note string) eventParts {
	p := x.parts(ev, l)
	if note != "" {
		line := x.notApplied(note)
		p.main = line.mrkdwn + "\n" + p.main
		p.text = line.text + "\n" + p.text
		p.size += units(line.mrkdwn) + 1
	}
	return p
}

// notApplied is the line that says an event left its thread's parent as
// it was, and why.
func (x *render) notApplied(why string) struct{ mrkdwn, text string } {
	w := x.text(why, capValue/4)
	return struct{ mrkdwn, text string }{"⚠️ *Not applied:* " + w, "⚠️ Not applied: " + w}
}

// userLine renders the User value and marks the fields it shows.
func (x *render) userLine(ev *event.Event, shown map[string]bool) string {
	if tok := ev.Get("api_token_name"); tok != "" {
		// The token's owner (user_email, user_name) stays in the context.
		shown["api_token_name"] = true
		return "API token: " + x.field("api_token_name", tok, capUser)
	}
	name, email := ev.Get("user_name"), ev.Get("user_email")
	switch {
	case name != "" && email != "":
		shown["user_name"], shown["user_email"] = true, true
		return x.field("user_name", name, capUser) + " (" + x.field("user_email", email, capUser) + ")"
	case email != "":
		shown["user_email"] = true
		return x.field("user_email", email, capUser)
	case name != "":
		shown["user_name"] = true
		return x.field("user_name", name, capUser)
	}
	return ""
}

// fit returns how many context elements fit in maxBlocks blocks and
// maxText units of block text, leaving room for a "more fields" note when
// not all of them fit.
func (p *eventParts) fit(maxBlocks, maxText int) int {
	total := units(p.main)
	k := 0
	for k < len(p.ctx) {
		if 1+ceilDiv(k+1, maxContextElems) > maxBlocks || total+units(p.ctx[k]) > maxText {
			break
		}
		total += units(p.ctx[k])
		k++
	}
	if k == len(p.ctx) {
		return k
	}
	const noteReserve = 80
	for k > 0 && (1+ceilDiv(k+1, maxContextElems) > maxBlocks || total+noteReserve > maxText) {
		k--
		total -= units(p.ctx[k])
	}
	return k
}

// blocks lays out the main section and the first k context elements; when
// k < len(ctx) the last element says how many fields were left out.
func (p *eventParts) blocks(k int) []slackapi.Block {
	elems := p.ctx[:k]
	if k < len(p.ctx) {
		elems = append(elems[:k:k], fmt.Sprintf("… %d more fields not shown (Slack message size limit)", len(p.ctx)-k))
	}
	out := make([]slackapi.Block, 0, 1+ceilDiv(len(elems), maxContextElems))
	out = append(out, section(p.main))
	for len(elems) > 0 {
		m := min(len(elems), maxContextElems)
		mixed := make([]slackapi.MixedElement, m)
		for i, e := range elems[:m] {
			mixed[i] = mrkdwn(e)
		}
		out = append(out, slackapi.NewContextBlock("", mixed...))
		elems = elems[m:]
	}
	return out
}

// TestMessage is the test notification for a configured channel: it names
// the config channel and the Slack channel and says it is a test.
func TestMessage(channelName, slackChannel string, now time.Time) Message {
	name := escClip(channelName, capChannel)
	sc := escClip(slackChannel, capChannel)
	rfc := now.UTC().Format(time.RFC3339)
	const heading = "🧪 Test message from auditfwd"
	main := fmt.Sprintf("*%s*\nThis is a test notification for the auditfwd channel *%s* (Slack channel %s). "+
		"If you can read this, auditfwd can post here.\n*Time:* %s", heading, name, sc, slackDate(now, rfc))
	text := fmt.Sprintf("%s\nThis is a test notification for the auditfwd channel %s (Slack channel %s).\nTime: %s",
		heading, name, sc, rfc)
	return Message{Text: text, Blocks: []slackapi.Block{section(main)}}
}

// TextOnly is the fallback for a message whose blocks Slack rejected
// (msg_blocks_too_long, invalid_blocks): the text alone, cut to Slack's limit.
func TextOnly(m Message) Message {
	t := clip(m.Text, maxText)
	if t == "" {
		t = "auditfwd: (empty message)"
	}
	return Message{Text: t, Redacted: m.Redacted, TemplateErrors: m.TemplateErrors}
}

// emoji returns the emoji that leads an event's heading. A login or MFA
// event that did not succeed is 🚨; any other failed, denied or error event
// is ❌; otherwise the action's family decides: 🚀 deploy approvals, 🔐 MFA,
// 🔑 login, logout and tokens, 📝 the rest.
func emoji(ev *event.Event) string {
	a, st := ev.Action, ev.Get("status")
	switch {
	case (strings.HasPrefix(a, "login") || strings.HasPrefix(a, "mfa")) && st != "" && st != "success":
		return "🚨"
	case st == "failed" || st == "denied" || st == "error":
		return "❌"
	case strings.HasPrefix(a, "deploy_approval_request."):
		return "🚀"
	case strings.HasPrefix(a, "mfa"):
		return "🔐"
	case strings.HasPrefix(a, "login"), a == "logout", strings.HasPrefix(a, "logout."),
		strings.HasPrefix(a, "api_token."), strings.HasPrefix(a, "token."):
		return "🔑"
	}
	return "📝"
}

func slackDate(t time.Time, fallback string) string {
	return string(appendSlackDate(nil, t, []byte(fallback)))
}

// appendSlackDate appends the <!date^…> token for t, which shows fallback
// where Slack cannot show the date.
func appendSlackDate(b []byte, t time.Time, fallback []byte) []byte {
	b = append(b, "<!date^"...)
	b = strconv.AppendInt(b, t.Unix(), 10)
	b = append(b, "^{date_short_pretty} {time_secs}|"...)
	b = append(b, fallback...)
	return append(b, '>')
}

func section(text string) *slackapi.SectionBlock {
	return slackapi.NewSectionBlock(mrkdwn(text), nil, nil)
}

// mrkdwn is a text object whose values were rendered by Value. verbatim:
// Slack does not turn bare URLs or names in them into links or mentions;
// the <!date^…> and mention tokens auditfwd writes itself still work.
func mrkdwn(text string) *slackapi.TextBlockObject {
	return slackapi.NewTextBlockObject(slackapi.MarkdownType, text, false, true)
}

// escClip renders s with Value and cuts the result to max units, marking
// the cut. A huge value is cut before it is rendered (rendering it whole
// would cost time for text that is not shown).
func escClip(s string, max int) string {
	cut := false
	if limit := 4*max + 16; len(s) > limit {
		n := 0
		for i := range s {
			if n == limit {
				s, cut = s[:i], true
				break
			}
			n++
		}
	}
	v := Value(s)
	if cut && units(v) < max {
		v += "…" // white space collapsed below the cap: still say it was cut
	}
	return clip(v, max)
}

// clip cuts an escaped text to at most max UTF-16 units, on a rune boundary
// and never inside an escape entity, ending it with "…" when cut.
func clip(s string, max int) string {
	if len(s) <= max || units(s) <= max {
		return s
	}
	n, cut := 0, len(s)
	for i, r := range s {
		w := 1
		if r >= 0x10000 {
			w = 2
		}
		if n+w > max-1 {
			cut = i
			break
		}
		n += w
	}
	t := s[:cut]
	if amp := strings.LastIndexByte(t, '&'); amp >= 0 && !strings.Contains(t[amp:], ";") {
		t = t[:amp]
	}
	return t + "…"
}

// units is the length of s in UTF-16 code units: a unit per rune (an
// invalid byte is one), and a second for each rune outside the Basic
// Multilingual Plane, which UTF-8 writes in four bytes, led by 0xF0–0xF4.
func units(s string) int {
	n := utf8.RuneCountInString(s)
	for i := 0; i < len(s); i++ {
		if s[i] >= 0xF0 {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 4 {
				n++
				i += 3
			}
		}
	}
	return n
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
