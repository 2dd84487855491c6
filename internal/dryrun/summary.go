package dryrun

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/auditfwd/auditfwd/internal/metrics"
	"github.com/auditfwd/auditfwd/internal/redact"
	"github.com/auditfwd/auditfwd/internal/termtext"
)

// maxActions bounds the distinct unrouted actions remembered: the log is
// input, and a hostile one must not grow memory.
const maxActions = 1000

// summary is what the dry run read: lines by kind (the daemon's own
// counters), events per channel, and the actions no rule routed.
type summary struct {
	path     string
	m        *metrics.Metrics
	channels []string // in first-routed order
	perChan  map[string]int
	actions  map[string]int
	others   int           // unrouted events whose action did not fit in actions
	redacted redact.Counts // in the messages printed
}

func newSummary(path string, m *metrics.Metrics) *summary {
	return &summary{path: path, m: m, perChan: map[string]int{}, actions: map[string]int{}}
}

func (s *summary) routed(channel string) {
	if _, ok := s.perChan[channel]; !ok {
		s.channels = append(s.channels, channel)
	}
	s.perChan[channel]++
}

func (s *summary) unrouted(action []byte) {
	if n, ok := s.actions[string(action)]; ok || len(s.actions) < maxActions {
		s.actions[string(action)] = n + 1
		return
	}
	s.others++
}

// write prints, e.g.:
//
//	dry run of examples/audit.log: 13 lines
//	  lines:    9 event, 2 not_audit, 1 malformed, 1 oversized
//	  routed:   security 4, infrastructure 2
//	  unrouted: 3 events: app.read 2, login.start 1
func (s *summary) write(w io.Writer) {
	var kinds []string
	total := 0
	counts := lineCounts(s.m)
	for _, k := range metrics.LineKinds {
		n := counts[k]
		total += n
		kinds = append(kinds, fmt.Sprintf("%d %s", n, k))
	}
	fmt.Fprintf(w, "dry run of %s: %d lines\n", s.path, total)
	fmt.Fprintf(w, "  lines:    %s\n", strings.Join(kinds, ", "))

	var routed []string
	for _, c := range s.channels {
		routed = append(routed, fmt.Sprintf("%s %d", c, s.perChan[c]))
	}
	if len(routed) == 0 {
		routed = []string{"none"}
	}
	fmt.Fprintf(w, "  routed:   %s\n", strings.Join(routed, ", "))

	type count struct {
		action string
		n      int
	}
	var actions []count
	events := s.others
	for a, n := range s.actions {
		actions = append(actions, count{a, n})
		events += n
	}
	slices.SortFunc(actions, func(a, b count) int {
		return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.action, b.action))
	})
	var unrouted []string
	for _, c := range actions {
		unrouted = append(unrouted, fmt.Sprintf("%s %d", printable(c.action), c.n))
	}
	if s.others > 0 {
		unrouted = append(unrouted, fmt.Sprintf("%d more events with other actions", s.others))
	}
	switch events {
	case 0:
		fmt.Fprintln(w, "  unrouted: none")
	case 1:
		fmt.Fprintf(w, "  unrouted: 1 event: %s\n", strings.Join(unrouted, ", "))
	default:
		fmt.Fprintf(w, "  unrouted: %d events: %s\n", events, strings.Join(unrouted, ", "))
	}
	if len(s.redacted) > 0 {
		fmt.Fprintf(w, "  redacted: %s\n", countList(s.redacted))
	}
}

// countList is "field 2, slack-token 1": what was redacted, by detector.
func countList(c redact.Counts) string {
	names := slices.Sorted(maps.Keys(c))
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", n, c[n])
	}
	return strings.Join(parts, ", ")
}

// printable quotes an action that holds anything a terminal could act on.
func printable(s string) string { return termtext.Quote(s, ",") }

// lineCounts reads auditfwd_log_lines_total by kind: the summary counts
// lines exactly as the daemon's metric does.
func lineCounts(m *metrics.Metrics) map[string]int {
	out := map[string]int{}
	fams, err := m.Registry.Gather()
	if err != nil {
		return out
	}
	for _, f := range fams {
		if f.GetName() != "auditfwd_log_lines_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "kind" {
					out[l.GetValue()] = int(s.GetCounter().GetValue())
				}
			}
		}
	}
	return out
}
