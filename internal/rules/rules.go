// Package rules decides where an audit event goes. It owns the routing of
// SPEC §3 (path.Match patterns on the action, one delivery per distinct Slack
// channel, deploy approval alerts winning a shared channel), the catalog of
// known gateway actions, and the checks `auditfwd check` and `auditfwd route`
// print. It only sees action names: it never reads files, formats messages or
// talks to Slack.
package rules

import (
	"cmp"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/threads"
)

// Destination is one place an event is delivered to.
type Destination struct {
	Channel      string // config name, or config.AlertsChannelName
	SlackChannel string // as configured: a name like "#security" or an ID like C0123ABCD
	Alert        bool   // format as a deploy approval alert
	// Thread is how the destination threads its messages, a threads.Spec
	// in its String form (kept as text so routing allocates nothing); ""
	// when every message stands alone.
	Thread string
}

// maxCache bounds the route cache: actions come from the log, and an attacker
// who can write audit events must not be able to grow memory with them.
const maxCache = 4096

// Rules is a compiled routing table. It is immutable after Compile and safe
// for concurrent use.
type Rules struct {
	rules  []rule
	alerts *rule // nil when deploy approval alerts are disabled
	names  []string
	owner  map[string]*rule // Slack channel key → the first rule naming it

	mu    sync.RWMutex
	cache map[string][]Destination
}

type rule struct {
	name     string
	slack    string // as configured
	key      string // slack, compared: trimmed, without a leading '#'
	patterns []string
	literal  []bool // patterns[i] has no path.Match metacharacters
	thread   string // threads.Spec of thread_by (or the alert's request threads), as text
}

func (ru *rule) match(action string) bool {
	for i, p := range ru.patterns {
		if ru.literal[i] {
			if p == action {
				return true
			}
			continue
		}
		if ok, _ := path.Match(p, action); ok {
			return true
		}
	}
	return false
}

// slackKey is what makes two configured Slack channels the same one:
// "#security" and "security" are.
func slackKey(s string) string {
	return strings.TrimPrefix(strings.TrimSpace(s), "#")
}

func isLiteral(p string) bool { return !strings.ContainsAny(p, `*?[\`) }

func newRule(name, slack string, patterns []string) (rule, error) {
	ru := rule{
		name:     name,
		slack:    strings.TrimSpace(slack),
		key:      slackKey(slack),
		patterns: append([]string(nil), patterns...),
		literal:  make([]bool, len(patterns)),
	}
	if ru.key == "" {
		return ru, fmt.Errorf("channel %q has no Slack channel", name)
	}
	if len(patterns) == 0 {
		return ru, fmt.Errorf("channel %q has no action patterns", name)
	}
	for i, p := range patterns {
		if p == "" {
			return ru, fmt.Errorf("channel %q: empty action pattern", name)
		}
		if err := config.ValidatePattern(p); err != nil {
			return ru, fmt.Errorf("channel %q: %w", name, err)
		}
		ru.literal[i] = isLiteral(p)
	}
	return ru, nil
}

// Compile builds the routing table for channels and, when enabled, the deploy
// approval alerts. It checks what config.Parse checks about routing, so rules
// built by hand are held to the same standard.
func Compile(channels []config.Channel, alerts config.DeployApprovalAlerts) (*Rules, error) {
	r := &Rules{cache: make(map[string][]Destination)}
	var errs []error
	seen := make(map[string]bool, len(channels))
	for _, ch := range channels {
		switch {
		case ch.Name == "":
			errs = append(errs, errors.New("a channel has no name"))
			continue
		case ch.Name == config.AlertsChannelName:
			errs = append(errs, fmt.Errorf("channel name %q is reserved", ch.Name))
			continue
		case seen[ch.Name]:
			errs = append(errs, fmt.Errorf("duplicate channel name %q", ch.Name))
			continue
		}
		seen[ch.Name] = true
		ru, err := newRule(ch.Name, ch.SlackChannel, ch.Actions)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ch.ThreadBy != "" {
			ru.thread = threads.Spec{By: ch.ThreadBy, Window: cmp.Or(ch.ThreadWindow, config.DefaultThreadWindow)}.String()
		}
		r.rules = append(r.rules, ru)
		r.names = append(r.names, ch.Name)
	}
	if alerts.Enabled {
		ru, err := newRule(config.AlertsChannelName, alerts.SlackChannel, alerts.Actions)
		if alerts.Thread {
			ru.thread = threads.Spec{Approval: true}.String()
		}
		if err != nil {
			errs = append(errs, err)
		} else {
			r.alerts = &ru
			r.names = append(r.names, config.AlertsChannelName)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("compile rules: %w", err)
	}
	// One queue per Slack channel keeps its events in log order: every rule
	// naming the same Slack channel delivers under the first such name.
	r.owner = map[string]*rule{}
	for i := range r.rules {
		if _, ok := r.owner[r.rules[i].key]; !ok {
			r.owner[r.rules[i].key] = &r.rules[i]
		}
	}
	if r.alerts != nil {
		if _, ok := r.owner[r.alerts.key]; !ok {
			r.owner[r.alerts.key] = r.alerts
		}
	}
	return r, nil
}

// Names returns the configured channel names in config order, then
// deploy_approval_alerts when enabled: every channel a Destination can name.
func (r *Rules) Names() []string {
	return append([]string(nil), r.names...)
}

// Route returns where an event with this action goes, in config order, the
// alert destination last unless it took the place of a rule naming the same
// Slack channel. It is nil when the action goes nowhere. Callers must not
// modify the slice.
func (r *Rules) Route(action string) []Destination {
	r.mu.RLock()
	d, ok := r.cache[action]
	r.mu.RUnlock()
	if ok {
		return d
	}
	return r.miss(action)
}

// RouteBytes is Route for the hot path: it does not allocate for an action
// it has seen before.
func (r *Rules) RouteBytes(action []byte) []Destination {
	r.mu.RLock()
	d, ok := r.cache[string(action)] // the compiler does not copy for a lookup
	r.mu.RUnlock()
	if ok {
		return d
	}
	return r.miss(string(action))
}

func (r *Rules) miss(action string) []Destination {
	d := r.compute(action)
	r.mu.Lock()
	if len(r.cache) < maxCache {
		r.cache[action] = d
	}
	r.mu.Unlock()
	return d
}

// compute routes without the cache.
func (r *Rules) compute(action string) []Destination {
	var out []Destination
	var keys []string // keys[i] is slackKey of out[i]
	for i := range r.rules {
		ru := &r.rules[i]
		if !ru.match(action) {
			continue
		}
		if i := index(keys, ru.key); i >= 0 {
			// Threaded by the first matching rule that threads.
			out[i].Thread = cmp.Or(out[i].Thread, ru.thread)
			continue
		}
		o := r.owner[ru.key]
		out = append(out, Destination{Channel: o.name, SlackChannel: o.slack, Thread: ru.thread})
		keys = append(keys, ru.key)
	}
	// With request threads, every event of a request joins its thread,
	// whatever the alert's actions say (docs/threads.md).
	if a := r.alerts; a != nil && (a.match(action) || a.thread != "" && threads.IsLifecycle(action)) {
		o := r.owner[a.key]
		d := Destination{Channel: o.name, SlackChannel: o.slack, Alert: true, Thread: a.thread}
		if i := index(keys, a.key); i >= 0 {
			out[i] = d // sent once, as an alert
		} else {
			out = append(out, d)
		}
	}
	return out[:len(out):len(out)] // a caller's append copies
}

func index(keys []string, k string) int {
	for i, s := range keys {
		if s == k {
			return i
		}
	}
	return -1
}
