package config

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// channels decodes the channels list. The result is never nil, so that
// `channels: []` (route nothing) differs from an absent key (the defaults).
// What the channels name is checked by checkChannels once the file is
// read; how they match, by rules.Compile.
func (d *decoder) channels(k, v *yaml.Node) []Channel {
	out := []Channel{}
	if isNull(v) {
		d.errorf(k.Line, "channels is empty: write `channels: []` to route nothing, or remove the key for the default channels")
		return out
	}
	if v.Kind != yaml.SequenceNode {
		d.errorf(v.Line, "channels must be a list of channels, not %s", describe(v))
		return out
	}
	for i, item := range v.Content {
		item = deref(item)
		where := fmt.Sprintf("channels[%d]", i)
		ch := Channel{Line: item.Line, lines: ruleLines{name: item.Line, slack: item.Line, actions: item.Line}}
		threadByLine, windowLine := 0, 0
		ok := d.mapping(item, where, map[string]field{
			"name": func(_, v *yaml.Node) {
				ch.Name, _ = d.str(v, where+".name")
				ch.Name = strings.TrimSpace(ch.Name)
				ch.lines.name = v.Line
			},
			"slack_channel": func(_, v *yaml.Node) {
				ch.SlackChannel, _ = d.str(v, where+".slack_channel")
				ch.SlackChannel = strings.TrimSpace(ch.SlackChannel)
				ch.lines.slack = v.Line
			},
			"actions": func(k, v *yaml.Node) {
				ch.lines.actions = k.Line
				ch.Actions, ch.ActionLines = d.patterns(v, where+".actions")
			},
			"where":   func(k, v *yaml.Node) { ch.Where = d.where(k, v, where+".where") },
			"mention": func(k, v *yaml.Node) { ch.Mention, ch.MentionLines = d.mentions(v, where+".mention") },
			"thread_by": func(k, v *yaml.Node) {
				ch.ThreadBy, _ = d.str(v, where+".thread_by")
				ch.ThreadBy, threadByLine = strings.TrimSpace(ch.ThreadBy), k.Line
			},
			"thread_window": func(k, v *yaml.Node) {
				ch.ThreadWindow, windowLine = d.duration(v, where+".thread_window"), k.Line
			},
			"template": func(k, v *yaml.Node) { ch.Template = d.template(k, v, where+".template") },
		})
		label := where
		if ch.Name != "" {
			label = fmt.Sprintf("channel %q", ch.Name)
		}
		d.checkThread(label, &ch, threadByLine, windowLine)
		if ok {
			out = append(out, ch)
		}
	}
	return out
}

// patterns decodes a list of action patterns with the line of each. The
// list is not nil once the key is present, even when empty or null.
func (d *decoder) patterns(v *yaml.Node, name string) ([]string, []int) {
	return d.scalars(v, name, "action patterns", "pattern")
}

// mentions decodes a rule's mention list.
func (d *decoder) mentions(v *yaml.Node, name string) ([]string, []int) {
	ms, lines := d.scalars(v, name, "mentions (S… user groups, U…/W… users, here, channel)", "mention")
	for i := range ms {
		ms[i] = strings.TrimSpace(ms[i])
	}
	return ms, lines
}

func (d *decoder) alerts(k, v *yaml.Node, a *DeployApprovalAlerts) {
	a.Line = k.Line
	if isNull(v) {
		return
	}
	a.lines = ruleLines{name: k.Line, slack: k.Line, actions: k.Line}
	const where = AlertsChannelName
	d.mapping(v, where, map[string]field{
		"enabled": func(_, v *yaml.Node) {
			if isNull(v) {
				return
			}
			if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" || v.Decode(&a.Enabled) != nil {
				d.errorf(v.Line, "%s.enabled must be true or false, not %s", where, describe(v))
			}
		},
		"slack_channel": func(_, v *yaml.Node) {
			s, _ := d.str(v, where+".slack_channel")
			a.SlackChannel = strings.TrimSpace(s)
			a.lines.slack = v.Line
		},
		"thread": func(_, v *yaml.Node) {
			if isNull(v) {
				return
			}
			if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" || v.Decode(&a.Thread) != nil {
				d.errorf(v.Line, "%s.thread must be true or false, not %s", where, describe(v))
			}
		},
		"actions": func(k, v *yaml.Node) {
			a.Actions, a.ActionLines = d.patterns(v, where+".actions")
			a.lines.actions = k.Line
		},
		"where":   func(k, v *yaml.Node) { a.Where = d.where(k, v, where+".where") },
		"mention": func(k, v *yaml.Node) { a.Mention, a.MentionLines = d.mentions(v, where+".mention") },
	})
}
