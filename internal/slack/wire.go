package slack

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	slackapi "github.com/slack-go/slack"

	"github.com/auditfwd/auditfwd/internal/event"
)

// The message calls (chat.postMessage, chat.update) are sent as JSON
// bodies, which Slack takes for every write method with the token in the
// Authorization header. The body is written here in one pass: the blocks
// auditfwd builds (sections and context blocks of mrkdwn text) directly,
// any other block through encoding/json. Encoding the blocks by reflection
// and then URL-encoding them into a form cost the senders about a tenth of
// their CPU during a backlog (BENCHMARKS.md).

// call is what a message call says besides the message.
type call struct {
	channel  string
	threadTS string // chat.postMessage in a thread
	ts       string // chat.update: the message replaced
	noUnfurl bool   // chat.postMessage: no link or media previews
}

// appendCall appends the JSON body of c with m's text and blocks to b.
func appendCall(b []byte, c call, m Message) ([]byte, error) {
	b = append(b, `{"channel":`...)
	b = appendJSONString(b, c.channel)
	if c.threadTS != "" {
		b = append(b, `,"thread_ts":`...)
		b = appendJSONString(b, c.threadTS)
	}
	if c.ts != "" {
		b = append(b, `,"ts":`...)
		b = appendJSONString(b, c.ts)
	}
	if c.noUnfurl {
		b = append(b, `,"unfurl_links":false,"unfurl_media":false`...)
	}
	b = append(b, `,"text":`...)
	b = appendJSONString(b, m.Text)
	if len(m.Blocks) > 0 {
		b = append(b, `,"blocks":[`...)
		for i, bl := range m.Blocks {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendBlock(b, bl); err != nil {
				return nil, err
			}
		}
		b = append(b, ']')
	}
	return append(b, '}'), nil
}

// callSize is about how long appendCall's body for m is, so that it is
// written into one buffer without growing it.
func callSize(m Message) int {
	n := 512 + len(m.Text) + len(m.Text)/8
	for _, bl := range m.Blocks {
		switch x := bl.(type) {
		case *slackapi.SectionBlock:
			if x.Text != nil {
				n += 64 + len(x.Text.Text) + len(x.Text.Text)/8
			}
		case *slackapi.ContextBlock:
			for _, e := range x.ContextElements.Elements {
				if t, ok := e.(*slackapi.TextBlockObject); ok {
					n += 64 + len(t.Text) + len(t.Text)/8
				}
			}
		default:
			n += 256
		}
	}
	return n
}

// appendBlock appends one block as encoding/json would write it.
func appendBlock(b []byte, bl slackapi.Block) ([]byte, error) {
	switch x := bl.(type) {
	case *slackapi.SectionBlock:
		if x.Text != nil && x.BlockID == "" && x.Fields == nil && x.Accessory == nil && !x.Expand {
			b = append(b, `{"type":`...)
			b = appendJSONString(b, string(x.Type))
			b = append(b, `,"text":`...)
			return append(appendText(b, x.Text), '}'), nil
		}
	case *slackapi.ContextBlock:
		if x.BlockID == "" && textsOnly(x.ContextElements.Elements) {
			b = append(b, `{"type":`...)
			b = appendJSONString(b, string(x.Type))
			b = append(b, `,"elements":[`...)
			for i, e := range x.ContextElements.Elements {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendText(b, e.(*slackapi.TextBlockObject))
			}
			return append(b, "]}"...), nil
		}
	}
	j, err := json.Marshal(bl)
	if err != nil {
		return nil, fmt.Errorf("blocks: %w", err)
	}
	return append(b, j...), nil
}

func textsOnly(elems []slackapi.MixedElement) bool {
	for _, e := range elems {
		if t, ok := e.(*slackapi.TextBlockObject); !ok || t == nil {
			return false
		}
	}
	return true
}

// appendText appends a text object as encoding/json would write it.
func appendText(b []byte, t *slackapi.TextBlockObject) []byte {
	b = append(b, `{"type":`...)
	b = appendJSONString(b, t.Type)
	b = append(b, `,"text":`...)
	b = appendJSONString(b, t.Text)
	if t.Emoji != nil {
		b = append(b, `,"emoji":`...)
		if *t.Emoji {
			b = append(b, "true"...)
		} else {
			b = append(b, "false"...)
		}
	}
	if t.Verbatim {
		b = append(b, `,"verbatim":true`...)
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string with the escapes
// encoding/json writes: quote, backslash, control characters, <, > and &
// (HTML-safe), U+2028 and U+2029; invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// answer is what auditfwd reads of a message call's answer.
type answer struct {
	ok                    bool
	err, channel, ts, thr string
}

var (
	answerKeys  = []string{"ok", "error", "channel", "ts", "message"}
	messageKeys = []string{"thread_ts"}
)

// parseAnswer reads ok, error, channel, ts and message.thread_ts from a
// message call's answer. Slack echoes the whole message in it; the
// validating scan of package event reads that about ten times faster than
// encoding/json and decodes nothing of it.
func parseAnswer(body []byte) (answer, error) {
	var a answer
	var f event.Fields
	if kind, _ := event.ClassifyFields(body, &f); kind == event.KindMalformed {
		return a, fmt.Errorf("not a JSON object: %q", body[:min(len(body), 200)])
	}
	var v [5]event.Value
	f.Lookup(answerKeys, v[:])
	a.ok = string(v[0].Text(body, nil)) == "true"
	a.err = string(v[1].Text(body, nil))
	a.channel = string(v[2].Text(body, nil))
	a.ts = string(v[3].Text(body, nil))
	if msg := v[4].Raw(body); len(msg) > 0 && msg[0] == '{' {
		var mf event.Fields
		event.ClassifyFields(msg, &mf)
		var t [1]event.Value
		mf.Lookup(messageKeys, t[:])
		a.thr = string(t[0].Text(msg, nil))
	}
	return a, nil
}
