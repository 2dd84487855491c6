package slack

import (
	"slices"
	"strings"

	slackapi "github.com/slack-go/slack"
)

// mentionLine renders mention entries as Slack markup, each once, in order:
// a user group ID S… becomes <!subteam^S…>, a user ID U… or W… <@U…>, here
// <!here> and channel <!channel>. Any other entry is left out: the config
// refuses them, and nothing else may ever ping anyone. It is "" for none.
func mentionLine(entries []string) string {
	var tokens []string
	for _, m := range entries {
		var t string
		switch {
		case m == "here" || m == "channel":
			t = "<!" + m + ">"
		case !isID(m):
			continue
		case m[0] == 'S':
			t = "<!subteam^" + m + ">"
		case m[0] == 'U' || m[0] == 'W':
			t = "<@" + m + ">"
		default:
			continue
		}
		if !slices.Contains(tokens, t) {
			tokens = append(tokens, t)
		}
	}
	return strings.Join(tokens, " ")
}

// isID reports whether s looks like a Slack ID: a capital letter, then
// capital letters and digits.
func isID(s string) bool {
	if len(s) < 2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' && i > 0) {
			return false
		}
	}
	return true
}

// room is what a message keeps free for its mention line.
type room struct{ blocks, text int }

// mentionReserve is the room the mention line of all of mentions takes.
func mentionReserve(mentions [][]string) room {
	line := mentionLine(slices.Concat(mentions...))
	if line == "" {
		return room{}
	}
	return room{blocks: 1, text: units(line) + 2}
}

// withMentions adds the mention line of the first n events to m.
func withMentions(m Message, mentions [][]string, n int) Message {
	line := mentionLine(slices.Concat(mentions[:min(n, len(mentions))]...))
	if line == "" {
		return m
	}
	m.Text = clip(line+"\n"+m.Text, maxText)
	m.Blocks = append([]slackapi.Block{section(line)}, m.Blocks...)
	return m
}
