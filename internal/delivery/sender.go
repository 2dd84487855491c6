package delivery

import (
	"context"
	"errors"
	"time"

	"github.com/auditfwd/auditfwd/internal/backoff"
	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/slack"
	"github.com/auditfwd/auditfwd/internal/spool"
	"github.com/auditfwd/auditfwd/internal/statedir"
	"github.com/auditfwd/auditfwd/internal/token"
)

const digestBytes = 256 << 10

// send delivers one channel's spool in order until ctx is done, doing what
// decide says after each post. A request in flight is never cancelled:
// Slack may have accepted it.
func (s *Service) send(ctx context.Context, ch *channel) {
	attempt := 0
	stuck := 0 // dead letters that could not be written in a row (state_dir full)
	var sh shape
	var h held
	for {
		if ctx.Err() != nil {
			return
		}
		if ch.q.Len() == 0 {
			h = held{}
			select {
			case <-ctx.Done():
				return
			case <-ch.q.Ready():
			}
			continue
		}
		sess := s.conn.session()
		if !sess.Usable {
			select {
			case <-ctx.Done():
				return
			case <-sess.Changed:
			}
			continue
		}
		if err := h.fill(ch.q, s.opts.DigestMax); err != nil {
			s.log.Error("cannot read spool", "channel", ch.name, "err", err)
			if !s.sleep(ctx, s.backoff(attempt), nil) { // a disk problem: retry slowly
				return
			}
			attempt++
			continue
		}
		if len(h.recs) == 0 {
			// A segment's marker or end at the head: move past it.
			if moved, err := ch.q.Trim(); err != nil {
				s.log.Error("cannot move the spool's cursor", "channel", ch.name, "err", err)
			} else if moved {
				continue
			}
			// Counted but not readable yet: wait for the next sync.
			if !s.sleep(ctx, time.Second, ch.q.Ready()) {
				return
			}
			continue
		}
		recs := h.recs
		if j := s.deliveredBefore(ch.name, recs); j > 0 {
			// Another instance delivered these (the Postgres source after a
			// takeover): acknowledged without posting.
			s.ack(ch, &h, j)
			s.m.QueueEvents.WithLabelValues(ch.name).Set(float64(ch.q.Len()))
			continue
		}
		recs = sameTarget(recs)
		events := h.parse(len(recs))
		if len(events) < len(recs) {
			// Only the records before the unreadable one go out now.
			if len(events) == 0 {
				if !s.deadLetterOrWait(ctx, ch, &h, recs[:1], "unparseable_event", &stuck) && ctx.Err() != nil {
					return
				}
				continue
			}
			recs = recs[:len(events)]
		}
		var st step
		m := counted{Messenger: sess.Slack, m: s.m}
		if recs[0].Thread != "" {
			st = s.threadStep(ch, m, recs, events, sh)
		} else {
			st = s.plainStep(m, recs, events, sh)
		}
		n := st.n
		o := outcomeOf(st.err)
		d := decide(o, attempt, n, sh, s.opts.MaxBackoff)
		attempt, sh = d.attempt, d.next
		if !o.ok {
			s.failed(ch, o.reason, st.err)
		}
		switch d.act {
		case ack:
			if st.commit != nil {
				st.commit() // durable before the spool's cursor moves
			}
			delivered := events[:n] // the events stay readable after the ack
			s.ack(ch, &h, n)
			if st.posted {
				s.delivered(ch, delivered)
			} else {
				s.m.QueueEvents.WithLabelValues(ch.name).Set(float64(ch.q.Len()))
			}
		case hold:
			s.conn.Invalid(sess.Gen, o.reason)
		case deadLetter:
			if !s.deadLetterOrWait(ctx, ch, &h, st.asSent(recs[:n]), o.reason, &stuck) && ctx.Err() != nil {
				return
			}
		case retry:
			if !s.sleep(ctx, max(backoff.Jitter(d.backoff), d.atLeast), nil) {
				return
			}
		case resend:
		}
	}
}

// held is the head of a channel's spool as its sender holds it: the
// records peeked and not acknowledged yet, and the events parsed from them.
// What one message could not take waits here for the next, so that each
// record is read and parsed once.
type held struct {
	recs   []spool.Record
	events []event.Event // events[i] is recs[i] parsed; fewer when recs[len(events)] cannot be parsed
	bad    bool          // recs[len(events)] cannot be parsed
}

