package delivery

import (
	"github.com/auditfwd/auditfwd/internal/slack"
	"github.com/auditfwd/auditfwd/internal/spool"
)

// routing is how the leading records were routed, for Renderer.Pack: alert,
// whom each pings (a digest carries the union of its events' mentions) and
// which rule's template shows each.
func routing(recs []spool.Record, alert bool) slack.Routing {
	how := slack.Routing{Alert: alert, Mentions: make([][]string, len(recs)), Templates: make([]string, len(recs))}
	for i, r := range recs {
		how.Mentions[i], how.Templates[i] = r.Mention, r.Template
	}
	return how
}
