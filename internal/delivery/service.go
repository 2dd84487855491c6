package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/auditfwd/auditfwd/internal/metrics"
	"github.com/auditfwd/auditfwd/internal/rules"
	"github.com/auditfwd/auditfwd/internal/slack"
	"github.com/auditfwd/auditfwd/internal/spool"
	"github.com/auditfwd/auditfwd/internal/tailer"
)

// ErrUnknownChannel is returned by SendTest for a name no rule has.
var ErrUnknownChannel = errors.New("unknown channel")

// Target is one configured destination, for the Test button and status.
type Target struct {
	Name         string
	SlackChannel string
	Patterns     []string
	Alert        bool
	Where        []string // conditions as written: "status: [failed, denied]"
	Mention      []string // S…, U…/W…, here, channel
}

// Status is what the admin page shows for one channel.
type Status struct {
	Target
	LastResult  string // "ok" or the failure reason
	LastTime    time.Time
	LastHint    string
	Queue       int
	DeadLetters int
}

// Options configure a Service.
type Options struct {
	StateDir string
	Logger   *slog.Logger
	Metrics  *metrics.Metrics
	Conn     *Connection
	// DigestMax bounds how many events one message carries (Slack's limits
	// bound it further).
	DigestMax int
	// MaxBackoff caps the wait between retries of a failing channel (SPEC: 30 s).
	MaxBackoff time.Duration
	// ResolveRefresh is how often an unknown channel name may trigger
	// another conversations.list.
	ResolveRefresh time.Duration
}

// Service owns the spools and their senders. It is the pipeline's Sink.
type Service struct {
	opts     Options
	log      *slog.Logger
	m        *metrics.Metrics
	conn     *Connection
	resolver *slack.Resolver
	dead     *DeadLetters

	mu       sync.Mutex
	channels map[string]*channel
	targets  []Target
	touched  map[*channel]bool // enqueued since the last Sync (tailer goroutine only)
	ctx      context.Context
	wg       sync.WaitGroup
}

type channel struct {
	name string
	q    *spool.Queue

	mu     sync.Mutex
	status Status
}

// New opens the dead-letter file; Start opens the spools and starts senders.
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
	dead, err := OpenDeadLetters(filepath.Join(opts.StateDir, "dead-letter.jsonl"))
	if err != nil {
		return nil, err
	}
	s := &Service{
		opts: opts, log: opts.Logger, m: opts.Metrics, conn: opts.Conn, dead: dead,
		channels: map[string]*channel{},
		touched:  map[*channel]bool{},
	}
	s.resolver = slack.NewResolver(func(ctx context.Context) ([]slack.Channel, error) {
		client, ok := s.conn.Client()
		if !ok {
			return nil, errors.New("not connected to Slack")
		}
		return client.ListChannels(ctx)
	}, opts.ResolveRefresh)
	// Channel IDs cached for an old token may belong to another workspace.
	opts.Conn.OnTokenChange(s.resolver.Invalidate)
	return s, nil
}

// Start opens the spool of every channel that has one on disk or in targets
// and starts their senders; they stop when ctx is done.
func (s *Service) Start(ctx context.Context, targets []Target) error {
	s.mu.Lock()
	s.ctx = ctx
	s.mu.Unlock()
	existing, _ := filepath.Glob(filepath.Join(s.opts.StateDir, "spool", "*"))
	for _, dir := range existing {
		if _, err := s.channel(filepath.Base(dir)); err != nil {
			return err
		}
	}
	return s.SetTargets(targets)
}

// SetTargets replaces the configured destinations (start-up and reload).
// Spools of channels no longer configured keep draining.
func (s *Service) SetTargets(targets []Target) error {
	s.mu.Lock()
	s.targets = append([]Target(nil), targets...)
	s.mu.Unlock()
	for _, t := range targets {
		ch, err := s.channel(t.Name)
		if err != nil {
			return err
		}
		ch.mu.Lock()
		ch.status.Target = t
		ch.mu.Unlock()
	}
	return nil
}

// channel returns the named channel, opening its spool and starting its sender.
func (s *Service) channel(name string) (*channel, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch, ok := s.channels[name]; ok {
		return ch, nil
	}
	q, err := spool.Open(filepath.Join(s.opts.StateDir, "spool", name))
	if err != nil {
		return nil, err
	}
	ch := &channel{name: name, q: q, status: Status{Target: Target{Name: name}}}
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

// Enqueue implements pipeline.Sink.
func (s *Service) Enqueue(d rules.Destination, line []byte, pos tailer.Position) error {
	ch, err := s.channel(d.Channel)
	if err != nil {
		return err
	}
	if _, err := ch.q.Append(spool.Record{Pos: pos, Target: d.SlackChannel, Alert: d.Alert, Mention: d.Mention, Event: line}); err != nil {
		return err
	}
	s.touched[ch] = true
	return nil
}

// Sync implements pipeline.Sink: the spools are durable before the log checkpoint.
func (s *Service) Sync() error {
	for ch := range s.touched {
		if err := ch.q.Sync(); err != nil {
			return err
		}
		s.m.QueueEvents.WithLabelValues(ch.name).Set(float64(ch.q.Len()))
		delete(s.touched, ch)
	}
	return nil
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
		return true
	case <-time.After(timeout):
		return false
	}
}

// Statuses describes every configured channel, in config order.
func (s *Service) Statuses() []Status {
	s.mu.Lock()
	targets := append([]Target(nil), s.targets...)
	s.mu.Unlock()
	out := make([]Status, 0, len(targets))
	for _, t := range targets {
		st := Status{Target: t}
		if ch, err := s.channel(t.Name); err == nil {
			ch.mu.Lock()
			st = ch.status
			ch.mu.Unlock()
			st.Target = t
			st.Queue = ch.q.Len()
		}
		st.DeadLetters = s.dead.Count(t.Name)
		out = append(out, st)
	}
	return out
}

// SendTest posts the test message to the configured channel name.
func (s *Service) SendTest(ctx context.Context, name string) error {
	var target *Target
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
	client, ok := s.conn.Client()
	if !ok {
		return errors.New("not connected to Slack: connect on the admin page first")
	}
	id, err := s.resolver.Resolve(ctx, target.SlackChannel)
	if err == nil {
		err = client.Post(ctx, id, slack.TestMessage(target.Name, target.SlackChannel, time.Now()))
	}
	s.record(name, err)
	if err != nil {
		return fmt.Errorf("test message to %s: %w", target.SlackChannel, err)
	}
	return nil
}

func (s *Service) record(name string, err error) {
	ch, cerr := s.channel(name)
	if cerr != nil {
		return
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.status.LastTime = time.Now()
	if err == nil {
		ch.status.LastResult, ch.status.LastHint = "ok", ""
		return
	}
	_, reason, _ := slack.Classify(err)
	ch.status.LastResult = reason
	ch.status.LastHint = slack.Hint(reason, ch.status.SlackChannel)
}
