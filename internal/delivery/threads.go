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

// threadStep is the step for the leading records when they are threaded.
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
	if known {
		if j := appliedUpTo(&th, recs); j > 0 {
			s.log.Info("already delivered before a restart; not posting again", "channel", ch.name, "thread", key, "events", j)
			return step{n: j}
		}
	}
	id, err := s.resolve(recs[0].Target)
	if err != nil {
		return step{n: 1, err: err}
	}
	if !known || th.SlackChannel != id || !th.Joins(events[0].Time, now) {
		return s.startThread(ch, m, id, threads.New(ch.name, key, spec, &events[0], recs[0].Event, now), recs[0], sh)
	}
	return s.replyInThread(ch, m, th, recs, events, sh, now)
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

// startThread posts the parent of th, the thread rec's event starts.
func (s *Service) startThread(ch *channel, m Messenger, channelID string, th threads.Thread, rec spool.Record, sh shape) step {
	msg := slack.WithMentions(s.renderer().Parent(&th), rec.Mention)
	if sh.textOnly {
		msg = slack.TextOnly(msg)
	}
	p, err := slackCall(func(ctx context.Context) (slack.Posted, error) { return m.Post(ctx, channelID, msg) })
	if err != nil {
		return step{n: 1, err: err}
	}
	th.SlackChannel, th.TS = cmp.Or(p.Channel, channelID), p.TS
	th.Mark(rec.Pos, rec.Event)
	return step{n: 1, posted: true, commit: func() { s.record(ch, th) }}
}

// replyInThread edits the parent of th to show the leading events, then
// posts them as one reply in its thread.
func (s *Service) replyInThread(ch *channel, m Messenger, th threads.Thread, recs []spool.Record, events []event.Event, sh shape, now time.Time) step {
	if sh.single {
		events = events[:1]
	}
	msg, n := s.renderer().Pack(events, routing(recs, false))
	if sh.textOnly {
		msg = slack.TextOnly(msg)
	}
	next := th.Clone()
	for i := range events[:n] {
		next.Apply(&events[i], now)
	}
	next.Mark(recs[n-1].Pos, recs[n-1].Event)

	// The parent first, so that it says what the reply adds. Its failures
	// never hold the reply back, but a transient one is retried like a post.
	if next.NoEdit == "" {
		gone, refused, err := s.editParent(ch, m, &next)
		switch {
		case err != nil:
			return step{n: n, err: err}
		case gone:
			// Deleted at Slack: this event starts a new thread, which
			// carries a request's state over.
			s.log.Warn("the thread's parent is gone at Slack; starting a new thread", "channel", ch.name, "thread", th.Key)
			return s.startThread(ch, m, th.SlackChannel, th.Restart(&events[0], recs[0].Event, now), recs[0], sh)
		case refused != "":
			next.NoEdit = refused
		}
	}
	p, err := slackCall(func(ctx context.Context) (slack.Posted, error) { return m.Reply(ctx, th.SlackChannel, th.TS, msg) })
	if err != nil {
		return step{n: n, err: err}
	}
	if p.ThreadTS == "" {
		// Slack put the reply in the channel: the parent was deleted
		// without replies. The reply becomes the parent of a new thread.
		s.log.Warn("the thread's parent is gone at Slack; the reply starts a new thread", "channel", ch.name, "thread", th.Key)
		adopted := th.Restart(&events[0], recs[0].Event, now)
		for i := 1; i < n; i++ {
			adopted.Apply(&events[i], now)
		}
		adopted.SlackChannel, adopted.TS = cmp.Or(p.Channel, th.SlackChannel), p.TS
		adopted.Mark(recs[n-1].Pos, recs[n-1].Event)
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
	if err := s.threads.Put(th); err != nil {
		s.log.Error("cannot record the thread; if auditfwd stops before the next write, its next event starts a new thread",
			"channel", ch.name, "thread", th.Key, "err", err)
	}
}
