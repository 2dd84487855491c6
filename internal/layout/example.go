package layout

import (
	"strings"

	"github.com/auditfwd/auditfwd/internal/event"
)

// Example is a made-up event with action and the fields the gateway
// usually writes (set, then replaced or added from set, in order): what
// `auditfwd check` renders a rule's title for.
func Example(action string, set ...event.Field) event.Event {
	status := "success"
	if strings.Contains(action, "fail") {
		status = "failed"
	}
	ev := event.Event{
		Action:  action,
		TimeRaw: "2026-03-20T01:13:02Z",
		Fields: []event.Field{
			{Key: "action_type", Value: "auth"},
			{Key: "details", Value: `{"reason":"example reason"}`},
			{Key: "ip_address", Value: "203.0.113.7"},
			{Key: "request_id", Value: "req-9f2c1a"},
			{Key: "resource", Value: "billing"},
			{Key: "resource_type", Value: "app"},
			{Key: "status", Value: status},
			{Key: "user_agent", Value: "curl/8.5.0"},
			{Key: "user_email", Value: "jane@example.com"},
			{Key: "user_name", Value: "Jane Example"},
		},
	}
	for _, f := range set {
		replaced := false
		for i := range ev.Fields {
			if ev.Fields[i].Key == f.Key {
				ev.Fields[i].Value, replaced = f.Value, true
			}
		}
		if !replaced {
			ev.Fields = append(ev.Fields, f)
		}
	}
	return ev
}
