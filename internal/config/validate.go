package config

import (
	"fmt"
	"regexp"
	"strings"
)

// CheckChannels reports what is wrong with channels and alerts as the
// destinations they name: names, Slack channels, that they have actions,
// templates. Parse runs it on every file (with lines), rules.Compile on
// whatever it is given; how a rule matches (patterns, where, mentions) is
// rules.Compile's to check. The error is an Errors, or nil.
func CheckChannels(channels []Channel, alerts DeployApprovalAlerts) error {
	if es := checkChannels("", channels, &alerts); len(es) > 0 {
		return es
	}
	return nil
}

var channelNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

func checkChannels(file string, channels []Channel, alerts *DeployApprovalAlerts) Errors {
	var errs Errors
	errorf := func(line int, format string, args ...any) {
		errs = append(errs, &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	names := map[string]int{}
	for i := range channels {
		ch := &channels[i]
		where := fmt.Sprintf("channels[%d]", i)
		label := where
		switch {
		case ch.Name == "":
			errorf(ch.lines.name, "%s has no name", where)
		case ch.Name == AlertsChannelName:
			errorf(ch.lines.name, "%s: the name %q is reserved for the deploy_approval_alerts section", where, ch.Name)
		case !channelNameRE.MatchString(ch.Name):
			errorf(ch.lines.name, "%s: name %q must be lowercase letters, digits, '_' and '-', starting with a letter or digit (it is a metrics label and a command argument)", where, ch.Name)
		default:
			label = fmt.Sprintf("channel %q", ch.Name)
			if first, dup := names[ch.Name]; dup {
				if first > 0 {
					errorf(ch.lines.name, "duplicate channel name %q (first at line %d)", ch.Name, first)
				} else {
					errorf(ch.lines.name, "duplicate channel name %q", ch.Name)
				}
			} else {
				names[ch.Name] = ch.lines.name
			}
		}
		if strings.TrimSpace(ch.SlackChannel) == "" {
			errorf(ch.lines.slack, "%s has no slack_channel (a name like \"#security\", quoted because of the #, or an ID like C0123ABCD)", label)
		}
		switch {
		case ch.Actions == nil:
			errorf(ch.Line, "%s has no actions key; list the action patterns it receives", label)
		case len(ch.Actions) == 0:
			errorf(ch.lines.actions, "%s has no actions; remove the channel or add patterns", label)
		}
		checkTemplate(errorf, label, ch.Template)
	}

	a := alerts
	const label = AlertsChannelName
	if a.Enabled {
		if strings.TrimSpace(a.SlackChannel) == "" {
			errorf(a.lines.slack, "%s is enabled but has no slack_channel", label)
		}
		if len(a.Actions) == 0 {
			errorf(a.lines.actions, "%s is enabled but has no actions", label)
		}
	}
	return errs
}

func lineOf(lines []int, i int) int {
	if i < len(lines) {
		return lines[i]
	}
	return 0
}
