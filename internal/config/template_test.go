package config

import (
	"slices"
	"strings"
	"testing"
)

func TestTemplateAndRedactAreRead(t *testing.T) {
	cfg := mustParse(t, `channels:
  - name: failures
    slack_channel: "#security"
    actions: ["login.*"]
    template:
      title: "{{.user_email}} failed to log in from {{.ip_address}}"
      fields: [status, ip_address, details.reason]
  - name: plain
    slack_channel: "#security"
    actions: [logout]
redact:
  secrets: false
  fields: [command, "details.*token*"]
  patterns: ['\bssn-\d+\b']
`)
	tm := cfg.Channels[0].Template
	if tm == nil || tm.Title != "{{.user_email}} failed to log in from {{.ip_address}}" || tm.TitleLine != 6 ||
		!slices.Equal(tm.Fields, []string{"status", "ip_address", "details.reason"}) || !slices.Equal(tm.FieldLines, []int{7, 7, 7}) {
		t.Errorf("template = %+v", tm)
	}
	if cfg.Channels[1].Template != nil {
		t.Errorf("a rule without template has %+v", cfg.Channels[1].Template)
	}
	r := cfg.Redact
	if r.Secrets || !slices.Equal(r.Fields, []string{"command", "details.*token*"}) || !slices.Equal(r.Patterns, []string{`\bssn-\d+\b`}) {
		t.Errorf("redact = %+v", r)
	}
	if !mustParse(t, "").Redact.Secrets {
		t.Error("redact.secrets must default to true")
	}
	if !mustParse(t, "redact:\n").Redact.Secrets || !mustParse(t, "redact: {fields: [x]}\n").Redact.Secrets {
		t.Error("redact.secrets must stay true unless set")
	}
}

func TestTemplateAndRedactErrorsHaveLines(t *testing.T) {
	const rule = "channels:\n  - name: r\n    slack_channel: \"#r\"\n    actions: [logout]\n"
	for _, c := range []struct{ src, want string }{
		{rule + "    template:\n      title: \"{{.user_email\"\n", `c.yaml:6: channel "r": template.title: title:1: unclosed action`},
		{rule + "    template:\n      title: \"{{nosuch .x}}\"\n", `c.yaml:6: channel "r": template.title: title:1: function "nosuch" not defined`},
		{rule + "    template:\n      title: \"  \"\n", `c.yaml:6: channel "r": template.title: empty; remove the key for the default heading`},
		{rule + "    template:\n      fields: [user, ts]\n", `c.yaml:6: channel "r": template.fields: field "ts": the time line is always shown`},
		{rule + "    template:\n      fields:\n        - status\n        - status\n", `c.yaml:8: channel "r": template.fields lists "status" twice`},
		{rule + "    template: {}\n", `c.yaml:5: channels[0].template is empty; set title, fields or both, or remove it for the default layout`},
		{rule + "    template:\n      titel: x\n", `c.yaml:6: unknown key "titel" in channels[0].template; did you mean "title"?`},
		{rule + "    template:\n      fields: user\n", `c.yaml:6: channels[0].template.fields must be a list of event fields (user, status, ip_address, details.reason, …), not "user"`},
		{"redact:\n  patterns:\n    - ok\n    - '(unclosed'\n", `c.yaml:4: redact.patterns: invalid expression "(unclosed" (RE2 syntax): error parsing regexp: missing closing ): ` + "`(unclosed`"},
		{"redact:\n  patterns: ['x*']\n", `c.yaml:2: redact.patterns: expression "x*" matches the empty string, so it would match everywhere`},
		{"redact:\n  fields: ['[a-']\n", `c.yaml:2: redact.fields: malformed field glob "[a-" (path.Match syntax: * any run, ? one character, [a-z] a class): syntax error in pattern`},
		{"redact:\n  secrets: maybe\n", `c.yaml:2: redact.secrets must be true or false, not "maybe"`},
		{"redact:\n  field: [x]\n", `c.yaml:2: unknown key "field" in redact; did you mean "fields"?`},
	} {
		_, err := Parse([]byte(c.src), "c.yaml")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s\n got %v\nwant %s", c.src, err, c.want)
		}
	}
}

func TestCheckChannelsChecksTemplatesOfRulesBuiltByHand(t *testing.T) {
	chs := []Channel{{Name: "r", SlackChannel: "#r", Actions: []string{"logout"}, Template: &Template{Title: "{{upper}"}}}
	if err := CheckChannels(chs, DeployApprovalAlerts{}); err == nil || !strings.Contains(err.Error(), "template.title") {
		t.Errorf("CheckChannels = %v", err)
	}
}
