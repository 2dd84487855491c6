package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/delivery"
	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/pgsource"
	"github.com/auditfwd/auditfwd/internal/rules"
	"github.com/auditfwd/auditfwd/internal/termtext"
)

// cmdRoute is `auditfwd route`: where events go under the config's rules,
// and what a rule change would change (docs/rules.md).
func cmdRoute(env *cliEnv, args []string) error {
	fs, path := flags(env, "route")
	diff := fs.String("diff", "", "compare with the rules in this older config file")
	replay := fs.String("replay", "", "with --diff: run the events of this audit log through both configs")
	replayRows := fs.Int("replay-db", 0, "audit_log.source postgres: route the last N rows of the gateway's table (with --diff: through both configs)")
	explain := fs.Bool("explain", false, "say for each rule why it routes the event or not")
	limit := fs.Int("limit", 20, "with --replay: list at most this many changed events")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case *replay != "" && *diff == "":
		return &exitError{code: 2, msg: "--replay needs --diff OLD.yaml: it compares two configs"}
	case *replay != "" && *replayRows != 0:
		return &exitError{code: 2, msg: "--replay and --replay-db do not combine; replay a log or the table"}
	case *replayRows != 0 && len(pos) > 0:
		return &exitError{code: 2, msg: "--replay-db routes the table's rows; give no ACTION arguments with it"}
	case *explain && *diff != "":
		return &exitError{code: 2, msg: "--explain and --diff do not combine; explain one config at a time"}
	}
	cfg, r, err := loadRules(*path)
	if err != nil {
		return err
	}
	render, err := delivery.NewRenderer(cfg, nil, nil)
	if err != nil {
		return err
	}
	out := bufio.NewWriter(env.stdout)
	defer out.Flush()
	if *diff != "" {
		_, old, err := loadRules(*diff)
		if err != nil {
			return err
		}
		if *replay != "" {
			return replayDiff(out, cfg, old, r, *diff, *replay, *limit, func(fn func(string, []byte)) error {
				return replayLog(cfg, *replay, fn)
			})
		}
		if *replayRows != 0 {
			return replayDiff(out, cfg, old, r, *diff, fmt.Sprintf("the last %d rows of the audit table", *replayRows), *limit, func(fn func(string, []byte)) error {
				return replayDB(cfg, *replayRows, fn)
			})
		}
		events, err := routeArgs(pos)
		if err != nil {
			return err
		}
		var actions []string
		for _, e := range events {
			actions = append(actions, e.action)
		}
		changes := rules.Diff(old, r, actions)
		for _, c := range changes {
			fmt.Fprintf(out, "%s: %s -> %s\n", termtext.Quote(c.Action, " :"), namesOrNone(c.Old), namesOrNone(c.New))
		}
		if len(changes) == 0 {
			fmt.Fprintf(out, "no known action changes destination between %s and %s\n", *diff, cfg.Path)
		}
		return nil
	}

	var f event.Fields
	show := func(action []byte) {
		names := r.Match(action, &f)
		if len(names) == 0 && string(action) == pgsource.BrokenAction {
			// auditfwd's own alert reaches someone even when no rule routes it.
			if first, ok := r.First(); ok {
				names = []string{first.Channel + " (the first channel: no rule routes it)"}
			}
		}
		// The action came from the log: printed as data, never as terminal control.
		fmt.Fprintf(out, "%s %s\n", termtext.Quote(string(action), " "), namesOrNone(names))
		if *explain {
			for _, v := range r.Explain(action, &f) {
				fmt.Fprintf(out, "  %s\n", v)
			}
			explainShown(out, render, r.RouteEvent(action, &f), f.Line())
		}
	}
	if len(pos) > 0 {
		events, err := routeArgs(pos)
		if err != nil {
			return err
		}
		for _, e := range events {
			_, action := event.ClassifyFields(e.line, &f)
			show(action)
		}
		return nil
	}
	route := func(_ string, line []byte) {
		if kind, action := event.ClassifyFields(line, &f); kind == event.KindEvent {
			show(action)
		}
	}
	if *replayRows != 0 {
		return replayDB(cfg, *replayRows, route)
	}
	return readAuditLines(env.stdin, cfg, func(_ int, line []byte) { route("", line) })
}

// argEvent is an event given on the command line: ACTION key=value….
type argEvent struct {
	action string
	line   []byte // the event as an audit line
}

