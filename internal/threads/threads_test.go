package threads

import (
	"strings"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/event"
)

func parse(t *testing.T, line string) *event.Event {
	t.Helper()
	ev, err := event.Parse([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	return &ev
}

func TestSpecRoundTrip(t *testing.T) {
	for _, s := range []Spec{{}, {Approval: true}, {By: "ip_address", Window: 24 * time.Hour}, {By: "odd key", Window: time.Minute}} {
		got, err := ParseSpec(s.String())
		if err != nil || got != s {
			t.Errorf("ParseSpec(%q) = %+v, %v; want %+v", s.String(), got, err, s)
		}
	}
	for _, bad := range []string{"by", "by 1h", "by nope ip", "by -1h ip", "sideways"} {
		if _, err := ParseSpec(bad); err == nil {
			t.Errorf("ParseSpec(%q) accepted", bad)
		}
	}
}

func TestKey(t *testing.T) {
	approval := Spec{Approval: true}
	byIP := Spec{By: "ip_address", Window: time.Hour}
	for _, c := range []struct {
		spec Spec
		line string
		want string
	}{
		{approval, `{"action":"deploy_approval_request.approve","resource":"42"}`, "deploy_approval_request=42"},
		{approval, `{"action":"deploy_approval_request.approve"}`, ""},
		{approval, `{"action":"release.promote","resource":"42"}`, ""},
		{byIP, `{"action":"login.oauth_failed","ip_address":"203.0.113.9"}`, "ip_address=203.0.113.9"},
		{byIP, `{"action":"login.oauth_failed","ip_address":null}`, ""},
		{Spec{By: "action", Window: time.Hour}, `{"action":"login.oauth_failed"}`, "action=login.oauth_failed"},
		{byIP, `{"action":"x","ip_address":12}`, "ip_address=12"},
	} {
		if got := c.spec.Key(parse(t, c.line)); got != c.want {
			t.Errorf("%v.Key(%s) = %q, want %q", c.spec, c.line, got, c.want)
		}
	}
	long := `{"action":"x","ip_address":"` + strings.Repeat("é", 500) + `"}`
	k := byIP.Key(parse(t, long))
	if len(k) > 260 || k == byIP.Key(parse(t, `{"action":"x","ip_address":"`+strings.Repeat("é", 499)+`"}`)) {
		t.Errorf("long values are not cut to a bounded, distinct key: %d bytes", len(k))
	}
}

func TestWindowIsSlidingFromTheLastEvent(t *testing.T) {
	now := time.Date(2026, 3, 20, 1, 0, 0, 0, time.UTC)
	line := `{"action":"login.oauth_failed","ip_address":"1.2.3.4","ts":"2026-03-20T01:00:00Z"}`
	th := New("security", "ip_address=1.2.3.4", Spec{By: "ip_address", Window: time.Hour}, parse(t, line), []byte(line), now)
	if !th.Joins(now.Add(59*time.Minute), now) || th.Joins(now.Add(61*time.Minute), now) {
		t.Fatal("window from the parent's event")
	}
	th.apply(parse(t, `{"action":"login.oauth_failed","ip_address":"1.2.3.4","ts":"2026-03-20T01:50:00Z"}`), now)
	if !th.Joins(now.Add(110*time.Minute), now) {
		t.Fatal("the window does not slide with the last event")
	}
	if th.Expired(now.Add(59*time.Minute)) || !th.Expired(now.Add(61*time.Minute)) {
		t.Fatal("forgotten a window after its last change")
	}
}