// fill tops the held records up to max from the spool, when more are
// waiting.
func (h *held) fill(q *spool.Queue, max int) error {
	if len(h.recs) >= max || q.Len() <= len(h.recs) {
		return nil
	}
	if len(h.recs) == 0 {
		recs, err := q.Peek(max, digestBytes)
		*h = held{recs: recs}
		return err
	}
	size := 0
	for _, r := range h.recs {
		size += len(r.Event)
	}
	if size >= digestBytes {
		return nil
	}
	more, err := q.PeekMore(max-len(h.recs), digestBytes-size)
	h.recs = append(h.recs, more...)
	return err
}

// parse returns the events of the first n records, up to the first that
// cannot be parsed, parsing only those not parsed before.
func (h *held) parse(n int) []event.Event {
	for len(h.events) < n && !h.bad {
		r := h.recs[len(h.events)]
		ev, ok := r.Parsed() // parsed as the spool read it
		if !ok {
			var err error
			if ev, err = event.Parse(r.Event); err != nil {
				h.bad = true
				break
			}
		}
		h.events = append(h.events, ev)
	}
	return h.events[:min(n, len(h.events))]
}

// drop forgets the first n records, acknowledged.
func (h *held) drop(n int) {
	if n >= len(h.recs) {
		*h = held{}
		return
	}
	h.recs = h.recs[n:]
	if n > len(h.events) {
		h.events, h.bad = nil, false
	} else {
		h.events = h.events[n:]
	}
}

// deadLetterOrWait writes recs as dead letters, or, when that fails (they
// stay queued), waits with backoff before the sender tries again, so that a
// full state_dir does not make it re-post at once. stuck counts the failures
// in a row.
func (s *Service) deadLetterOrWait(ctx context.Context, ch *channel, h *held, recs []spool.Record, reason string, stuck *int) bool {
	if s.deadLetter(ch, h, recs, reason) {
		*stuck = 0
		return true
	}
	wait := backoff.Jitter(backoffCeiling(*stuck, s.opts.MaxBackoff))
	*stuck++
	s.sleep(ctx, wait, nil)
	return false
}

// step is what one message did for a sender: how many of the leading
// records it covers, Slack's answer, and what to record once Slack took it.
type step struct {
	n      int
	err    error
	posted bool   // a message was posted (false: the records had been delivered before a crash)
	commit func() // run after Slack took the message, before the spool is acknowledged
	// pings, when set, is whom the message's records ping instead of
	// their routed mentions (a thread's replies ping nobody), so that a
	// dead letter is redelivered pinging as the message would have.
	pings [][]string
}

// asSent is recs as the step's message sent them.
func (st step) asSent(recs []spool.Record) []spool.Record {
	if st.pings == nil {
		return recs
	}
	out := make([]spool.Record, len(recs))
	for i, r := range recs {
		r.Mention = nil
		if i < len(st.pings) {
			r.Mention = st.pings[i]
		}
		out[i] = r
	}
	return out
}

// plainStep posts the leading events as one message (a digest when there
// are several), in the shape sh.
func (s *Service) plainStep(m Messenger, recs []spool.Record, events []event.Event, sh shape) step {
	if sh.single {
		events = events[:1]
	}
	msg, n := s.renderer().Pack(events, routing(recs, recs[0].Alert))
	if sh.textOnly {
		msg = slack.TextOnly(msg)
	}
	id, err := s.resolve(recs[0].Target)
	if err == nil {
		_, err = slackCall(func(ctx context.Context) (slack.Posted, error) { return m.Post(ctx, id, msg) })
	}
	return step{n: n, err: err, posted: true}
}

// resolve finds a configured Slack channel's ID.
func (s *Service) resolve(target string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), slack.DefaultTimeout)
	defer cancel()
	return s.resolver.Resolve(ctx, target)
}

// slackCall makes one Slack request with a context of its own: shutdown
// waits for it instead of cancelling it (Slack may have accepted it).
func slackCall(f func(ctx context.Context) (slack.Posted, error)) (slack.Posted, error) {
	ctx, cancel := context.WithTimeout(context.Background(), slack.DefaultTimeout)
	defer cancel()
	return f(ctx)
}

