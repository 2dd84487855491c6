package delivery

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/slack"
	"github.com/auditfwd/auditfwd/internal/spool"
	"github.com/auditfwd/auditfwd/internal/threads"
)

// Threads (docs/threads.md). A threaded record is a parent when its thread
// is unknown, past its window or gone at Slack; otherwise it is a reply, and
// the leading records of the same thread go out as one reply (a digest in a
// backlog), after one edit of the parent. The order of writes keeps the
// delivery guarantees: Slack takes the message, then the thread is recorded
// (fsynced), then the spool's cursor moves. A crash before the record
// repeats the message in flight; a crash after it is recognised by the
// record's position, so a recorded parent is never posted twice.

// threadStep is the step for the leading records when they are threaded:
// threads.Decide says, event by event, what each does to its thread; this
// carries it out.
func (s *Service) threadStep(ch *channel, m Messenger, recs []spool.Record, events []event.Event, sh shape) step {
	spec, err := threads.ParseSpec(recs[0].Thread)
	if err != nil {
		s.log.Warn("unreadable thread spec in the spool; posting without a thread", "channel", ch.name, "err", err)
		return s.plainStep(m, recs, events, sh)
	}
	key := spec.Key(&events[0])
	k := 1
	for k < len(events) && spec.Key(&events[k]) == key {
		k++
	}
	recs, events = recs[:k], events[:k]
	if key == "" { // no value to thread by: on its own, as without threads
		return s.plainStep(m, recs, events, sh)
	}
	now := time.Now()
	th, known := s.threads.Get(ch.name, key, now)
	var cur *threads.Thread
	if known {
		if j := appliedUpTo(&th, recs); j > 0 {
			s.log.Info("already delivered before a restart; not posting again", "channel", ch.name, "thread", key, "events", j)
			return step{n: j}
		}
		cur = &th
	}
	id, err := s.resolve(recs[0].Target)
	if err != nil {
		return step{n: 1, err: err}
	}
	in := func(i int) threads.Input {
		return threads.Input{Channel: ch.name, Spec: spec, Key: key, SlackChannel: id, Event: &events[i],
			Line: recs[i].Event, Pos: recs[i].Pos, Mention: recs[i].Mention, Now: now}
	}
	d := threads.Decide(cur, in(0))
	if d.Action == threads.Start {
		return s.startThread(ch, m, d, recs[0], sh)
	}
	// The leading events that reply in this thread share one reply.
	ds := []threads.Decision{d}
	for i := 1; i < len(events); i++ {
		di := threads.Decide(&ds[i-1].Thread, in(i))
		if di.Action != threads.Reply {
			break
		}
		ds = append(ds, di)
	}
	return s.replyInThread(ch, m, th, recs[:len(ds)], events[:len(ds)], ds, in, sh)
}

// appliedUpTo is how many of the leading records t already holds: the
// batch that was recorded just before a crash, before the spool knew.
func appliedUpTo(t *threads.Thread, recs []spool.Record) int {
	for j, r := range recs {
		if t.LastPos.Less(r.Pos) {
			return 0
		}
		if t.Applied(r.Pos, r.Event) {
			return j + 1
		}
	}
	return 0
}

// startThread posts the parent of the new thread d starts with rec.
func (s *Service) startThread(ch *channel, m Messenger, d threads.Decision, rec spool.Record, sh shape) step {
	msg := s.renderer().ThreadStart(d)
	if sh.textOnly {
		msg = slack.TextOnly(msg)
	}
	th := d.Thread
	p, err := slackCall(func(ctx context.Context) (slack.Posted, error) { return m.Post(ctx, th.SlackChannel, msg) })
	pings := [][]string{d.Ping}
	if err != nil {
		return step{n: 1, err: err, pings: pings}
	}
	th.SlackChannel, th.TS = cmp.Or(p.Channel, th.SlackChannel), p.TS
	return step{n: 1, posted: true, commit: func() { s.record(ch, th) }, pings: pings}
}

