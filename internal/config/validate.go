package config

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// CheckRules reports what is wrong with channels and alerts as routing
// rules: names, Slack channels, action patterns, where conditions and
// mentions. It is the one validation of rules: Parse runs it on every file
// (with lines) and rules.Compile on whatever it is given. The error is an
// Errors, or nil.
func CheckRules(channels []Channel, alerts DeployApprovalAlerts) error {
	if es := checkRules("", channels, &alerts); len(es) > 0 {
		return es
	}
	return nil
}

var channelNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

func checkRules(file string, channels []Channel, alerts *DeployApprovalAlerts) Errors {
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
		checkMatchers(errorf, label, ch.Actions, ch.ActionLines, ch.Where, ch.Mention, ch.MentionLines)
		checkTemplate(errorf, label, ch.Template)
	}

	a := alerts
	const label = AlertsChannelName
	checkMatchers(errorf, label, a.Actions, a.ActionLines, a.Where, a.Mention, a.MentionLines)
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

// checkMatchers checks a rule's action patterns, where conditions and
// mentions: a malformed pattern or glob is an error, never a silent no-match.
func checkMatchers(errorf func(int, string, ...any), label string, acts []string, actLines []int, where []Condition, mention []string, mentionLines []int) {
	for i, p := range acts {
		line := lineOf(actLines, i)
		switch {
		case strings.TrimSpace(p) == "":
			errorf(line, "%s: empty action pattern", label)
		case p != strings.TrimSpace(p):
			errorf(line, "%s: pattern %q has leading or trailing spaces and would never match", label, p)
		default:
			if err := ValidatePattern(p); err != nil {
				errorf(line, "%s: %v", label, err)
			}
		}
	}
	for _, c := range where {
		name := "where." + c.Field
		if c.Field == "" {
			errorf(c.Line, "%s: where has an empty field name", label)
			continue
		}
		if len(c.Globs) == 0 {
			errorf(c.Line, "%s: %s is an empty list: write [\"\"] to match an absent field, or remove the key", label, name)
			continue
		}
		for i, g := range c.Globs {
			glob, _ := SplitGlob(g)
			if err := ValidatePattern(glob); err != nil {
				errorf(lineOf(c.GlobLines, i), "%s: %s: %v", label, name, err)
			}
		}
	}
	for i, m := range mention {
		if ValidMention(m) {
			continue
		}
		msg := fmt.Sprintf("%s: mention %q is not a user group ID (S…), a user ID (U… or W…), here or channel", label, m)
		if s := suggestMention(m); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		errorf(lineOf(mentionLines, i), "%s", msg)
	}
}

func lineOf(lines []int, i int) int {
	if i < len(lines) {
		return lines[i]
	}
	return 0
}

// ValidatePattern reports whether p is a well-formed path.Match pattern.
func ValidatePattern(p string) error {
	if _, err := path.Match(p, ""); err != nil {
		return fmt.Errorf("malformed pattern %q (path.Match syntax: * any run, ? one character, [a-z] a class): %w", p, err)
	}
	return nil
}

// SplitGlob takes a where glob apart: a leading '!' makes it an exclusion;
// `\!` at the start stands for a literal '!' (path.Match unescapes it).
func SplitGlob(g string) (glob string, exclude bool) {
	if strings.HasPrefix(g, "!") {
		return g[1:], true
	}
	return g, false
}

var mentionRE = regexp.MustCompile(`^(?:[SUW][A-Z0-9]+|here|channel)$`)

// ValidMention reports whether m is one of the mention forms: a user group
// ID (S…), a user ID (U… or W…), here or channel.
func ValidMention(m string) bool { return mentionRE.MatchString(m) }

// suggestMention guesses what an invalid mention meant: Slack's own markup
// (<!subteam^S…>, <@U…>, <!here>), an @ in front, lower case.
func suggestMention(m string) string {
	s := strings.TrimSpace(m)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "<"), ">")
	s = strings.TrimPrefix(s, "!subteam^")
	s = strings.TrimLeft(s, "@!")
	if i := strings.IndexByte(s, '|'); i >= 0 { // <!subteam^S1|@oncall>
		s = s[:i]
	}
	switch strings.ToLower(s) {
	case "here", "channel":
		s = strings.ToLower(s)
	case "everyone":
		return "channel"
	default:
		s = strings.ToUpper(s)
	}
	if s != m && ValidMention(s) {
		return s
	}
	return ""
}
