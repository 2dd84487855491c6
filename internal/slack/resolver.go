package slack

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"
)

var channelID = regexp.MustCompile(`^[CG][A-Z0-9]{8,}$`)

// Resolver maps channel names to IDs with conversations.list and caches the
// result. Safe for concurrent use; concurrent lookups share one listing.
type Resolver struct {
	list       func(ctx context.Context) ([]Channel, error)
	minRefresh time.Duration
	now        func() time.Time // time.Now; tests move it

	mu     sync.Mutex
	ids    map[string]string // lower-case name → ID
	loaded time.Time         // when ids was listed; zero: never
	gen    int               // bumped by Invalidate
	flight *flight
}

type flight struct {
	done  chan struct{}
	err   error
	stale bool // Invalidate ran meanwhile: the result was dropped
}

// IsChannelID reports whether s has the form of a channel ID (C0123ABCD),
// which is used as given, never looked up.
func IsChannelID(s string) bool { return channelID.MatchString(s) }

// ChannelKey is how a configured channel meets Slack's listing: an ID as
// given, a name ("#security", "security") without "#" and in lower case.
func ChannelKey(nameOrID string) string {
	s := strings.TrimSpace(nameOrID)
	if IsChannelID(s) {
		return s
	}
	return strings.ToLower(strings.TrimPrefix(s, "#"))
}

// NewResolver returns a Resolver that lists channels with list (usually
// Client.ListChannels) and lists again for an unknown name at most once per
// minRefresh.
func NewResolver(list func(ctx context.Context) ([]Channel, error), minRefresh time.Duration) *Resolver {
	return &Resolver{list: list, minRefresh: minRefresh, now: time.Now}
}

// Resolve returns the channel ID for nameOrID. IDs are returned as given;
// "#name" and "name" are looked up. A name Slack does not list is an error
// that Classify maps to Permanent, "channel_not_found". A failed listing
// returns its error (usually Retry).
func (r *Resolver) Resolve(ctx context.Context, nameOrID string) (string, error) {
	name := ChannelKey(nameOrID)
	if IsChannelID(name) {
		return name, nil
	}
	if name == "" {
		return "", notFound(nameOrID)
	}
	waited := false
	for {
		r.mu.Lock()
		if id, ok := r.ids[name]; ok {
			r.mu.Unlock()
			return id, nil
		}
		fresh := !r.loaded.IsZero() && r.now().Sub(r.loaded) < r.minRefresh
		if waited || fresh {
			r.mu.Unlock()
			return "", notFound(nameOrID)
		}
		f := r.flight
		if f == nil {
			f = &flight{done: make(chan struct{})}
			r.flight = f
			go r.refresh(f, r.gen)
		}
		r.mu.Unlock()

		select {
		case <-f.done:
		case <-ctx.Done():
			return "", ctx.Err()
		}
		if f.err != nil {
			return "", f.err
		}
		waited = !f.stale
	}
}

// refresh lists channels on its own context: a caller that gives up does not
// cancel the listing others wait for.
func (r *Resolver) refresh(f *flight, gen int) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	chans, err := r.list(ctx)

	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil && gen == r.gen {
		ids := make(map[string]string, len(chans))
		for _, c := range chans {
			ids[strings.ToLower(c.Name)] = c.ID
		}
		r.ids = ids
		r.loaded = r.now()
	}
	switch {
	case err != nil:
		f.err = fmt.Errorf("resolve channel names: %w", err)
	case gen != r.gen:
		f.stale = true
	}
	if r.flight == f {
		r.flight = nil
	}
	close(f.done)
}

// Invalidate drops the cache, e.g. after a new token arrives; the next
// Resolve of a name lists channels again.
func (r *Resolver) Invalidate() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids = nil
	r.loaded = time.Time{}
	r.gen++
	r.flight = nil
}

func notFound(name string) error {
	return fmt.Errorf("resolve channel %q: %w", name, slackapi.SlackErrorResponse{Err: "channel_not_found"})
}