func (s *Service) delivered(ch *channel, events []event.Event) {
	now := time.Now()
	s.m.EventsDelivered.WithLabelValues(ch.name).Add(float64(len(events)))
	s.m.SlackMessages.WithLabelValues(ch.name).Inc()
	lag := s.m.DeliveryLag.WithLabelValues(ch.name)
	for i := range events {
		if !events[i].Time.IsZero() {
			lag.Observe(max(0, now.Sub(events[i].Time).Seconds()))
		}
	}
	s.m.QueueEvents.WithLabelValues(ch.name).Set(float64(ch.q.Len()))
	ch.record(nil)
	s.log.Debug("delivered to Slack", "channel", ch.name, "events", len(events), "first_action", events[0].Action)
}

func (s *Service) failed(ch *channel, reason string, err error) {
	s.m.DeliveryFailures.WithLabelValues(ch.name, reason).Inc()
	ch.record(err)
	s.log.Warn("Slack delivery failed", "channel", ch.name, "reason", reason, "err", err)
}

// deadLetter writes recs to the dead-letter file and acknowledges them. It
// reports false when they could not be written and stay queued.
func (s *Service) deadLetter(ch *channel, h *held, recs []spool.Record, reason string) bool {
	hint := slack.Hint(reason, recs[0].Target, token.EnvOverride())
	entries := make([]DeadLetter, len(recs))
	for i, r := range recs {
		entries[i] = DeadLetter{
			Time: time.Now().UTC(), Channel: ch.name, SlackChannel: r.Target,
			Reason: reason, Hint: hint, Alert: r.Alert, Mention: r.Mention, Template: r.Template, Event: r.Event,
		}
	}
	if err := s.dead.Append(entries...); err != nil {
		// Not acknowledged: the events stay queued rather than vanish.
		s.log.Error("cannot write dead letters; keeping the events queued", "channel", ch.name, "err", err)
		return false
	}
	s.ack(ch, h, len(recs))
	s.m.DeadLettered.WithLabelValues(ch.name, reason).Add(float64(len(recs)))
	s.m.QueueEvents.WithLabelValues(ch.name).Set(float64(ch.q.Len()))
	s.log.Error("Slack rejected events for good; written to "+statedir.DeadLetterFile,
		"channel", ch.name, "slack_channel", recs[0].Target, "reason", reason, "events", len(recs),
		"fix", hint+"; then run `auditfwd redeliver`")
	return true
}

// ack removes the first n held records, the head of ch's spool, after
// Slack accepted them (or they were dead-lettered or delivered before) and
// tells Options.Acked.
func (s *Service) ack(ch *channel, h *held, n int) {
	last := h.recs[n-1].Pos
	err := ch.q.Ack(n)
	switch {
	case errors.Is(err, spool.ErrRolledBack):
		// A failed sync cut them: they are queued again and read afresh.
		*h = held{}
	case err != nil:
		s.log.Error("cannot record delivery; it may repeat after a restart", "channel", ch.name, "err", err)
		*h = held{}
	default:
		h.drop(n)
	}
	if s.opts.Acked != nil {
		s.opts.Acked(ch.name, last)
	}
}

// deliveredBefore is how many of the leading records Options.Delivered
// says were delivered already.
func (s *Service) deliveredBefore(channel string, recs []spool.Record) int {
	if s.opts.Delivered == nil {
		return 0
	}
	n := 0
	for n < len(recs) && s.opts.Delivered(channel, recs[n].Pos) {
		n++
	}
	return n
}

// backoff is capped exponential with jitter: 1s, 2s, 4s … MaxBackoff, each
// between half and all of that.
func (s *Service) backoff(attempt int) time.Duration {
	return backoff.Jitter(backoffCeiling(attempt, s.opts.MaxBackoff))
}

// sleep waits d (or until wake), returning false when ctx ended first.
func (s *Service) sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-wake:
	}
	return true
}

// sameTarget keeps the leading records that can share one message.
func sameTarget(recs []spool.Record) []spool.Record {
	k := 1
	for k < len(recs) && recs[k].Target == recs[0].Target && recs[k].Alert == recs[0].Alert && recs[k].Thread == recs[0].Thread {
		k++
	}
	return recs[:k]
}
