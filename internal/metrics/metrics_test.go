package metrics

import (
	"testing"

	"github.com/auditfwd/auditfwd/internal/buildinfo"
)

func TestBuildInfoLabels(t *testing.T) {
	m := New("1.2.3")
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	b := buildinfo.Get()
	want := map[string]string{"version": "1.2.3", "commit": b.Commit, "build_date": b.Date, "goversion": b.GoVersion}
	for _, f := range families {
		if f.GetName() != "auditfwd_build_info" {
			continue
		}
		if len(f.GetMetric()) != 1 {
			t.Fatalf("%d series", len(f.GetMetric()))
		}
		s := f.GetMetric()[0]
		got := map[string]string{}
		for _, l := range s.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if len(got) != len(want) || s.GetGauge().GetValue() != 1 {
			t.Fatalf("auditfwd_build_info %v = %v, want %v = 1", got, s.GetGauge().GetValue(), want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("label %s = %q, want %q", k, got[k], v)
			}
		}
		return
	}
	t.Fatal("no auditfwd_build_info")
}
