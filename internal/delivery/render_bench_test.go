package delivery

import (
	"testing"

	"github.com/auditfwd/auditfwd/bench/workload"
	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/slack"
)

// BenchmarkRenderRoutedEvent is what redaction and templates cost per
// routed event (BENCHMARKS.md): the reference workload's routed events laid
// out one per message, as a sender posts them when it has no backlog, with
// the zero Renderer (neither), the default config (the built-in
// detectors), detectors with redact.fields and redact.patterns, and all of
// that with a template. Lines no rule routes are never rendered: the
// per-line cost of redaction and templates is nil (BenchmarkHandlerLine in
// internal/pipeline is the per-line path).
func BenchmarkRenderRoutedEvent(b *testing.B) {
	g := workload.New(workload.DefaultSeed)
	var events []event.Event
	for len(events) < 512 {
		ev, err := event.Parse(g.Line(workload.Routed))
		if err != nil {
			b.Fatal(err)
		}
		events = append(events, ev)
	}
	const rule = "channels:\n  - name: security\n    slack_channel: '#security'\n    actions: ['*']\n"
	const tmpl = "    template:\n      title: '{{.user_email}} {{.action}} on {{.resource | default \"nothing\"}}'\n      fields: [user, status, ip_address, user_agent, command]\n"
	const fields = "redact:\n  fields: [command, 'details.*token*']\n  patterns: ['\\bcase-\\d{6}\\b']\n"
	for _, c := range []struct{ name, yaml, template string }{
		{"nothing", "", ""},
		{"detectors", rule, ""},
		{"detectors+fields+patterns", rule + fields, ""},
		{"detectors+fields+patterns+template", rule + tmpl + fields, "security"},
	} {
		b.Run(c.name, func(b *testing.B) {
			r := &slack.Renderer{}
			if c.yaml != "" {
				cfg, err := config.Parse([]byte(c.yaml), "bench.yaml")
				if err != nil {
					b.Fatal(err)
				}
				if r, err = NewRenderer(cfg, nil, nil); err != nil {
					b.Fatal(err)
				}
			}
			how := slack.Routing{Templates: []string{c.template}}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				r.Pack(events[i%len(events):i%len(events)+1], how)
				i++
			}
		})
	}
}

// BenchmarkPackDigest is a sender's rendering during a catch-up: the
// reference workload's routed events packed into digests with the default
// config (the built-in detectors), each Pack given the next 50 held events
// as the sender gives them, the next starting after what the last one took.
// Per op: one digest (about 24 events).
func BenchmarkPackDigest(b *testing.B) {
	g := workload.New(workload.DefaultSeed)
	var events []event.Event
	for len(events) < 2048 {
		ev, err := event.Parse(g.Line(workload.Routed))
		if err != nil {
			b.Fatal(err)
		}
		events = append(events, ev)
	}
	cfg, err := config.Parse([]byte("channels:\n  - name: security\n    slack_channel: '#security'\n    actions: ['*']\n"), "bench.yaml")
	if err != nil {
		b.Fatal(err)
	}
	r, err := NewRenderer(cfg, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i, packed := 0, 0
	for b.Loop() {
		if i+50 > len(events) {
			i = 0
		}
		_, n := r.Pack(events[i:i+50], slack.Routing{})
		i += n
		packed += n
	}
	b.ReportMetric(float64(packed)/float64(b.N), "events/op")
}
