package config

import (
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// checkThread validates a channel's thread_by and thread_window (lines are
// 0 when the key is absent) and fills in the default window.
func (d *decoder) checkThread(label string, ch *Channel, threadByLine, windowLine int) {
	if threadByLine > 0 && ch.ThreadBy == "" {
		d.errorf(threadByLine, "%s: thread_by is empty; name an event field such as ip_address, or remove the key", label)
	}
	if windowLine > 0 && ch.ThreadBy == "" && threadByLine == 0 {
		d.errorf(windowLine, "%s: thread_window needs thread_by (the field whose value keys a thread)", label)
	}
	if ch.ThreadBy != "" && ch.ThreadWindow == 0 && windowLine == 0 {
		ch.ThreadWindow = DefaultThreadWindow
	}
}

// duration decodes a positive duration: Go's form (90m, 24h, 1h30m) or
// whole days (7d).
func (d *decoder) duration(v *yaml.Node, name string) time.Duration {
	s, ok := d.str(v, name)
	if !ok {
		return 0
	}
	s = strings.TrimSpace(s)
	var dur time.Duration
	var err error
	if days, found := strings.CutSuffix(s, "d"); found {
		var n int
		n, err = strconv.Atoi(days)
		dur = time.Duration(n) * 24 * time.Hour
	} else {
		dur, err = time.ParseDuration(s)
	}
	if err != nil || dur <= 0 {
		d.errorf(v.Line, "%s must be a positive duration such as 30m, 24h or 7d, not %q", name, s)
		return 0
	}
	return dur
}
