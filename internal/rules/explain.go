package rules

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/auditfwd/auditfwd/internal/event"
)

// Verdict is why one rule does or does not route an event: what
// `auditfwd route --explain` prints.
type Verdict struct {
	Rule    string // channel name or deploy_approval_alerts
	Matched bool
	// Reason says which action pattern and which where values decided, or
	// which pattern list or where key did not hold.
	Reason       string
	SlackChannel string   // as configured
	Queue        string   // the rule whose name the Slack channel's deliveries go under
	Mention      []string // the rule's own mentions
	Alert        bool
}

// String is one line: "name: matched (reason) → #slack" or "name: not matched: reason".
func (v Verdict) String() string {
	if !v.Matched {
		return v.Rule + ": not matched: " + v.Reason
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: matched: %s → %s", v.Rule, v.Reason, v.SlackChannel)
	if v.Queue != v.Rule {
		// Rules naming one Slack channel share its queue (and metrics
		// label): an event is posted there once, whichever of them match.
		fmt.Fprintf(&b, " (queue %s)", v.Queue)
	}
	if v.Alert {
		b.WriteString(" as an alert")
	}
	if len(v.Mention) > 0 {
		b.WriteString(", mention " + strings.Join(v.Mention, " "))
	}
	return b.String()
}

// Explain returns a verdict for every rule, in config order,
// deploy_approval_alerts last, for the event with this action indexed in f.
func (r *Rules) Explain(action []byte, f *event.Fields) []Verdict {
	out := make([]Verdict, 0, len(r.rules))
	a := string(action)
	for i := range r.rules {
		ru := &r.rules[i]
		v := Verdict{Rule: ru.name, SlackChannel: ru.slack, Queue: r.owner[ru.key].name, Mention: ru.mention, Alert: ru.alert}
		j, joins := ru.selects(a)
		if j < 0 && !joins {
			v.Reason = fmt.Sprintf("action %s matches none of %s", strconv.Quote(a), quoteAll(ru.patterns))
			out = append(out, v)
			continue
		}
		reasons := []string{"a request's events join its thread (deploy_approval_alerts.thread)"}
		if j >= 0 {
			reasons[0] = "action matches " + strconv.Quote(ru.patterns[j])
		}
		v.Matched = true
		for c := range ru.where {
			cond := &ru.where[c]
			vals := []event.Value{{}}
			f.Lookup([]string{cond.field}, vals)
			text := string(vals[0].Text(f.Line(), nil))
			shown := strconv.Quote(text)
			if !vals[0].Present() {
				shown = "(absent)"
			}
			ok, by, excluded := cond.check(text)
			switch {
			case ok && len(cond.include) > 0:
				reasons = append(reasons, fmt.Sprintf("%s %s matches %s", cond.field, shown, strconv.Quote(by)))
			case ok:
				reasons = append(reasons, fmt.Sprintf("%s %s is excluded by none of %s", cond.field, shown, quoteAll(cond.src.Globs)))
			case excluded:
				v.Matched, v.Reason = false, fmt.Sprintf("where %s %s is excluded by %s", cond.field, shown, strconv.Quote(by))
			default:
				v.Matched, v.Reason = false, fmt.Sprintf("where %s %s matches none of %s", cond.field, shown, quoteAll(cond.src.Globs))
			}
			if !v.Matched {
				break
			}
		}
		if v.Matched {
			v.Reason = strings.Join(reasons, "; ")
		}
		out = append(out, v)
	}
	return out
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, " ") + "]"
}
