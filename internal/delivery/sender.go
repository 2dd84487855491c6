package delivery

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/slack"
	"github.com/auditfwd/auditfwd/internal/spool"
)

const digestBytes = 256 << 10

// send delivers one channel's spool in order until ctx is done. A request in
// flight is never cancelled: Slack may have accepted it.
func (s *Service) send(ctx context.Context, ch *channel) {
	attempt := 0
	single := false   // after a payload error, send one event per message
	textOnly := false // after a payload error on one event, drop the blocks
	for {
		if ctx.Err() != nil {
			return
		}
		if ch.q.Len() == 0 {
			select {
			case <-ctx.Done():
				return
			case <-ch.q.Ready():
			}
			continue
		}
		client, gen, ok, changed := s.conn.Current()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-changed:
			}
			continue
		}
		recs, err := ch.q.Peek(s.opts.DigestMax, digestBytes)
		if err != nil {
			s.log.Error("cannot read spool", "channel", ch.name, "err", err)
			if !s.sleep(ctx, s.backoff(attempt), nil) { // a disk problem: retry slowly
				return
			}
			attempt++
			continue
		}
		if len(recs) == 0 { // counted but not readable yet: wait for the next sync
			if !s.sleep(ctx, time.Second, ch.q.Ready()) {
				return
			}
			continue
		}
		recs = sameTarget(recs)
		events, bad := parseRecords(recs)
		if bad > 0 {
			// Only the records before the unreadable one go out now.
			if len(events) == 0 {
				s.deadLetter(ch, recs[:1], "unparseable_event")
				continue
			}
			recs = recs[:len(events)]
		}
		if single {
			events, recs = events[:1], recs[:1]
		}
		msg, n := slack.PackMentioned(events, recs[0].Alert, mentions(recs))
		if textOnly {
			msg = slack.TextOnly(msg)
		}

		err = s.post(client, recs[0].Target, msg)
		switch class, reason, retryAfter := slack.Classify(err); {
		case err == nil:
			if err := ch.q.Ack(n); err != nil {
				s.log.Error("cannot record delivery; it may repeat after a restart", "channel", ch.name, "err", err)
			}
			s.delivered(ch, events[:n])
			attempt, single, textOnly = 0, false, false
		case class == slack.Auth:
			s.failed(ch, reason, err)
			s.conn.Invalid(gen, reason)
		case class == slack.Permanent:
			s.failed(ch, reason, err)
			s.deadLetter(ch, recs[:n], reason)
			attempt, single, textOnly = 0, false, false
		case class == slack.Payload && n > 1:
			s.failed(ch, reason, err)
			single = true
		case class == slack.Payload && !textOnly:
			s.failed(ch, reason, err)
			textOnly = true
		case class == slack.Payload:
			s.failed(ch, reason, err)
			s.deadLetter(ch, recs[:n], reason)
			single, textOnly = false, false
		default: // Retry
			s.failed(ch, reason, err)
			wait := s.backoff(attempt)
			if reason == "ratelimited" && retryAfter == 0 {
				wait = max(wait, 10*time.Second) // no Retry-After: Slack wants a long pause
			}
			wait = max(wait, retryAfter)
			attempt++
			if !s.sleep(ctx, wait, nil) {
				return
			}
		}
	}
}

// post resolves the channel and posts with a context of its own: shutdown
// waits for it instead of cancelling it.
func (s *Service) post(client *slack.Client, target string, msg slack.Message) error {
	ctx, cancel := context.WithTimeout(context.Background(), slack.DefaultTimeout)
	defer cancel()
	id, err := s.resolver.Resolve(ctx, target)
	if err != nil {
		return err
	}
	return client.Post(ctx, id, msg)
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
	s.record(ch.name, nil)
	s.log.Debug("delivered to Slack", "channel", ch.name, "events", len(events), "first_action", events[0].Action)
}

func (s *Service) failed(ch *channel, reason string, err error) {
	s.m.DeliveryFailures.WithLabelValues(ch.name, reason).Inc()
	s.record(ch.name, err)
	s.log.Warn("Slack delivery failed", "channel", ch.name, "reason", reason, "err", err)
}

func (s *Service) deadLetter(ch *channel, recs []spool.Record, reason string) {
	hint := slack.Hint(reason, recs[0].Target)
	entries := make([]DeadLetter, len(recs))
	for i, r := range recs {
		entries[i] = DeadLetter{
			Time: time.Now().UTC(), Channel: ch.name, SlackChannel: r.Target,
			Reason: reason, Hint: hint, Alert: r.Alert, Mention: r.Mention, Event: r.Event,
		}
	}
	if err := s.dead.Append(entries...); err != nil {
		// Not acknowledged: the events stay queued rather than vanish.
		s.log.Error("cannot write dead letters; keeping the events queued", "channel", ch.name, "err", err)
		return
	}
	if err := ch.q.Ack(len(recs)); err != nil {
		s.log.Error("cannot record dead letters in the spool", "channel", ch.name, "err", err)
	}
	s.m.DeadLettered.WithLabelValues(ch.name, reason).Add(float64(len(recs)))
	s.m.QueueEvents.WithLabelValues(ch.name).Set(float64(ch.q.Len()))
	s.log.Error("Slack rejected events for good; written to dead-letter.jsonl",
		"channel", ch.name, "slack_channel", recs[0].Target, "reason", reason, "events", len(recs),
		"fix", hint+"; then run `auditfwd redeliver`")
}

// backoff is capped exponential with jitter: 1s, 2s, 4s … MaxBackoff, each
// between half and all of that.
func (s *Service) backoff(attempt int) time.Duration {
	d := time.Second << min(attempt, 10)
	d = min(d, s.opts.MaxBackoff)
	return d/2 + rand.N(d/2+1)
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
	for k < len(recs) && recs[k].Target == recs[0].Target && recs[k].Alert == recs[0].Alert {
		k++
	}
	return recs[:k]
}

// parseRecords decodes the leading records up to the first unreadable one.
func parseRecords(recs []spool.Record) ([]event.Event, int) {
	events := make([]event.Event, 0, len(recs))
	for _, r := range recs {
		ev, err := event.Parse(r.Event)
		if err != nil {
			return events, len(recs) - len(events)
		}
		events = append(events, ev)
	}
	return events, 0
}
