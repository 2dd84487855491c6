package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/logpos"
	"github.com/auditfwd/auditfwd/internal/metrics"
	"github.com/auditfwd/auditfwd/internal/rules"
	"github.com/auditfwd/auditfwd/internal/slack"
	"github.com/auditfwd/auditfwd/internal/spool"
	"github.com/auditfwd/auditfwd/internal/statedir"
	"github.com/auditfwd/auditfwd/internal/threads"
	"github.com/auditfwd/auditfwd/internal/token"
)

// ErrUnknownChannel is returned by SendTest for a name no rule has.
var ErrUnknownChannel = errors.New("unknown channel")

// Options configure a Service.
type Options struct {
	State   statedir.Dir
	Logger  *slog.Logger
	Metrics *metrics.Metrics
	Conn    *Connection
	// DigestMax bounds how many events one message carries (Slack's limits
	// bound it further).
	DigestMax int
	// MaxBackoff caps the wait between retries of a failing channel (30 s,
	// docs/guarantees.md).
	MaxBackoff time.Duration
	// ResolveRefresh is how often an unknown channel name may trigger
	// another conversations.list.
	ResolveRefresh time.Duration
	// Queues is where the channels' spools are: state_dir/spool when "".
	Queues statedir.Queues
	// Delivered, when set, reports events another instance already
	// delivered (the Postgres source after a takeover): they are
	// acknowledged without being posted.
	Delivered func(channel string, pos logpos.Position) bool
	// Acked, when set, is told the position of the last event of each
	// acknowledgement (delivered or dead-lettered), after the spool's.
	Acked func(channel string, pos logpos.Position)
	// Threads keeps the thread table durably; nil: the journal in
	// state_dir (threads.jsonl).
	Threads threads.Records
	// Renderer lays out messages (redaction, templates) until SetRenderer
	// replaces it; nil is the zero Renderer.
	Renderer *slack.Renderer
}

// Service owns the spools and their senders. It is the pipeline's Sink.
type Service struct {
	opts     Options
	log      *slog.Logger
	m        *metrics.Metrics
	conn     *Connection
	resolver *slack.Resolver
	dead     *DeadLetters
	threads  *threads.Table
	render   atomic.Pointer[slack.Renderer]

	mu       sync.Mutex
	channels map[string]*channel
	targets  []config.Target
	touched  map[*channel]bool // enqueued since the last Publish (tailer goroutine only)
	ctx      context.Context
	wg       sync.WaitGroup
}

type channel struct {
	name string
	q    *spool.Queue
	// lastEdit names the thread parent and state last sent with
	// chat.update, so that a step retried after its edit does not edit
	// again (the sender's goroutine only).
	lastEdit string

	mu     sync.Mutex
	status ChannelStatus
}