// routeArgs turns `ACTION key=value… ACTION …` into events: each key=value
// sets a field (as a string) of the action before it; fields not given are
// absent.
func routeArgs(args []string) ([]argEvent, error) {
	var out []argEvent
	var fields [][2]string
	flush := func() {
		if len(out) == 0 {
			return
		}
		e := &out[len(out)-1]
		line := []byte(`{"action":`)
		line = appendJSON(line, e.action)
		for _, kv := range fields {
			line = append(line, ',')
			line = appendJSON(line, kv[0])
			line = append(line, ':')
			line = appendJSON(line, kv[1])
		}
		e.line = append(line, '}')
		fields = nil
	}
	for _, a := range args {
		key, value, isField := strings.Cut(a, "=")
		switch {
		case !isField:
			flush()
			if a == "" {
				return nil, &exitError{code: 2, msg: "an empty ACTION argument"}
			}
			out = append(out, argEvent{action: a})
		case len(out) == 0:
			return nil, &exitError{code: 2, msg: fmt.Sprintf("%q comes before any ACTION: write `route ACTION key=value…`", a)}
		case key == "" || key == "action":
			return nil, &exitError{code: 2, msg: fmt.Sprintf("%q: give the action as the ACTION argument, other fields as key=value", a)}
		default:
			// The last value given for a key counts.
			fields = slicesDeleteKey(fields, key)
			fields = append(fields, [2]string{key, value})
		}
	}
	flush()
	return out, nil
}

func slicesDeleteKey(fields [][2]string, key string) [][2]string {
	out := fields[:0]
	for _, kv := range fields {
		if kv[0] != key {
			out = append(out, kv)
		}
	}
	return out
}

func appendJSON(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}

// replayDiff is `route --diff OLD --replay LOG` (or --replay-db N): per
// channel, how many of the events feed gives each config sends it, then
// the events whose destinations change. source names what feed reads.
func replayDiff(out io.Writer, cfg *config.Config, old, cur *rules.Rules, oldPath, source string, limit int, feed func(fn func(where string, line []byte)) error) error {
	rp := rules.NewReplay(old, cur, max(limit, 0))
	var fields event.Fields
	err := feed(func(where string, line []byte) {
		if kind, action := event.ClassifyFields(line, &fields); kind == event.KindEvent {
			rp.Add(where, action, &fields)
		}
	})
	if err != nil {
		return fmt.Errorf("replay %s: %w", source, err)
	}
	fmt.Fprintf(out, "%d events in %s, routed by %s (before) and %s (after)\n\n", rp.Events, source, oldPath, cfg.Path)
	counts := rp.Counts()
	width := len("channel")
	for _, c := range counts {
		width = max(width, len(c.Name))
	}
	fmt.Fprintf(out, "%-*s  %6s  %6s\n", width, "channel", "before", "after")
	for _, c := range counts {
		fmt.Fprintf(out, "%-*s  %6d  %6d\n", width, c.Name, c.Before, c.Now)
	}
	fmt.Fprintln(out)
	if rp.Changed == 0 {
		fmt.Fprintln(out, "no event changes destination")
		return nil
	}
	fmt.Fprintf(out, "%d of %d events change destination:\n", rp.Changed, rp.Events)
	for _, c := range rp.Changes {
		fmt.Fprintf(out, "%s %s: %s -> %s\n", c.Where, termtext.Quote(c.Action, " :"), namesOrNone(c.Old), namesOrNone(c.New))
	}
	if more := rp.Changed - len(rp.Changes); more > 0 {
		fmt.Fprintf(out, "… and %d more (--limit shows more)\n", more)
	}
	return nil
}

// replayLog feeds the audit lines of the log at path to fn, each named
// path:line.
func replayLog(cfg *config.Config, path string, fn func(where string, line []byte)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return readAuditLines(f, cfg, func(n int, line []byte) { fn(path+":"+strconv.Itoa(n), line) })
}

// readAuditLines calls fn with each audit line of r, unwrapped from the
// config's audit_log.format as the daemon does, and the number of the
// (last) physical line it came from. A line longer than
// audit_log.max_line_bytes is skipped, as the daemon skips it.
func readAuditLines(r io.Reader, cfg *config.Config, fn func(n int, line []byte)) error {
	format, err := event.ParseFormat(cfg.AuditLog.Format)
	if err != nil {
		return err
	}
	unwrap := event.NewUnwrapper(format, cfg.AuditLog.MaxLineBytes)
	br := bufio.NewReaderSize(r, 64<<10)
	var long []byte // a line longer than the reader's buffer, so far
	inLong := false
	n := 0
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(long) <= cfg.AuditLog.MaxLineBytes { // beyond it, only its end matters
				long = append(long, chunk...)
			}
			inLong = true
			continue
		}
		if len(chunk) > 0 {
			n++
			line := chunk
			if inLong {
				line = append(long, chunk...)
				long, inLong = long[:0], false
			}
			line = bytes.TrimSuffix(line, []byte("\n"))
			if len(line) <= cfg.AuditLog.MaxLineBytes {
				if l, done, oversized := unwrap.Unwrap(line); done && !oversized {
					fn(n, l)
				}
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func loadRules(path string) (*config.Config, *rules.Rules, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, nil, err
	}
	r, err := rules.Compile(cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, r, nil
}

func namesOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, " ")
}
