// Package threads keeps auditfwd's Slack threads (docs/threads.md): which
// events share a thread (a deploy approval request's lifecycle, or a rule's
// thread_by field within its thread_window), what each thread's parent
// message must show, and the durable table of threads in state_dir that
// survives restarts. It decides and remembers; it never talks to Slack and
// never formats a message (internal/slack renders a Thread).
package threads

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/auditfwd/auditfwd/internal/event"
)

// ApprovalRetention is how long a deploy approval request's thread is
// remembered after its last event: long enough for an extension days later,
// short enough to keep the table small. A lifecycle event for a forgotten
// request starts a thread of its own.
const ApprovalRetention = 7 * 24 * time.Hour

// LifecyclePrefix starts every deploy approval request action.
const LifecyclePrefix = "deploy_approval_request."

// IsLifecycle reports whether action is a deploy approval request's event.
func IsLifecycle(action string) bool { return strings.HasPrefix(action, LifecyclePrefix) }

// Spec says how a destination threads its messages. The zero Spec threads
// nothing.
type Spec struct {
	// Approval: deploy approval requests, one thread per request (its
	// resource), the parent showing the request's state.
	Approval bool
	// By is the event field (thread_by) whose value keys a thread; events
	// with the same value within Window of the thread's last event share it.
	By     string
	Window time.Duration
}

// IsZero reports whether s threads nothing.
func (s Spec) IsZero() bool { return !s.Approval && s.By == "" }

// String encodes s as routing hands it to the spools: "" (no threads),
// "approval", or "by WINDOW FIELD". ParseSpec reads it back.
func (s Spec) String() string {
	switch {
	case s.Approval:
		return "approval"
	case s.By != "":
		return "by " + s.Window.String() + " " + s.By
	}
	return ""
}

// ParseSpec decodes String's form.
func ParseSpec(text string) (Spec, error) {
	if text == "" {
		return Spec{}, nil
	}
	if text == "approval" {
		return Spec{Approval: true}, nil
	}
	rest, ok := strings.CutPrefix(text, "by ")
	if !ok {
		return Spec{}, fmt.Errorf("thread spec %q: unknown form", text)
	}
	win, field, ok := strings.Cut(rest, " ")
	if !ok || field == "" {
		return Spec{}, fmt.Errorf("thread spec %q: no field", text)
	}
	d, err := time.ParseDuration(win)
	if err != nil || d <= 0 {
		return Spec{}, fmt.Errorf("thread spec %q: bad window", text)
	}
	return Spec{By: field, Window: d}, nil
}

// maxKeyValue bounds the value part of a key: values come from the log.
const maxKeyValue = 200

// Key is the thread ev belongs to under s ("FIELD=VALUE", e.g.
// "ip_address=203.0.113.9" or "deploy_approval_request=42"), or "" when ev
// opens no thread (the field is missing or empty, or for approvals an
// action that is not a request's lifecycle): such an event is posted on its
// own.
func (s Spec) Key(ev *event.Event) string {
	var field, value string
	switch {
	case s.Approval:
		if !IsLifecycle(ev.Action) {
			return ""
		}
		field, value = "deploy_approval_request", ev.Get("resource")
	case s.By != "":
		field, value = s.By, fieldValue(ev, s.By)
	}
	if value == "" {
		return ""
	}
	if len(value) > maxKeyValue {
		h := fnv.New64a()
		h.Write([]byte(value))
		value = clip(value, maxKeyValue-20) + "…" + strconv.FormatUint(h.Sum64(), 16)
	}
	return field + "=" + value
}

// fieldValue is the event's value of field as text; action and the
// timestamp are fields too.
func fieldValue(ev *event.Event, field string) string {
	switch field {
	case "action":
		return ev.Action
	case "ts", "timestamp":
		return ev.TimeRaw
	}
	return ev.Get(field)
}

// clip cuts s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
