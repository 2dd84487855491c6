package threads

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/logpos"
)

func thread(ch, key string, now time.Time) Thread {
	line := `{"action":"login.oauth_failed","ip_address":"` + key + `"}`
	ev, _ := event.Parse([]byte(line))
	th := New(ch, "ip_address="+key, Spec{By: "ip_address", Window: time.Hour}, &ev, []byte(line), now)
	th.SlackChannel, th.TS = "C1", "1700000000.000100"
	return th
}

func requestThread(id string, now time.Time) Thread {
	line := `{"action":"deploy_approval_request.create","resource":"` + id + `","status":"success","user_email":"bob@example.com"}`
	ev, _ := event.Parse([]byte(line))
	th := New("deploy_approval_alerts", "deploy_approval_request="+id, Spec{Approval: true}, &ev, []byte(line), now)
	th.SlackChannel, th.TS = "C2", "1700000000.000200"
	return th
}

func openTable(t *testing.T, path string, now time.Time, b Budgets, evicted func(Thread)) (*Table, *Journal) {
	t.Helper()
	j := OpenJournal(path, nil)
	tb := NewTable(t.Context(), TableOptions{Records: j, Budgets: b, Evicted: evicted}, now)
	t.Cleanup(func() { tb.Close() })
	return tb, j
}

func TestJournalSurvivesReopenTornLineAndCorruption(t *testing.T) {
	now := time.Now()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "threads.jsonl")
	s, _ := openTable(t, path, now, Budgets{}, nil)
	a, b := thread("security", "a", now), thread("security", "b", now)
	a.Mark(logpos.Position{Gen: 1, Offset: 10}, []byte("x"))
	for _, th := range []Thread{a, b} {
		if err := s.Put(ctx, th); err != nil {
			t.Fatal(err)
		}
	}
	a.Count = 7
	if err := s.Put(ctx, a); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, _ = openTable(t, path, now, Budgets{}, nil)
	got, ok := s.Get("security", a.Key, now)
	if !ok || got.Count != 7 || got.TS != a.TS || !got.Applied(logpos.Position{Gen: 1, Offset: 10}, []byte("x")) {
		t.Fatalf("after reopen: %+v %v", got, ok)
	}
	if n := s.Count("security", now); n != 2 {
		t.Fatalf("open threads %d, want 2", n)
	}
	if err := s.Put(ctx, got); err != nil { // the journal is compacted: one line per thread
		t.Fatal(err)
	}
	s.Close()
	if data, _ := os.ReadFile(path); strings.Count(string(data), "\n") != 2 {
		t.Fatalf("the journal was not compacted:\n%s", data)
	}

	// A crash mid-append leaves a torn last line: dropped, nothing set aside.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"channel":"security","key":"ip_address=c","ts":"17`)
	f.Close()
	s, _ = openTable(t, path, now, Budgets{}, nil)
	if _, ok := s.Get("security", "ip_address=c", now); ok {
		t.Fatal("a torn line was read")
	}
	if _, ok := s.Get("security", b.Key, now); !ok {
		t.Fatal("intact thread lost after a torn line")
	}
	if aside, _ := filepath.Glob(path + ".corrupt-*"); len(aside) != 0 {
		t.Fatalf("a torn last line set the file aside: %v", aside)
	}
	// The next write does not continue the torn line.
	if err := s.Put(ctx, thread("security", "d", now)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, _ = openTable(t, path, now, Budgets{}, nil)
	if n := s.Count("security", now); n != 3 {
		t.Fatalf("%d threads after a write that followed a torn line, want 3", n)
	}
	if aside, _ := filepath.Glob(path + ".corrupt-*"); len(aside) != 0 {
		t.Fatalf("a write after a torn line made the file corrupt: %v", aside)
	}
	s.Close()

	// A corrupt line in the middle: set aside, the intact threads kept.
	data, _ := os.ReadFile(path)
	os.WriteFile(path, append([]byte("\x00\x00garbage\n"), data...), 0o600)
	s, _ = openTable(t, path, now, Budgets{}, nil)
	if _, ok := s.Get("security", a.Key, now); !ok {
		t.Fatal("intact thread lost after corruption")
	}
	if aside, _ := filepath.Glob(path + ".corrupt-*"); len(aside) != 1 {
		t.Fatalf("corrupt file not set aside: %v", aside)
	}
	s.Close()
	if data, _ := os.ReadFile(path); strings.Contains(string(data), "garbage") || !strings.Contains(string(data), a.Key) {
		t.Fatalf("the journal after corruption:\n%s", data)
	}
}

