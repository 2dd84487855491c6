// Package rules decides where an audit event goes. It owns routing as
// docs/rules.md describes it (path.Match patterns on the action, where
// conditions on other fields, mentions, one delivery per distinct Slack
// channel, deploy approval alerts winning a shared channel), the catalogs of
// known gateway actions and fields, and the checks and explanations
// `auditfwd check` and `auditfwd route` print. It reads events only through
// event.Fields: it never reads files, formats messages or talks to Slack.
package rules

import (
	"cmp"
	"errors"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/threads"
)

// Destination is one place an event is delivered to.
type Destination struct {
	Channel      string   // config name, or config.AlertsChannelName: the queue
	SlackChannel string   // as configured: a name like "#security" or an ID like C0123ABCD
	Alert        bool     // format as a deploy approval alert
	Mention      []string // who the message pings: every matching rule's mention for this Slack channel, once each; nil for nobody
	// Thread is how the destination threads its messages, a threads.Spec
	// in its String form (kept as text so routing allocates nothing); ""
	// when every message stands alone.
	Thread string
	// Template names the rule whose template shows the event: the first
	// matching rule for this Slack channel that has one; "" for the
	// default layout.
	Template string
}

// maxCache bounds the route cache: actions come from the log, and an attacker
// who can write audit events must not be able to grow memory with them.
const maxCache = 4096

// Rules is a compiled routing table. It is immutable after Compile and safe
// for concurrent use.
type Rules struct {
	rules  []rule // the channels in config order, then the alerts when enabled
	owner  map[string]*rule
	alerts *rule // nil when deploy approval alerts are disabled

	mu    sync.RWMutex
	cache map[string]*plan
}

type rule struct {
	name     string
	slack    string // as configured
	key      string // slack, compared: trimmed, without a leading '#'
	patterns []string
	globs    []glob // globs[i] is patterns[i] compiled
	where    []condition
	mention  []string
	alert    bool
	thread   string // threads.Spec of thread_by (or the alert's request threads), as text
	template bool   // the rule has a template
}

// condition is one where key, compiled.
type condition struct {
	field            string
	include, exclude []glob
	src              config.Condition
}

// matchAction returns the index of the first pattern matching action, or -1.
func (ru *rule) matchAction(action string) int {
	for i := range ru.globs {
		if ru.globs[i].match(action) {
			return i
		}
	}
	return -1
}

// selects reports whether the rule considers action: j is the index of
// the pattern that matches it, or -1; joins is true when only because, with
// request threads, every event of a request joins its thread whatever the
// alert's actions say (docs/threads.md).
func (ru *rule) selects(action string) (j int, joins bool) {
	if j = ru.matchAction(action); j >= 0 {
		return j, false
	}
	return -1, ru.alert && ru.thread != "" && threads.IsLifecycle(action)
}

// holds reports whether the field's value, as text, meets the condition.
func (c *condition) holds(value string) bool {
	ok, _, _ := c.check(value)
	return ok
}

// check is holds with the reason: the glob that decided (as written, "!"
// included for an exclusion; "" when no plain glob matched) and whether it
// was an exclusion.
func (c *condition) check(value string) (ok bool, by string, excluded bool) {
	for i := range c.exclude {
		if c.exclude[i].match(value) {
			return false, "!" + c.exclude[i].pattern, true
		}
	}
	if len(c.include) == 0 {
		return true, "", false
	}
	for i := range c.include {
		if c.include[i].match(value) {
			return true, c.include[i].pattern, false
		}
	}
	return false, "", false
}

// slackKey is what makes two configured Slack channels the same one:
// "#security" and "security" are.
func slackKey(s string) string {
	return strings.TrimPrefix(strings.TrimSpace(s), "#")
}

