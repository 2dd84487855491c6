package slack

import (
	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/threads"
)

// The layout tests lay messages out with the zero Renderer (no redaction,
// no templates) through these: render_test.go tests what a configured one
// adds.

func Pack(events []event.Event, alert bool) (Message, int) {
	return (&Renderer{}).Pack(events, Routing{Alert: alert})
}

func PackMentioned(events []event.Event, alert bool, mentions [][]string) (Message, int) {
	return (&Renderer{}).Pack(events, Routing{Alert: alert, Mentions: mentions})
}

func Parent(t *threads.Thread) Message { return (&Renderer{}).Parent(t) }

func PackReply(events []event.Event, notes []string) (Message, int) {
	return (&Renderer{}).Pack(events, Routing{Notes: notes})
}
