package delivery

import "github.com/auditfwd/auditfwd/internal/spool"

// mentions lists who each record pings, for slack.PackMentioned: a digest
// carries the union of its events' mentions.
func mentions(recs []spool.Record) [][]string {
	out := make([][]string, len(recs))
	for i, r := range recs {
		out[i] = r.Mention
	}
	return out
}