func isLiteral(p string) bool { return !strings.ContainsAny(p, `*?[\`) }

func newRule(name, slack string, patterns []string, where []config.Condition, mention []string, alert bool) rule {
	ru := rule{
		name:     name,
		slack:    strings.TrimSpace(slack),
		key:      slackKey(slack),
		patterns: slices.Clone(patterns),
		mention:  slices.Clone(mention),
		alert:    alert,
	}
	for _, p := range patterns {
		ru.globs = append(ru.globs, compileGlob(p))
	}
	for _, c := range where {
		cc := condition{field: c.Field, src: c}
		for _, g := range c.Globs {
			if p, exclude := splitGlob(g); exclude {
				cc.exclude = append(cc.exclude, compileGlob(p))
			} else {
				cc.include = append(cc.include, compileGlob(p))
			}
		}
		ru.where = append(ru.where, cc)
	}
	return ru
}

// Compile builds the routing table for cfg's channels and, when enabled,
// its deploy approval alerts. It checks how they match (patterns, where
// conditions, mentions: check) and, for rules built by hand, what
// config.Parse checks of every file (config.CheckChannels); the error is a
// config.Errors, one "file:line: message" per problem.
func Compile(cfg *config.Config) (*Rules, error) {
	channels, alerts := cfg.Channels, cfg.DeployApprovalAlerts
	var errs config.Errors
	if errors.As(config.CheckChannels(channels, alerts), &errs) {
		for _, e := range errs {
			e.File = cfg.Path
		}
	}
	errs = append(errs, check(cfg)...)
	if len(errs) > 0 {
		sortByLine(errs)
		return nil, errs
	}
	r := &Rules{cache: make(map[string]*plan)}
	for _, ch := range channels {
		ru := newRule(ch.Name, ch.SlackChannel, ch.Actions, ch.Where, ch.Mention, false)
		ru.template = ch.Template != nil
		if ch.ThreadBy != "" {
			ru.thread = threads.Spec{By: ch.ThreadBy, Window: cmp.Or(ch.ThreadWindow, config.DefaultThreadWindow)}.String()
		}
		r.rules = append(r.rules, ru)
	}
	if alerts.Enabled {
		ru := newRule(config.AlertsChannelName, alerts.SlackChannel, alerts.Actions, alerts.Where, alerts.Mention, true)
		if alerts.Thread {
			ru.thread = threads.Spec{Approval: true}.String()
		}
		r.rules = append(r.rules, ru)
		r.alerts = &r.rules[len(r.rules)-1]
	}
	// One queue per Slack channel keeps its events in log order: every rule
	// naming the same Slack channel delivers under the first such name.
	r.owner = map[string]*rule{}
	for i := range r.rules {
		if _, ok := r.owner[r.rules[i].key]; !ok {
			r.owner[r.rules[i].key] = &r.rules[i]
		}
	}
	return r, nil
}

// names returns the configured channel names in config order, then
// deploy_approval_alerts when enabled: every rule a Match can name.
func (r *Rules) names() []string {
	out := make([]string, len(r.rules))
	for i := range r.rules {
		out[i] = r.rules[i].name
	}
	return out
}

// First is where an event goes that must reach someone when no rule routes
// it (auditfwd's own alerts): the first configured channel, or the deploy
// approval alerts when no channel is configured. ok is false when there is
// no destination at all.
func (r *Rules) First() (Destination, bool) {
	if len(r.rules) == 0 {
		return Destination{}, false
	}
	ru := &r.rules[0]
	return Destination{Channel: ru.name, SlackChannel: ru.slack, Alert: ru.alert, Mention: ru.mention}, true
}

// RouteEvent returns where the event goes: action is its action (as
// event.ClassifyFields found it) and f the index of its line. The
// destinations are in config order, the alert destination last unless it
// took the place of a rule naming the same Slack channel; nil when the event
// goes nowhere. Callers must not modify the slice.
//
// It does not allocate for an action it has seen before, and reads fields
// only when a rule whose action pattern matched has a where.
func (r *Rules) RouteEvent(action []byte, f *event.Fields) []Destination {
	p := r.plan(action)
	if p.cond == nil {
		return p.static
	}
	return p.route(f)
}

// A Router routes lines for one goroutine (the pipeline's): it keeps the
// plans of the actions it has seen without the lock that Rules' own cache
// takes for every line. Its zero value is not usable: Rules.Router makes one.
type Router struct {
	r     *Rules
	plans map[string]*plan
}

// Router returns a Router over r, for one goroutine.
func (r *Rules) Router() *Router { return &Router{r: r, plans: map[string]*plan{}} }

// Rules is what the Router routes by.
func (rt *Router) Rules() *Rules { return rt.r }

// RouteLine is RouteEvent for a line event.Classify accepted with this
// action: it indexes the line's fields into f (event.ClassifyFields) only
// when a rule with a where can route the action, so that the other lines,
// nearly all of them, are scanned once.
func (rt *Router) RouteLine(line, action []byte, f *event.Fields) []Destination {
	p, ok := rt.plans[string(action)]
	if !ok {
		p = rt.r.plan(action)
		if len(rt.plans) < maxCache {
			rt.plans[string(action)] = p
		}
	}
	if p.cond == nil {
		return p.static
	}
	event.ClassifyFields(line, f)
	return p.route(f)
}

// route is where the event whose fields f indexes goes, by p's conditions.
func (p *plan) route(f *event.Fields) []Destination {
	var buf [maxTabulated]bool
	holds := buf[:]
	if len(p.cond) > len(buf) {
		holds = make([]bool, len(p.cond))
	}
	holds = holds[:len(p.cond)]
	p.eval(f, holds)
	if p.byMask == nil {
		return p.compute(holds)
	}
	var mask int
	for j, ok := range holds {
		if ok {
			mask |= 1 << j
		}
	}
	return p.byMask[mask]
}

// Match returns the names of every rule that matches the event, in config
// order, deploy_approval_alerts last: those whose action pattern matches and
// whose where holds, including rules whose Slack channel an earlier rule
// already delivers to (the event is posted there once).
func (r *Rules) Match(action []byte, f *event.Fields) []string {
	p := r.plan(action)
	holds := make([]bool, len(p.cond))
	p.eval(f, holds)
	var out []string
	for i, ru := range p.cands {
		if b := p.condBit[i]; b < 0 || holds[b] {
			out = append(out, ru.name)
		}
	}
	return out
}

// plan is what an action's routing depends on: the rules whose action
// pattern matches it, and the destinations for each outcome of their where
// conditions.
type plan struct {
	cands   []*rule         // in routing order
	condBit []int           // condBit[i]: the index of cands[i] in cond, -1 when it has no where
	cond    []*rule         // the candidates with a where; nil when none has
	keys    []string        // the fields the conditions of cond read, once each
	keyIdx  [][]int         // keyIdx[j][c]: the index in keys of cond[j].where[c]'s field
	static  []Destination   // the destinations when cond is nil
	byMask  [][]Destination // byMask[m]: the destinations when the rules of cond in bit mask m hold; nil when cond is too long to tabulate
	r       *Rules
}

// maxTabulated bounds the candidates with a where whose outcomes a plan
// tabulates (2^n destination lists); beyond it they are computed per event.
const maxTabulated = 6

// maxKeys bounds the fields one action's conditions read without allocating.
const maxKeys = 8

func (r *Rules) plan(action []byte) *plan {
	r.mu.RLock()
	p, ok := r.cache[string(action)] // the compiler does not copy for a lookup
	r.mu.RUnlock()
	if ok {
		return p
	}
	p = r.newPlan(string(action))
	r.mu.Lock()
	if len(r.cache) < maxCache {
		r.cache[string(action)] = p
	}
	r.mu.Unlock()
	return p
}

func (r *Rules) newPlan(action string) *plan {
	p := &plan{r: r}
	for i := range r.rules {
		ru := &r.rules[i]
		if j, joins := ru.selects(action); j < 0 && !joins {
			continue
		}
		p.cands = append(p.cands, ru)
		bit := -1
		if len(ru.where) > 0 {
			bit = len(p.cond)
			p.cond = append(p.cond, ru)
			idx := make([]int, len(ru.where))
			for c, cond := range ru.where {
				if idx[c] = slices.Index(p.keys, cond.field); idx[c] < 0 {
					idx[c] = len(p.keys)
					p.keys = append(p.keys, cond.field)
				}
			}
			p.keyIdx = append(p.keyIdx, idx)
		}
		p.condBit = append(p.condBit, bit)
	}
	switch {
	case p.cond == nil:
		p.static = p.compute(nil)
	case len(p.cond) <= maxTabulated:
		p.byMask = make([][]Destination, 1<<len(p.cond))
		holds := make([]bool, len(p.cond))
		for m := range p.byMask {
			for j := range holds {
				holds[j] = m&(1<<j) != 0
			}
			p.byMask[m] = p.compute(holds)
		}
	}
	return p
}

// eval sets holds[j] to whether every condition of p.cond[j] holds for the
// event.
func (p *plan) eval(f *event.Fields, holds []bool) {
	if len(p.cond) == 0 {
		return
	}
	var buf [maxKeys]event.Value
	vals := buf[:]
	if len(p.keys) > len(buf) {
		vals = make([]event.Value, len(p.keys))
	}
	vals = vals[:len(p.keys)]
	f.Lookup(p.keys, vals)
	line := f.Line()
	var text [64]byte // for the rare value that must be rendered (escapes, 1e3)
	for j, ru := range p.cond {
		ok := true
		for c, k := range p.keyIdx[j] {
			t := vals[k].Text(line, text[:0])
			if ok = ru.where[c].holds(unsafeString(t)); !ok {
				break
			}
		}
		holds[j] = ok
	}
}

// compute lists the destinations when the candidates without a where and
// those with a where that holds (holds[condBit]) match.
func (p *plan) compute(holds []bool) []Destination {
	var out []Destination
	var keys []string // keys[i] is slackKey of out[i]
	for i, ru := range p.cands {
		if b := p.condBit[i]; b >= 0 && !holds[b] {
			continue
		}
		j := slices.Index(keys, ru.key)
		switch {
		case j < 0:
			o := p.r.owner[ru.key]
			out = append(out, Destination{Channel: o.name, SlackChannel: o.slack, Alert: ru.alert, Thread: ru.thread})
			keys = append(keys, ru.key)
			j = len(out) - 1
		case ru.alert:
			out[j].Alert, out[j].Thread = true, ru.thread // sent once, as an alert, in its threads
		default:
			out[j].Thread = cmp.Or(out[j].Thread, ru.thread) // threaded by the first matching rule that threads
		}
		out[j].Mention = union(out[j].Mention, ru.mention)
		if ru.template && out[j].Template == "" {
			out[j].Template = ru.name // shown as the first matching rule with a template says
		}
	}
	return out[:len(out):len(out)] // a caller's append copies
}

// union appends to a the entries of b it does not hold yet.
func union(a, b []string) []string {
	for _, s := range b {
		if !slices.Contains(a, s) {
			a = append(a, s)
		}
	}
	return a
}

// unsafeString views b as a string for a call that does not keep it: the
// hot path matches field values without copying them.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
