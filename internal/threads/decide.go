package threads

import (
	"time"

	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/logpos"
)

// Action is what an event does to its thread.
type Action int

const (
	// Start: the event is the parent of a new thread (post it).
	Start Action = iota + 1
	// Reply: the event is a reply in a known thread (edit the parent first
	// when Decision.Edit, then post the reply).
	Reply
)

// Input is one threaded event as Decide sees it.
type Input struct {
	Channel      string // the config channel (queue) the event is delivered by
	Spec         Spec
	Key          string // Spec.Key of the event, never ""
	SlackChannel string // the Slack channel (ID) the event goes to
	Event        *event.Event
	Line         []byte          // the event as read: a parent keeps it
	Pos          logpos.Position // the spool record's position (zero in the dry run)
	Mention      []string        // whom the rule pings (routing decided it)
	Now          time.Time
	// ParentGone: Slack said the known thread's parent no longer exists
	// (message_not_found, or a reply it put in the channel).
	ParentGone bool
}

// Decision is what one event does to its thread: the message to send, and
// the thread as it is once Slack took it (what the parent shows and what
// the table records). Decide is the only place that makes it; the senders
// and the dry run both carry it out, so they cannot disagree.
type Decision struct {
	Action Action
	Thread Thread   // the thread after the event (Start: SlackChannel set, TS left to the poster)
	Ping   []string // mention entries the message carries: a new thread's parent only
	Edit   bool     // Reply: edit the parent to show Thread before the reply
	// NotApplied says why the event leaves its request as it was (a reply
	// says so and the parent is not edited; a parent says so under its
	// state); "" when it applied.
	NotApplied string
}

// Decide says what the event in does to its thread, given cur, the thread
// table's entry for in.Key (nil when there is none). It is a pure function
// of its arguments; cur is not changed.
func Decide(cur *Thread, in Input) Decision {
	ev := in.Event
	var d Decision
	switch {
	case cur == nil || cur.Expired(in.Now):
		d = Decision{Action: Start, Thread: New(in.Channel, in.Key, in.Spec, ev, in.Line, in.Now), Ping: in.Mention}
	case in.ParentGone:
		// The thread goes on under a new parent; a request's state carries
		// over, and whom the first parent pinged is not pinged again.
		d = Decision{Action: Start, Thread: cur.restart(ev, in.Line, in.Now)}
	case cur.SlackChannel != in.SlackChannel:
		// The rule now posts elsewhere: a new thread there, a request's
		// state carried over; its readers have not been pinged.
		d = Decision{Action: Start, Thread: cur.restart(ev, in.Line, in.Now), Ping: in.Mention}
	case !cur.Joins(ev.Time, in.Now):
		// Past the window: a new thread.
		d = Decision{Action: Start, Thread: New(in.Channel, in.Key, in.Spec, ev, in.Line, in.Now), Ping: in.Mention}
	default:
		next := cur.Clone()
		why := next.apply(ev, in.Now)
		// Replies and edits never ping: the parent did (docs/messages.md).
		d = Decision{Action: Reply, Thread: next, Edit: why == "" && next.NoEdit == "", NotApplied: why}
	}
	if d.Action == Start {
		d.Thread.SlackChannel, d.Thread.TS = in.SlackChannel, ""
		d.NotApplied = d.Thread.FirstNotApplied
	}
	d.Thread.Mark(in.Pos, in.Line)
	return d
}
