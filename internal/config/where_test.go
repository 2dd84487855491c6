package config

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestWhereAndMention(t *testing.T) {
	cfg := mustParse(t, `channels:
  - name: sec
    slack_channel: "#security"
    actions: ["login.*"]
    where:
      status: [failed, denied, "!error"]
      user_email: ["!*@bots.*"]
      http_status: [403, 4.0e2, "401"]
      api_token_name: [null, ""]
      ok: [true]
    mention: [S0123ABCD, " U024BE7LH ", W0ABC, here, channel]
deploy_approval_alerts:
  enabled: true
  slack_channel: "#deploy"
  actions: [deploy_approval_request.create]
  where: {resource: ["billing*"]}
  mention: []
`)
	ch := cfg.Channels[0]
	want := []Condition{
		{Field: "status", Globs: []string{"failed", "denied", "!error"}, Line: 6, GlobLines: []int{6, 6, 6}},
		{Field: "user_email", Globs: []string{"!*@bots.*"}, Line: 7, GlobLines: []int{7}},
		{Field: "http_status", Globs: []string{"403", "400", "401"}, Line: 8, GlobLines: []int{8, 8, 8}},
		{Field: "api_token_name", Globs: []string{"", ""}, Line: 9, GlobLines: []int{9, 9}},
		{Field: "ok", Globs: []string{"true"}, Line: 10, GlobLines: []int{10}},
	}
	if !reflect.DeepEqual(ch.Where, want) {
		t.Errorf("where:\n got %+v\nwant %+v", ch.Where, want)
	}
	if !slices.Equal(ch.Mention, []string{"S0123ABCD", "U024BE7LH", "W0ABC", "here", "channel"}) || !slices.Equal(ch.MentionLines, []int{11, 11, 11, 11, 11}) {
		t.Errorf("mention %q %v", ch.Mention, ch.MentionLines)
	}
	a := cfg.DeployApprovalAlerts
	if len(a.Where) != 1 || a.Where[0].String() != "resource: [billing*]" || len(a.Mention) != 0 {
		t.Errorf("alerts where %+v mention %q", a.Where, a.Mention)
	}
}

func TestWhereAndMentionErrors(t *testing.T) {
	head := "channels:\n  - name: sec\n    slack_channel: \"#a\"\n    actions: [logout]\n"
	tests := []struct {
		name, src string
		want      []string
	}{
		{"scalar instead of list", head + "    where:\n      status: failed\n",
			[]string{`c.yaml:6: channels[0].where.status must be a list of globs, not "failed"; write status: [failed]`}},
		{"empty where", head + "    where: {}\n",
			[]string{`c.yaml:5: channels[0].where has no conditions; remove it, or add a field and its globs (status: [failed])`}},
		{"where a list", head + "    where: [status]\n",
			[]string{`c.yaml:5: channels[0].where must be a mapping of event fields to lists of globs (status: [failed]), not a list`}},
		{"duplicate field", head + "    where:\n      status: [failed]\n      status: [denied]\n",
			[]string{`c.yaml:7: channels[0].where.status is set twice (first at line 6)`}},
		{"nested glob", head + "    where:\n      status: [[failed]]\n",
			[]string{`c.yaml:6: channels[0].where.status: each glob must be a string, not a list`}},
		{"mention not a list", head + "    mention: here\n",
			[]string{`c.yaml:5: channels[0].mention must be a list of mentions (S… user groups, U…/W… users, here, channel), not "here"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src), "c.yaml")
			if err == nil {
				t.Fatal("no error")
			}
			if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// Channels built by hand go through the same checks, without lines; how
// they match is rules.Compile's to check.
func TestCheckChannels(t *testing.T) {
	err := CheckChannels([]Channel{
		{Name: "a", SlackChannel: "#a", Actions: []string{"x.["}},
		{Name: "a", SlackChannel: " ", Actions: []string{}, Where: []Condition{{Field: "status"}}, Mention: []string{"@here"}},
	}, DeployApprovalAlerts{Enabled: true, SlackChannel: "#d"})
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("err = %v", err)
	}
	want := []string{
		`duplicate channel name "a"`,
		`channel "a" has no slack_channel (a name like "#security", quoted because of the #, or an ID like C0123ABCD)`,
		`channel "a" has no actions; remove the channel or add patterns`,
		`deploy_approval_alerts is enabled but has no actions`,
	}
	if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, want) {
		t.Errorf("errors:\n got %q\nwant %q", got, want)
	}
	if err := CheckChannels(defaultChannels(), defaultAlerts()); err != nil {
		t.Errorf("defaults: %v", err)
	}
}
