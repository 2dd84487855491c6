package slack

import (
	"fmt"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/threads"
)

// maxUpdateText is the fallback text's limit in a parent: chat.update
// refuses more than 4,000 characters (msg_too_long); keep a margin.
const maxUpdateText = 3900

// parent is the parent message of a thread as it must now read
// (docs/threads.md): for a deploy approval request its current state and
// who set it, and what it asks for; for thread_by how many events the
// thread holds and the latest one's action, status and time. Then the
// thread's first event, as it was first shown, and a line counting the
// thread. It is posted for a new thread and sent again with chat.update
// as replies arrive. Renderer.Parent redacts t's values before, and
// parses t.First into first (nil when it cannot be parsed).
func parent(t *threads.Thread, first *event.Event, x *render) Message {
	var head, text strings.Builder
	if t.Request != nil {
		approvalHead(t.Request, &head, &text)
	} else {
		field, value, _ := strings.Cut(t.Key, "=")
		noun := "events"
		if t.Count == 1 {
			noun = "event"
		}
		h := fmt.Sprintf("🧵 %d %s with %s %s", t.Count, noun, escClip(field, capKey), escClip(value, capValue/4))
		head.WriteString("*" + h + "*")
		text.WriteString(h)
		l := t.Latest
		latest := escClip(l.Action, capAction)
		if l.Status != "" {
			latest += " (" + escClip(l.Status, capStatus) + ")"
		}
		rfc, date := showTime(l.Time, l.TimeRaw)
		head.WriteString("\n*Latest:* " + latest)
		text.WriteString("\nLatest: " + latest)
		if rfc != "" {
			head.WriteString(" at " + date)
			text.WriteString(" at " + rfc)
		}
	}

	blocks := []slackapi.Block{section(head.String())}
	budgetBlocks, budgetText := maxBlocks-2, maxBlocksText-units(head.String())-200
	if first != nil {
		p := x.notedParts(first, nil, t.FirstNotApplied)
		k := p.fit(budgetBlocks, budgetText)
		blocks = append(blocks, p.blocks(k)...)
		text.WriteString("\n\n" + p.text)
	}
	summary := threadSummary(t)
	blocks = append(blocks, slackapi.NewContextBlock("", mrkdwn(summary)))
	return Message{Text: clip(text.String(), maxUpdateText), Blocks: blocks}
}

// approvalHead writes a request's heading: its state first, then what it
// asks for.
func approvalHead(r *threads.Request, head, text *strings.Builder) {
	id := escClip(r.ID, capResource)
	state, stateText := requestState(r)
	head.WriteString("*🚀 Deploy approval request " + id + "*\n" + state)
	text.WriteString("🚀 Deploy approval request " + id + ": " + stateText)
	line := func(label, v string) {
		if v == "" {
			return
		}
		v = escClip(v, capResource)
		head.WriteString("\n*" + label + ":* " + v)
		text.WriteString("\n" + label + ": " + v)
	}
	line("Requested by", r.Requester)
	line("App", r.App)
	line("Rack", r.Rack)
	line("Branch", r.Branch)
	line("Commit", r.Commit)
	line("Message", r.Message)
	line("Notes", r.Notes)
}

// requestState is the state line, in mrkdwn and as plain text.
func requestState(r *threads.Request) (string, string) {
	rfc, date := showTime(r.At, r.AtRaw)
	at := func(mrkdwn bool) string {
		switch {
		case rfc == "":
			return ""
		case mrkdwn:
			return " at " + date
		}
		return " at " + rfc
	}
	by := escClip(r.By, capUser)
	var md, txt string
	switch r.State {
	case threads.Pending:
		md, txt = "⏳ *Pending* approval", "pending approval"
	case threads.Approved, threads.Rejected:
		md, txt = "✅ *Approved*", "approved"
		if r.State == threads.Rejected {
			md, txt = "⛔ *Rejected*", "rejected"
		}
		if by != "" {
			md += " by " + by
			txt += " by " + by
		}
		md += at(true)
		txt += at(false)
	case threads.Expired:
		md, txt = "⌛ *Expired*"+at(true), "expired"+at(false)
		if by != "" {
			md += " (approved by " + by + ")"
			txt += " (approved by " + by + ")"
		}
	default:
		md, txt = "❔ State unknown (no event of this request has applied yet)", "state unknown (no event of this request has applied yet)"
	}
	// An expired request's end is the time it expired at, said above.
	if r.Until != "" && r.State != threads.Rejected && r.State != threads.Expired {
		urfc, udate := untilTime(r.Until)
		verb := "until"
		if r.Extended {
			verb = "extended until"
		}
		md += ", " + verb + " " + udate
		txt += ", " + verb + " " + urfc
		if r.Extended && r.ExtendBy != "" {
			md += " by " + escClip(r.ExtendBy, capUser)
			txt += " by " + escClip(r.ExtendBy, capUser)
		}
	} else if r.Extended {
		ext := " (extended"
		if r.ExtendBy != "" {
			ext += " by " + escClip(r.ExtendBy, capUser)
		}
		md += ext + ")"
		txt += ext + ")"
	}
	return md, txt
}

// threadSummary is the parent's last line: the count and the latest event.
func threadSummary(t *threads.Thread) string {
	noun := "events"
	if t.Count == 1 {
		noun = "event"
	}
	s := fmt.Sprintf("🧵 %d %s in this thread · latest: %s", t.Count, noun, escClip(t.Latest.Action, capAction))
	if t.Latest.Actor != "" {
		s += " by " + escClip(t.Latest.Actor, capUser)
	}
	if _, date := showTime(t.Latest.Time, t.Latest.TimeRaw); date != "" {
		s += " · " + date
	}
	return s
}

// showTime renders a time as RFC 3339 text and as a Slack date; a time that
// did not parse is shown as written.
func showTime(t time.Time, raw string) (rfc, date string) {
	if !t.IsZero() {
		rfc = t.UTC().Format(time.RFC3339)
		return rfc, slackDate(t, rfc)
	}
	v := escClip(raw, capTime)
	return v, v
}

func untilTime(s string) (rfc, date string) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return showTime(t.UTC(), s)
	}
	return showTime(time.Time{}, s)
}
