package fakeslack

import (
	"regexp"
	"slices"
)

// pingToken is Slack's markup that notifies people when a message is
// posted: <!here>, <!channel>, <!everyone>, <!subteam^S…> (a user group)
// and <@U…>/<@W…> (a user), each optionally with a |label.
var pingToken = regexp.MustCompile(`<(?:!(?:here|channel|everyone)|!subteam\^[A-Z0-9]+|@[UW][A-Z0-9]+)(?:\|[^>]*)?>`)

// Pings returns the mention tokens in the post's text and blocks, each
// once, in order: whom the message notifies when it is posted, as Slack
// reads it (Slack never notifies for an edit; a test of auditfwd's mention
// policy asks anyway whether an edit carries any).
func (p Post) Pings() []string {
	var out []string
	for _, t := range pingToken.FindAllString(p.AllText(), -1) {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}