// New opens the dead-letter file; Start opens the spools and starts senders.
// Nothing else opens a spool: reads (Statuses, SendTest) only look.
func New(opts Options) (*Service, error) {
	if opts.DigestMax <= 0 {
		opts.DigestMax = 50
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.ResolveRefresh <= 0 {
		opts.ResolveRefresh = time.Minute
	}
	if opts.Queues == "" {
		opts.Queues = opts.State.Queues()
	}
	dead := OpenDeadLetters(opts.State.DeadLetters(), opts.Logger)
	if opts.Threads == nil {
		opts.Threads = threads.OpenJournal(opts.State.Threads(), opts.Logger)
	}
	s := &Service{
		opts: opts, log: opts.Logger, m: opts.Metrics, conn: opts.Conn, dead: dead,
		threads: threads.NewTable(context.Background(), threads.TableOptions{Records: opts.Threads, Logger: opts.Logger,
			Evicted: func(t threads.Thread) { opts.Metrics.ThreadsEvicted.WithLabelValues(t.Channel).Inc() }}, time.Now()),
		channels: map[string]*channel{},
		touched:  map[*channel]bool{},
	}
	if opts.Renderer == nil {
		opts.Renderer = &slack.Renderer{}
	}
	s.render.Store(opts.Renderer)
	s.resolver = slack.NewResolver(func(ctx context.Context) ([]slack.Channel, error) {
		client, ok := s.conn.current()
		if !ok {
			return nil, errors.New("not connected to Slack")
		}
		return client.ListChannels(ctx)
	}, opts.ResolveRefresh)
	// Channel IDs cached for an old token may belong to another workspace.
	opts.Conn.onTokenChange(s.resolver.Invalidate)
	return s, nil
}

// Start opens the spool of every channel that has one on disk or in targets
// and starts their senders; they stop when ctx is done.
func (s *Service) Start(ctx context.Context, targets []config.Target) error {
	s.mu.Lock()
	s.ctx = ctx
	s.mu.Unlock()
	existing, err := s.opts.Queues.List()
	if err != nil {
		return err
	}
	for _, name := range existing {
		if _, err := s.open(name); err != nil {
			return err
		}
	}
	if err := s.SetTargets(targets); err != nil {
		// A new channel's spool cannot be created (state_dir full or
		// read-only): it is opened when its first event arrives, and until
		// then the tailer holds back.
		s.log.Error("cannot open a channel's queue yet; retrying when events arrive", "err", err)
	}
	return nil
}

// SetTargets replaces the configured destinations (start-up and reload),
// opening the spools of new ones before any event is routed to them.
// Spools of channels no longer configured keep draining.
func (s *Service) SetTargets(targets []config.Target) error {
	var errs []error
	for _, t := range targets {
		ch, err := s.open(t.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ch.mu.Lock()
		ch.status.Target = t
		ch.mu.Unlock()
	}
	s.mu.Lock()
	s.targets = append([]config.Target(nil), targets...)
	s.mu.Unlock()
	return errors.Join(errs...)
}

// open returns the named channel, opening its spool and starting its sender
// the first time. Only Start and SetTargets call it.
func (s *Service) open(name string) (*channel, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch, ok := s.channels[name]; ok {
		return ch, nil
	}
	q, err := spool.Open(s.opts.Queues.Spool(name), s.log.With("channel", name))
	if err != nil {
		return nil, err
	}
	ch := &channel{name: name, q: q, status: ChannelStatus{Target: config.Target{Name: name}}}
	s.channels[name] = ch
	s.m.InitChannel(name)
	s.m.QueueEvents.WithLabelValues(name).Set(float64(q.Len()))
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.send(s.ctx, ch)
	}()
	return ch, nil
}

// channel returns the named channel if its spool is open.
func (s *Service) channel(name string) (*channel, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.channels[name]
	return ch, ok
}

// Enqueue implements pipeline.Sink. queued is false when the channel's
// spool already holds the event (its line was read again). Every channel
// the rules can name was opened by SetTargets before those rules took
// effect; one whose spool could not be created then (state_dir full) is
// opened here, and until that works the tailer holds back.
func (s *Service) Enqueue(d rules.Destination, line []byte, pos logpos.Position) (bool, error) {
	ch, ok := s.channel(d.Channel)
	if !ok {
		var err error
		if ch, err = s.open(d.Channel); err != nil {
			return false, err
		}
	}
	queued, err := ch.q.Append(spool.Record{Pos: pos, Target: d.SlackChannel, Alert: d.Alert, Mention: d.Mention, Thread: d.Thread, Template: d.Template, Event: line})
	if err != nil {
		return false, err
	}
	if queued {
		s.touched[ch] = true
	}
	return queued, nil
}

// Publish implements pipeline.Sink: what was enqueued since the last
// Publish goes to the senders, who may post it at once, before it is
// durable (Sync).
func (s *Service) Publish() {
	for ch := range s.touched {
		ch.q.Publish()
		s.m.QueueEvents.WithLabelValues(ch.name).Set(float64(ch.q.Len()))
		delete(s.touched, ch)
	}
}

// Sync implements pipeline.Sink: every published event is made durable
// (the tailer calls it off its read path, and checkpoints the log only
// after it). Every spool is synced, even after one failed.
func (s *Service) Sync() error {
	s.mu.Lock()
	queues := make([]*spool.Queue, 0, len(s.channels))
	for _, ch := range s.channels {
		queues = append(queues, ch.q)
	}
	s.mu.Unlock()
	var errs []error
	for _, q := range queues {
		if err := q.Sync(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Rollback implements pipeline.Sink: every event that is not durable is
// dropped (those enqueued since the last Publish, and after a failed Sync
// those published since the last good one); the tailer reads those lines
// again.
func (s *Service) Rollback() {
	clear(s.touched)
	s.mu.Lock()
	channels := make([]*channel, 0, len(s.channels))
	for _, ch := range s.channels {
		channels = append(channels, ch)
	}
	s.mu.Unlock()
	for _, ch := range channels {
		ch.q.Rollback()
		s.m.QueueEvents.WithLabelValues(ch.name).Set(float64(ch.q.Len()))
	}
}

// Queued is how many events wait in the named channel's spool.
func (s *Service) Queued(name string) int {
	if ch, ok := s.channel(name); ok {
		return ch.q.Len()
	}
	return 0
}

// HighWater is the last log position any spool holds: without a usable
// checkpoint the tailer numbers new lines after it.
func (s *Service) HighWater() logpos.Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	var hw logpos.Position
	for _, ch := range s.channels {
		if p := ch.q.HighWater(); hw.Less(p) {
			hw = p
		}
	}
	return hw
}

// Wait blocks until every sender stopped (after its in-flight request) or
// timeout passed. It reports whether all stopped.
func (s *Service) Wait(timeout time.Duration) bool {
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.mu.Lock()
		for _, ch := range s.channels {
			ch.q.Close()
		}
		s.mu.Unlock()
		s.threads.Close()
		return true
	case <-time.After(timeout):
		return false
	}
}

// Statuses describes every configured channel, in config order.
func (s *Service) Statuses() []ChannelStatus {
	s.mu.Lock()
	targets := append([]config.Target(nil), s.targets...)
	s.mu.Unlock()
	out := make([]ChannelStatus, 0, len(targets))
	for _, t := range targets {
		st := ChannelStatus{Target: t}
		if ch, ok := s.channel(t.Name); ok {
			ch.mu.Lock()
			st = ch.status
			ch.mu.Unlock()
			st.Target = t
			st.Queue = ch.q.Len()
		}
		st.DeadLetters = s.dead.Count(t.Name)
		if t.Threads != "" {
			st.OpenThreads = s.threads.Count(t.Name, time.Now())
		}
		out = append(out, st)
	}
	return out
}

// SendTest posts the test message to the configured channel name.
func (s *Service) SendTest(ctx context.Context, name string) error {
	var target *config.Target
	s.mu.Lock()
	for i := range s.targets {
		if s.targets[i].Name == name {
			t := s.targets[i]
			target = &t
		}
	}
	s.mu.Unlock()
	if target == nil {
		return fmt.Errorf("test %q: %w", name, ErrUnknownChannel)
	}
	client, ok := s.conn.current()
	if !ok {
		return errors.New("not connected to Slack: connect on the admin page first")
	}
	err := PostTestMessage(ctx, client, s.resolver, *target)
	if ch, ok := s.channel(name); ok {
		ch.record(err)
	}
	if err != nil {
		return fmt.Errorf("test message to %s: %w", target.SlackChannel, err)
	}
	return nil
}

// record keeps the result of the last post for the admin page.
func (ch *channel) record(err error) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.status.LastTime = time.Now()
	if err == nil {
		ch.status.LastResult, ch.status.LastHint = "ok", ""
		return
	}
	ch.status.LastResult, ch.status.LastHint = slack.Explain(err, ch.status.SlackChannel, token.EnvOverride())
}
