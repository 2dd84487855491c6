package main

import (
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/layout"
	"github.com/auditfwd/auditfwd/internal/rules"
	"github.com/auditfwd/auditfwd/internal/slack"
)

// titlePreviews renders each rule's title for an example event (what
// `auditfwd check` shows): one line per rule with a title, and a warning
// for a title that fails on it.
func titlePreviews(cfg *config.Config, r *slack.Renderer) (lines []string, warnings []rules.Warning) {
	for _, ch := range cfg.Channels {
		if ch.Template == nil || ch.Template.Title == "" {
			continue
		}
		ev := exampleEvent(ch)
		title, _, err := r.Title(ch.Name, &ev)
		if err != nil {
			warnings = append(warnings, rules.Warning{File: cfg.Path, Line: ch.Template.TitleLine,
				Msg: fmt.Sprintf("channel %q: template.title fails on an example %s event (such events show the default heading): %v", ch.Name, ev.Action, err)})
			continue
		}
		lines = append(lines, fmt.Sprintf("channel %q: title for an example %s event: %q", ch.Name, ev.Action, title))
	}
	return lines, warnings
}

// exampleEvent is an event the rule routes, as far as its patterns and
// where conditions say plainly: its first literal pattern (else the first
// known action a pattern matches), and the first literal value of each
// where key.
func exampleEvent(ch config.Channel) event.Event {
	action := ""
	for _, p := range ch.Actions {
		if !strings.ContainsAny(p, `*?[\`) {
			action = p
			break
		}
	}
	if action == "" {
		for _, a := range rules.Catalog() {
			if slices.ContainsFunc(ch.Actions, func(p string) bool { ok, _ := path.Match(p, a); return ok }) {
				action = a
				break
			}
		}
	}
	if action == "" && len(ch.Actions) > 0 {
		action = strings.NewReplacer("*", "example", "?", "x").Replace(ch.Actions[0])
	}
	var set []event.Field
	for _, c := range ch.Where {
		for _, g := range c.Globs {
			if g != "" && !strings.HasPrefix(g, "!") && !strings.ContainsAny(g, `*?[\`) {
				set = append(set, event.Field{Key: c.Field, Value: g})
				break
			}
		}
	}
	return layout.Example(action, set...)
}

// explainShown prints, for `route --explain`, what the message of a routed
// event shows that the log does not: each rule's title, and each value
// that is redacted.
func explainShown(out io.Writer, r *slack.Renderer, dests []rules.Destination, line []byte) {
	ev, err := event.Parse(line)
	if err != nil || len(dests) == 0 {
		return
	}
	for _, d := range dests {
		if d.Template == "" || !r.Layout(d.Template).HasTitle() {
			continue
		}
		title, _, err := r.Title(d.Template, &ev)
		if err != nil {
			fmt.Fprintf(out, "  title (%s) fails, the default heading shows: %v\n", d.Template, err)
			continue
		}
		fmt.Fprintf(out, "  title (%s): %q\n", d.Template, title)
	}
	for _, f := range r.Redactions(&ev) {
		fmt.Fprintf(out, "  redacted %s: %q\n", f.Key, f.Value)
	}
}
