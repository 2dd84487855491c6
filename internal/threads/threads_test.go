package threads

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/logpos"
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

func thread(ch, key string, now time.Time) Thread {
	line := `{"action":"login.oauth_failed","ip_address":"` + key + `"}`
	ev, _ := event.Parse([]byte(line))
	th := New(ch, "ip_address="+key, Spec{By: "ip_address", Window: time.Hour}, &ev, []byte(line), now)
	th.SlackChannel, th.TS = "C1", "1700000000.000100"
	return th
}

func TestStoreSurvivesReopenTornLineAndCorruption(t *testing.T) {
	now := time.Now()
	path := filepath.Join(t.TempDir(), "threads.jsonl")
	s := Open(path, nil, now)
	a, b := thread("security", "a", now), thread("security", "b", now)
	a.Mark(logpos.Position{Gen: 1, Offset: 10}, []byte("x"))
	for _, th := range []Thread{a, b} {
		if err := s.Put(th); err != nil {
			t.Fatal(err)
		}
	}
	a.Count = 7
	if err := s.Put(a); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = Open(path, nil, now)
	got, ok := s.Get("security", a.Key, now)
	if !ok || got.Count != 7 || got.TS != a.TS || !got.Applied(logpos.Position{Gen: 1, Offset: 10}, []byte("x")) {
		t.Fatalf("after reopen: %+v %v", got, ok)
	}
	if n := s.Count("security", now); n != 2 {
		t.Fatalf("open threads %d, want 2", n)
	}
	s.Close()

	// A crash mid-append leaves a torn last line: dropped, nothing set aside.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"channel":"security","key":"ip_address=c","ts":"17`)
	f.Close()
	s = Open(path, nil, now)
	if _, ok := s.Get("security", "ip_address=c", now); ok {
		t.Fatal("a torn line was read")
	}
	if _, ok := s.Get("security", b.Key, now); !ok {
		t.Fatal("intact thread lost after a torn line")
	}
	if aside, _ := filepath.Glob(path + ".corrupt-*"); len(aside) != 0 {
		t.Fatalf("a torn last line set the file aside: %v", aside)
	}
	s.Close()

	// A corrupt line in the middle: set aside, the intact threads kept.
	data, _ := os.ReadFile(path)
	os.WriteFile(path, append([]byte("\x00\x00garbage\n"), data...), 0o600)
	s = Open(path, nil, now)
	if _, ok := s.Get("security", a.Key, now); !ok {
		t.Fatal("intact thread lost after corruption")
	}
	if aside, _ := filepath.Glob(path + ".corrupt-*"); len(aside) != 1 {
		t.Fatalf("corrupt file not set aside: %v", aside)
	}
	s.Close()
	if data, _ := os.ReadFile(path); strings.Contains(string(data), "garbage") {
		t.Fatal("the garbage is still in the journal")
	}
}

func TestStoreForgetsAfterTheWindowAndStaysBounded(t *testing.T) {
	now := time.Now()
	path := filepath.Join(t.TempDir(), "threads.jsonl")
	s := Open(path, nil, now)
	s.max = 50
	for i := range 200 {
		th := thread("security", strings.Repeat("k", 1+i%7)+string(rune('a'+i%26))+time.Duration(i).String(), now.Add(time.Duration(i)*time.Millisecond))
		if err := s.Put(th); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Count("security", now); n != 50 {
		t.Fatalf("%d threads kept, want the bound 50", n)
	}
	if n := s.Count("security", now.Add(2*time.Hour)); n != 0 {
		t.Fatalf("%d threads still open after the window", n)
	}
	s.Close()
	s = Open(path, nil, now.Add(2*time.Hour))
	if n := s.Count("security", now.Add(2*time.Hour)); n != 0 {
		t.Fatalf("reopened after the window: %d threads", n)
	}
	s.Close()
	if data, _ := os.ReadFile(path); len(data) != 0 {
		t.Fatalf("the journal still holds forgotten threads: %d bytes", len(data))
	}
}
