package workload

import (
	"bytes"
	"testing"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/rules"
)

func TestMixAndDeterminism(t *testing.T) {
	var a, b bytes.Buffer
	st, err := Write(&a, 10000, DefaultSeed)
	if err != nil {
		t.Fatal(err)
	}
	Write(&b, 10000, DefaultSeed)
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("not deterministic")
	}
	if st.Routed != 100 || st.ByKind[Routed] != 100 {
		t.Fatalf("routed %d", st.Routed)
	}
	avg := float64(st.Bytes) / float64(st.Lines)
	t.Logf("kinds %v, %.0f bytes a line", st.ByKind, avg)
	if avg < 300 || avg > 360 {
		t.Errorf("average line %.0f bytes", avg)
	}
	for i, line := range bytes.Split(bytes.TrimSuffix(a.Bytes(), []byte("\n")), []byte("\n")) {
		kind, _ := event.Classify(line)
		if kind == event.KindMalformed {
			t.Fatalf("line %d malformed: %s", i, line)
		}
	}
}

func TestKindsRouteAsLabelled(t *testing.T) {
	cfg, err := config.Load("../../configs/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := rules.Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	g := New(DefaultSeed)
	var f event.Fields
	for i := range 20000 {
		line, kind := g.Next()
		k, action := event.ClassifyFields(line, &f)
		dests := r.RouteEvent(action, &f)
		switch {
		case kind == HTTP && k != event.KindNotAudit,
			kind != HTTP && k != event.KindEvent,
			kind == Routed && len(dests) == 0,
			(kind == Proxy || kind == Unrouted) && len(dests) != 0:
			t.Fatalf("line %d (kind %d) classified %v, routes %v: %s", i, kind, k, dests, line)
		}
	}
	if k, _ := event.Classify(bytes.TrimSpace(LatencyEvent(3, Base))); k != event.KindEvent {
		t.Fatal("latency event")
	}
}