// replyInThread carries out the reply decisions ds of the leading events:
// it edits the parent of th (when a decision says so) to show what the
// reply adds, then posts the events that fit one message as one reply.
// in(i) is what Decide was given for events[i].
func (s *Service) replyInThread(ch *channel, m Messenger, th threads.Thread, recs []spool.Record, events []event.Event, ds []threads.Decision, in func(int) threads.Input, sh shape) step {
	if sh.single {
		events = events[:1]
	}
	msg, n := s.renderer().ThreadReply(events, routing(recs, false).Templates, ds)
	if sh.textOnly {
		msg = slack.TextOnly(msg)
	}
	next := ds[n-1].Thread
	// gone decides again, from the first event, for a parent that is gone.
	gone := func() threads.Decision {
		g := in(0)
		g.ParentGone = true
		return threads.Decide(&th, g)
	}
	edit := false
	for _, d := range ds[:n] {
		edit = edit || d.Edit
	}

	// The parent first, so that it says what the reply adds. Its failures
	// never hold the reply back, but a transient one is retried like a post.
	if edit && next.NoEdit == "" {
		isGone, refused, err := s.editParent(ch, m, &next)
		switch {
		case err != nil:
			return step{n: n, err: err, pings: [][]string{}}
		case isGone:
			// Deleted at Slack: this event starts a new thread, which
			// carries a request's state over.
			s.log.Warn("the thread's parent is gone at Slack; starting a new thread", "channel", ch.name, "thread", th.Key)
			return s.startThread(ch, m, gone(), recs[0], sh)
		case refused != "":
			next.NoEdit = refused
		}
	}
	p, err := slackCall(func(ctx context.Context) (slack.Posted, error) { return m.Reply(ctx, th.SlackChannel, th.TS, msg) })
	if err != nil {
		return step{n: n, err: err, pings: [][]string{}} // replies ping nobody
	}
	if p.ThreadTS == "" {
		// Slack put the reply in the channel: the parent was deleted
		// without replies. The reply becomes the parent of a new thread.
		s.log.Warn("the thread's parent is gone at Slack; the reply starts a new thread", "channel", ch.name, "thread", th.Key)
		adopted := gone().Thread
		for i := 1; i < n; i++ {
			adopted = threads.Decide(&adopted, in(i)).Thread
		}
		adopted.SlackChannel, adopted.TS = cmp.Or(p.Channel, th.SlackChannel), p.TS
		if _, refused, err := s.editParent(ch, m, &adopted); err != nil || refused != "" {
			s.log.Warn("cannot turn the reply into the new thread's parent; it stays as posted", "channel", ch.name, "thread", th.Key, "err", err, "reason", refused)
		}
		next = adopted
	}
	return step{n: n, posted: true, commit: func() { s.record(ch, next) }}
}

// editParent makes th's parent show th with chat.update. gone: the parent
// no longer exists. refused: Slack will never let this app edit it
// (cant_update_message, edit_window_closed). err: a transient or token
// failure, to retry as a post is. Any other failure skips this edit: the
// reply goes out anyway.
func (s *Service) editParent(ch *channel, m Messenger, th *threads.Thread) (gone bool, refused string, err error) {
	msg := s.renderer().Parent(th)
	shown := fmt.Sprintf("%s/%s %d:%d %d", th.SlackChannel, th.TS, th.LastPos.Gen, th.LastPos.Offset, th.Count)
	if ch.lastEdit == shown {
		return false, "", nil // a retried step: the parent already shows this state
	}
	update := func(msg slack.Message) error {
		_, err := slackCall(func(ctx context.Context) (slack.Posted, error) { return m.Update(ctx, th.SlackChannel, th.TS, msg) })
		return err
	}
	err = update(msg)
	class, reason, _ := slack.Classify(err)
	if err != nil && class == slack.Payload {
		s.editFailed(ch, th, reason, err)
		err = update(slack.TextOnly(msg))
		class, reason, _ = slack.Classify(err)
	}
	switch {
	case err == nil:
		ch.lastEdit = shown
		s.m.MessageUpdates.WithLabelValues(ch.name).Inc()
		return false, "", nil
	case class == slack.Retry || class == slack.Auth:
		return false, "", err
	}
	s.editFailed(ch, th, reason, err)
	switch reason {
	case "message_not_found":
		return true, "", nil
	case "cant_update_message", "edit_window_closed":
		return false, reason, nil
	}
	return false, "", nil
}

func (s *Service) editFailed(ch *channel, th *threads.Thread, reason string, err error) {
	s.m.DeliveryFailures.WithLabelValues(ch.name, reason).Inc()
	s.log.Warn("cannot edit the thread's parent; the reply goes out anyway", "channel", ch.name, "thread", th.Key, "reason", reason, "err", err)
}

// record keeps th, durably, before the spool is acknowledged.
func (s *Service) record(ch *channel, th threads.Thread) {
	if err := s.threads.Put(context.Background(), th); err != nil {
		s.log.Error("cannot record the thread; if auditfwd stops before the next write, its next event starts a new thread",
			"channel", ch.name, "thread", th.Key, "err", err)
	}
}
