package fakeslack

import (
	"encoding/json"
	"unicode/utf8"
)

// checkPayload answers as Slack does for a message's text and blocks:
// blocks replace the message's (nblocks is how many it then has; had, those
// it had before an edit), and text longer than maxRunes is too long
// (40,000 for chat.postMessage, 4,000 for chat.update).
func checkPayload(text, blocks string, had, maxRunes int) (nblocks int, code string) {
	nblocks = had
	if blocks != "" {
		if nblocks, code = validateBlocks(blocks); code != "" {
			return 0, code
		}
	}
	if text == "" && nblocks == 0 {
		return 0, "no_text"
	}
	if utf8.RuneCountInString(text) > maxRunes {
		return 0, "msg_too_long"
	}
	return nblocks, ""
}

// validateBlocks checks blocks like Slack does, as far as auditfwd cares:
// a JSON array of at most 50 typed blocks, section text ≤ 3,000 characters,
// ≤ 10 fields of ≤ 2,000, context ≤ 10 elements, header ≤ 150.
func validateBlocks(raw string) (int, string) {
	type text struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	var blocks []struct {
		Type     string            `json:"type"`
		Text     *text             `json:"text"`
		Fields   []text            `json:"fields"`
		Elements []json.RawMessage `json:"elements"`
	}
	if err := json.Unmarshal([]byte(raw), &blocks); err != nil {
		return 0, "invalid_blocks"
	}
	if len(blocks) > 50 {
		return 0, "invalid_blocks"
	}
	validText := func(t *text, max int) bool {
		return t != nil && (t.Type == "mrkdwn" || t.Type == "plain_text") &&
			t.Text != "" && utf8.RuneCountInString(t.Text) <= max
	}
	for _, b := range blocks {
		switch b.Type {
		case "":
			return 0, "invalid_blocks"
		case "section":
			if b.Text == nil && len(b.Fields) == 0 {
				return 0, "invalid_blocks"
			}
			if b.Text != nil && !validText(b.Text, 3000) {
				return 0, "invalid_blocks"
			}
			if len(b.Fields) > 10 {
				return 0, "invalid_blocks"
			}
			for i := range b.Fields {
				if !validText(&b.Fields[i], 2000) {
					return 0, "invalid_blocks"
				}
			}
		case "header":
			if b.Text == nil || b.Text.Type != "plain_text" || !validText(b.Text, 150) {
				return 0, "invalid_blocks"
			}
		case "context":
			if len(b.Elements) == 0 || len(b.Elements) > 10 {
				return 0, "invalid_blocks"
			}
			for _, e := range b.Elements {
				var t text
				if err := json.Unmarshal(e, &t); err != nil {
					return 0, "invalid_blocks"
				}
				if (t.Type == "mrkdwn" || t.Type == "plain_text") && !validText(&t, 3000) {
					return 0, "invalid_blocks"
				}
			}
		}
	}
	return len(blocks), ""
}
