package rules

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/auditfwd/auditfwd/internal/config"
)

// check reports what is wrong with how cfg's rules match: action
// patterns, where conditions and mentions (a malformed pattern or glob is an
// error, never a silent no-match). It is the one place that says so:
// Compile runs it on every config, with the file and line of each problem.
func check(cfg *config.Config) config.Errors {
	var errs config.Errors
	errorf := func(line int, format string, args ...any) {
		errs = append(errs, &config.Error{File: cfg.Path, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	for i := range cfg.Channels {
		ch := &cfg.Channels[i]
		label := fmt.Sprintf("channels[%d]", i)
		if ch.Name != "" {
			label = fmt.Sprintf("channel %q", ch.Name)
		}
		checkMatchers(errorf, label, ch.Actions, ch.ActionLines, ch.Where, ch.Mention, ch.MentionLines)
	}
	// Checked even when disabled: enabling it must not reveal a broken rule.
	a := &cfg.DeployApprovalAlerts
	checkMatchers(errorf, config.AlertsChannelName, a.Actions, a.ActionLines, a.Where, a.Mention, a.MentionLines)
	return errs
}

func checkMatchers(errorf func(int, string, ...any), label string, acts []string, actLines []int, where []config.Condition, mention []string, mentionLines []int) {
	for i, p := range acts {
		line := lineOf(actLines, i, 0)
		switch {
		case strings.TrimSpace(p) == "":
			errorf(line, "%s: empty action pattern", label)
		case p != strings.TrimSpace(p):
			errorf(line, "%s: pattern %q has leading or trailing spaces and would never match", label, p)
		default:
			if err := checkPattern(p); err != nil {
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
			glob, _ := splitGlob(g)
			if err := checkPattern(glob); err != nil {
				errorf(lineOf(c.GlobLines, i, 0), "%s: %s: %v", label, name, err)
			}
		}
	}
	for i, m := range mention {
		if validMention(m) {
			continue
		}
		msg := fmt.Sprintf("%s: mention %q is not a user group ID (S…), a user ID (U… or W…), here or channel", label, m)
		if s := suggestMention(m); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		errorf(lineOf(mentionLines, i, 0), "%s", msg)
	}
}

// checkPattern reports whether p is a well-formed path.Match pattern.
func checkPattern(p string) error {
	if _, err := path.Match(p, ""); err != nil {
		return fmt.Errorf("malformed pattern %q (path.Match syntax: * any run, ? one character, [a-z] a class): %w", p, err)
	}
	return nil
}

// splitGlob takes a where glob apart: a leading '!' makes it an exclusion;
// `\!` at the start stands for a literal '!' (path.Match unescapes it).
func splitGlob(g string) (glob string, exclude bool) {
	if strings.HasPrefix(g, "!") {
		return g[1:], true
	}
	return g, false
}

var mentionRE = regexp.MustCompile(`^(?:[SUW][A-Z0-9]+|here|channel)$`)

// validMention reports whether m is one of the mention forms: a user group
// ID (S…), a user ID (U… or W…), here or channel.
func validMention(m string) bool { return mentionRE.MatchString(m) }

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
	if s != m && validMention(s) {
		return s
	}
	return ""
}

// sortByLine orders problems as they appear in the file.
func sortByLine(es config.Errors) {
	slices.SortStableFunc(es, func(a, b *config.Error) int { return a.Line - b.Line })
}