func TestTableForgetsAfterTheWindowAndStaysBounded(t *testing.T) {
	now := time.Now()
	path := filepath.Join(t.TempDir(), "threads.jsonl")
	var evicted []string
	s, _ := openTable(t, path, now, Budgets{By: 50, Approval: 50}, func(th Thread) { evicted = append(evicted, th.Key) })
	for i := range 200 {
		th := thread("security", fmt.Sprintf("k%03d", i), now.Add(time.Duration(i)*time.Millisecond))
		if err := s.Put(t.Context(), th); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Count("security", now); n != 50 {
		t.Fatalf("%d threads kept, want the budget 50", n)
	}
	// The least recently changed go first.
	if len(evicted) != 150 || evicted[0] != "ip_address=k000" || evicted[149] != "ip_address=k149" {
		t.Fatalf("evicted %d, first %v", len(evicted), evicted[:min(3, len(evicted))])
	}
	if n := s.Count("security", now.Add(2*time.Hour)); n != 0 {
		t.Fatalf("%d threads still open after the window", n)
	}
	s.Close()
	later := now.Add(2 * time.Hour)
	s, _ = openTable(t, path, later, Budgets{}, nil)
	if n := s.Count("security", later); n != 0 {
		t.Fatalf("reopened after the window: %d threads", n)
	}
	s.Put(t.Context(), thread("security", "fresh", later))
	s.Close()
	if data, _ := os.ReadFile(path); strings.Count(string(data), "\n") != 1 {
		t.Fatalf("the journal still holds forgotten threads:\n%s", data)
	}
}

// No thread_by flood evicts a request's thread: each class has its own
// budget, and eviction is counted and said.
func TestFloodCannotEvictARequest(t *testing.T) {
	now := time.Now()
	path := filepath.Join(t.TempDir(), "threads.jsonl")
	evicted := map[string]int{}
	s, _ := openTable(t, path, now, Budgets{By: 100, Approval: 3}, func(th Thread) { evicted[th.Channel]++ })
	ctx := t.Context()
	for _, id := range []string{"77", "78"} {
		if err := s.Put(ctx, requestThread(id, now)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 1010 {
		if err := s.Put(ctx, thread("security", fmt.Sprintf("10.0.%d.%d", i/256, i%256), now.Add(time.Duration(i+1)*time.Millisecond))); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"77", "78"} {
		if _, ok := s.Get("deploy_approval_alerts", "deploy_approval_request="+id, now); !ok {
			t.Fatalf("the flood evicted request %s", id)
		}
	}
	if evicted["security"] != 910 || evicted["deploy_approval_alerts"] != 0 {
		t.Fatalf("evictions %v, want 910 flood threads and no request", evicted)
	}
	// Requests over their own budget: the oldest request goes.
	for _, id := range []string{"79", "80"} {
		s.Put(ctx, requestThread(id, now.Add(time.Second)))
	}
	if _, ok := s.Get("deploy_approval_alerts", "deploy_approval_request=77", now); ok || evicted["deploy_approval_alerts"] != 1 {
		t.Fatalf("requests over budget: 77 kept, %d evicted", evicted["deploy_approval_alerts"])
	}
	s.Close()
	// The budgets hold across a restart too.
	s, _ = openTable(t, path, now.Add(2*time.Second), Budgets{By: 100, Approval: 3}, nil)
	if a, b := s.Count("deploy_approval_alerts", now), s.Count("security", now); a != 3 || b != 100 {
		t.Fatalf("after a restart: %d requests, %d flood threads", a, b)
	}
}

// memRecords is Records in a map: what another store (a database) must
// do, and enough for the table.
type memRecords struct {
	mu sync.Mutex
	m  map[string]Thread
}

func (r *memRecords) Load(context.Context) ([]Thread, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Thread
	for _, t := range r.m {
		out = append(out, t)
	}
	return out, nil
}

func (r *memRecords) Save(_ context.Context, t Thread) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[mapKey(t.Channel, t.Key)] = t.Clone()
	return nil
}

func (r *memRecords) Forget(_ context.Context, channel, key string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, mapKey(channel, key))
	return nil
}

func TestTableOnAnyRecords(t *testing.T) {
	now := time.Now()
	rec := &memRecords{m: map[string]Thread{}}
	s := NewTable(t.Context(), TableOptions{Records: rec, Budgets: Budgets{By: 2}}, now)
	for _, k := range []string{"a", "b", "c"} {
		s.Put(t.Context(), thread("security", k, now))
	}
	s.Put(t.Context(), requestThread("77", now))
	if len(rec.m) != 3 {
		t.Fatalf("the records hold %d threads, want 3 (one evicted)", len(rec.m))
	}
	s = NewTable(t.Context(), TableOptions{Records: rec}, now)
	if th, ok := s.Get("deploy_approval_alerts", "deploy_approval_request=77", now); !ok || th.Request.State != Pending {
		t.Fatalf("request 77 after a reload: %+v %v", th, ok)
	}
	if _, ok := s.Get("security", "ip_address=a", now); ok {
		t.Fatal("the evicted thread came back")
	}
}

// A crash can cut the journal anywhere in its last line: at every cut, the
// intact threads load, the next write does not continue the torn line, and
// the file stays readable (nothing set aside).
func TestJournalCutAnywhere(t *testing.T) {
	now := time.Now()
	dir := t.TempDir()
	full := filepath.Join(dir, "full.jsonl")
	s, _ := openTable(t, full, now, Budgets{}, nil)
	for _, k := range []string{"a", "b", "c"} {
		if err := s.Put(t.Context(), thread("security", k, now)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	data, err := os.ReadFile(full)
	if err != nil {
		t.Fatal(err)
	}
	lastStart := strings.LastIndexByte(string(data[:len(data)-1]), '\n') + 1
	for cut := lastStart; cut <= len(data); cut++ {
		path := filepath.Join(dir, fmt.Sprintf("cut-%d.jsonl", cut))
		if err := os.WriteFile(path, data[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		s, _ := openTable(t, path, now, Budgets{}, nil)
		wantC := cut == len(data)
		if _, ok := s.Get("security", "ip_address=c", now); ok != wantC {
			t.Fatalf("cut at %d of %d: thread c loaded %v", cut, len(data), ok)
		}
		if err := s.Put(t.Context(), thread("security", "d", now)); err != nil {
			t.Fatal(err)
		}
		s.Close()
		s, _ = openTable(t, path, now, Budgets{}, nil)
		for _, k := range []string{"a", "b", "d"} {
			if _, ok := s.Get("security", "ip_address="+k, now); !ok {
				t.Fatalf("cut at %d: thread %s lost after the next write", cut, k)
			}
		}
		s.Close()
		if aside, _ := filepath.Glob(path + ".corrupt-*"); len(aside) != 0 {
			t.Fatalf("cut at %d: the file was set aside", cut)
		}
	}
	t.Logf("%d cuts of the last line", len(data)-lastStart+1)
}

// A flood at the full budget: each new thread evicts one, in constant time.
func BenchmarkTablePutAtBudget(b *testing.B) {
	now := time.Now()
	s := NewTable(b.Context(), TableOptions{}, now)
	ths := make([]Thread, DefaultBudgets.By)
	for i := range ths {
		ths[i] = thread("security", fmt.Sprintf("10.%d.%d.%d", i>>16, i>>8&255, i&255), now)
		s.Put(b.Context(), ths[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		th := ths[i%len(ths)]
		th.Key = fmt.Sprintf("ip_address=flood-%d", i)
		s.Put(b.Context(), th)
	}
}
