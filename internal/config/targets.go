package config

// Target is one configured destination as delivery, the admin page and the
// commands see it: a channel rule, or the deploy approval alert.
type Target struct {
	Name         string // the config name: metrics label, `auditfwd test NAME`
	SlackChannel string // "#name", "name" or an ID like C0123ABCD
	Patterns     []string
	Alert        bool     // the deploy approval alert
	Where        []string // conditions as written: "status: [failed, denied]"
	Mention      []string // S…, U…/W…, here, channel
	// Threads is what keys its Slack threads (docs/threads.md): the rule's
	// thread_by field, or "request" for the alert's request threads; ""
	// when its messages are not threaded.
	Threads string
}

// Targets lists the channels in file order, then the deploy approval alert
// when it is enabled.
func (c *Config) Targets() []Target {
	out := make([]Target, 0, len(c.Channels)+1)
	for _, ch := range c.Channels {
		out = append(out, Target{Name: ch.Name, SlackChannel: ch.SlackChannel, Patterns: ch.Actions,
			Where: conditions(ch.Where), Mention: ch.Mention, Threads: ch.ThreadBy})
	}
	if a := c.DeployApprovalAlerts; a.Enabled {
		t := Target{Name: AlertsChannelName, SlackChannel: a.SlackChannel, Patterns: a.Actions, Alert: true,
			Where: conditions(a.Where), Mention: a.Mention}
		if a.Thread {
			t.Threads = "request"
		}
		out = append(out, t)
	}
	return out
}

// Target returns the configured destination called name.
func (c *Config) Target(name string) (Target, bool) {
	for _, t := range c.Targets() {
		if t.Name == name {
			return t, true
		}
	}
	return Target{}, false
}

// conditions shows a rule's where conditions as they are written.
func conditions(cs []Condition) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.String())
	}
	return out
}
