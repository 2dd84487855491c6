package pipeline

import (
	"testing"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/logpos"
	"github.com/auditfwd/auditfwd/internal/metrics"
	"github.com/auditfwd/auditfwd/internal/rules"
)

// destSink records the destinations of what it is given.
type destSink struct{ got []string }

func (s *destSink) Enqueue(d rules.Destination, _ []byte, _ logpos.Position) (bool, error) {
	s.got = append(s.got, d.Channel+" "+d.SlackChannel)
	return true, nil
}
func (s *destSink) Publish()    {}
func (s *destSink) Sync() error { return nil }
func (s *destSink) Rollback()   {}

// An alert of auditfwd's own goes where the rules say, or else to the first
// configured channel; it is not counted as a line read.
func TestAlertRoutesOrFallsBackToTheFirstChannel(t *testing.T) {
	alert := []byte(`{"action":"auditfwd.chain_broken","action_type":"security","status":"alert"}`)
	mk := func(channels []config.Channel, alerts config.DeployApprovalAlerts) (*Handler, *destSink, *metrics.Metrics) {
		r, err := rules.Compile(&config.Config{Channels: channels, DeployApprovalAlerts: alerts})
		if err != nil {
			t.Fatal(err)
		}
		s, m := &destSink{}, metrics.New("test")
		return New(event.FormatJSON, 1<<20, r, s, m), s, m
	}
	ch := func(name, slack string, actions ...string) config.Channel {
		return config.Channel{Name: name, SlackChannel: slack, Actions: actions}
	}

	h, s, m := mk([]config.Channel{ch("ops", "#ops", "release.*"), ch("sec", "#sec", "login.*")}, config.DeployApprovalAlerts{})
	h.Alert(alert, logpos.Position{Gen: 1, Offset: 2})
	if len(s.got) != 1 || s.got[0] != "ops #ops" {
		t.Errorf("no rule routes it: %v, want the first channel", s.got)
	}
	commitSync(t, h)
	if v := value(t, m.LogLines.WithLabelValues("event")); v != 0 {
		t.Errorf("counted as %v lines read", v)
	}
	if v := value(t, m.EventsRouted.WithLabelValues("ops")); v != 1 {
		t.Errorf("routed %v", v)
	}

	h, s, _ = mk([]config.Channel{ch("ops", "#ops", "release.*"), ch("sec", "#sec", "auditfwd.*", "login.*"), ch("all", "#all", "*")}, config.DeployApprovalAlerts{})
	h.Alert(alert, logpos.Position{Gen: 1, Offset: 2})
	if len(s.got) != 2 || s.got[0] != "sec #sec" || s.got[1] != "all #all" {
		t.Errorf("rules route it: %v, want sec and all", s.got)
	}

	h, s, _ = mk([]config.Channel{}, config.DeployApprovalAlerts{Enabled: true, SlackChannel: "#approvals", Actions: []string{"deploy_approval_request.create"}})
	h.Alert(alert, logpos.Position{Gen: 1, Offset: 2})
	if len(s.got) != 1 || s.got[0] != "deploy_approval_alerts #approvals" {
		t.Errorf("no channels, alerts enabled: %v", s.got)
	}

	h, s, m = mk([]config.Channel{}, config.DeployApprovalAlerts{})
	h.Alert(alert, logpos.Position{Gen: 1, Offset: 2})
	commitSync(t, h)
	if len(s.got) != 0 || value(t, m.EventsUnrouted) != 1 {
		t.Errorf("nowhere to go: %v, unrouted %v", s.got, value(t, m.EventsUnrouted))
	}
}
