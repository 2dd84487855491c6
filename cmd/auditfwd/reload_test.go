package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/fakeslack"
	"github.com/auditfwd/auditfwd/internal/testenv"
)

// The reload tests move login.* between two channels: "sec" (#security) and
// "ops" (#ops). The other one gets release.*.

const (
	reloadStamp = "auditfwd_config_last_reload_success_timestamp_seconds"
	reloadOK    = "auditfwd_config_last_reload_successful"
)

var slackID = map[string]string{"sec": idSecurity, "ops": idOps}

func other(ch string) string {
	if ch == "sec" {
		return "ops"
	}
	return "sec"
}

// loginTo returns a channels block sending login.* to ch (sec or ops).
func loginTo(ch string) string {
	pat := map[string]string{ch: "login.*", other(ch): "release.*"}
	return fmt.Sprintf(`channels:
  - name: sec
    slack_channel: "#security"
    actions: [%q]
  - name: ops
    slack_channel: "#ops"
    actions: [%q]
`, pat["sec"], pat["ops"])
}

// reloadEnv is a running daemon whose rules the test edits, and the events it
// expects where.
type reloadEnv struct {
	t    *testing.T
	s    *fakeslack.Server
	d    *testenv.Daemon
	base string // the testenv config without channels

	next int            // next event number
	want map[int]string // event → channel name
}

// newReloadEnv starts a daemon with login.* going to first.
func newReloadEnv(t *testing.T, first string) *reloadEnv {
	t.Helper()
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{})
	base, err := os.ReadFile(d.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	e := &reloadEnv{t: t, s: s, d: d, base: string(base), want: map[int]string{}}
	d.WriteConfig(e.config(first))
	return e
}

func (e *reloadEnv) config(login string) string { return e.base + loginTo(login) }

// stamp is the last successful reload's time.
func (e *reloadEnv) stamp() float64 {
	e.t.Helper()
	return e.d.MustMetric(reloadStamp)
}

// waitStamp waits until a reload after the one at prev succeeded: the new
// rules are in force from then on.
func (e *reloadEnv) waitStamp(prev float64, what string) {
	e.t.Helper()
	testenv.Eventually(e.t, 15*time.Second, "a successful reload after "+what, func() bool {
		v, _ := e.d.Metric(reloadStamp)
		return v > prev
	})
	if v := e.d.MustMetric(reloadOK); v != 1 {
		e.t.Fatalf("%s = %v after a successful reload", reloadOK, v)
	}
}

// waitOK waits for auditfwd_config_last_reload_successful to be v.
func (e *reloadEnv) waitOK(v float64, what string) {
	e.t.Helper()
	testenv.Eventually(e.t, 15*time.Second, fmt.Sprintf("%s = %v after %s", reloadOK, v, what), func() bool {
		got, ok := e.d.Metric(reloadOK)
		return ok && got == v
	})
}

// waitLog waits until the daemon has logged text at least n times.
func (e *reloadEnv) waitLog(text string, n int) {
	e.t.Helper()
	testenv.Eventually(e.t, 15*time.Second, fmt.Sprintf("log %q (%d times)", text, n), func() bool {
		return strings.Count(e.d.Output(), text) >= n
	})
}

// sendLogin appends a login.complete event and waits until it reached ch;
// the routed counters then show whether it went anywhere else too.
func (e *reloadEnv) sendLogin(ch string) {
	e.t.Helper()
	n := e.next
	e.next++
	e.want[n] = ch
	e.d.Append(testenv.Event("login.complete", n))
	waitEvents(e.t, e.s, slackID[ch], n, n+1, 20*time.Second)
	e.checkRouted()
}

// checkRouted compares the routed counters with what the test expects so
// far: every event went to exactly the channel its rules named.
func (e *reloadEnv) checkRouted() {
	e.t.Helper()
	count := map[string]float64{}
	for _, ch := range e.want {
		count[ch]++
	}
	for _, ch := range []string{"sec", "ops"} {
		got, _ := e.d.Metric("auditfwd_events_routed_total", "channel="+ch)
		if got != count[ch] {
			e.t.Fatalf("events routed to %s: %v, want %v (expected routes: %v)", ch, got, count[ch], e.want)
		}
	}
}

// checkDelivered asserts that every event reached its channel exactly once
// and no other.
func (e *reloadEnv) checkDelivered() {
	e.t.Helper()
	for _, ch := range []string{"sec", "ops"} {
		c, _ := testenv.CountMarkers(texts(e.s, slackID[ch]))
		for n := 0; n < e.next; n++ {
			want := 0
			if e.want[n] == ch {
				want = 1
			}
			if c[n] != want {
				e.t.Errorf("event %d reached %s %d times, want %d", n, ch, c[n], want)
			}
		}
	}
}

// writeRename saves like an editor: a temp file in the same directory,
// renamed over the config.
func writeRename(t *testing.T, path, data string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// lineOf is the 1-based line of the first line of text containing s.
func lineOf(t *testing.T, text, s string) int {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	t.Fatalf("%q not in the config", s)
	return 0
}

func shortSum(data string) string {
	sum := sha256.Sum256([]byte(data))
	return hex.EncodeToString(sum[:6])
}

func TestReloadFileEditsApplyLive(t *testing.T) {
	e := newReloadEnv(t, "sec")
	d := e.d
	d.Start()
	// SIGHUP right after start-up: reloads, and is never fatal.
	prev := e.stamp()
	d.Signal(syscall.SIGHUP)
	e.waitStamp(prev, "SIGHUP at start-up")
	e.sendLogin("sec")

	prev = e.stamp()
	writeRename(t, d.ConfigPath, e.config("ops"))
	e.waitStamp(prev, "an atomic rename")
	e.waitLog("its rules are in force", 1)
	e.sendLogin("ops")

	prev = e.stamp()
	d.WriteConfig(e.config("sec"))
	e.waitStamp(prev, "a write in place")
	e.sendLogin("sec")

	// 50 rapid writes in place, alternating; the last one sends logins to ops.
	reloadsBefore := strings.Count(d.Output(), "config reloaded")
	var last string
	for i := 0; i < 50; i++ {
		last = fmt.Sprintf("# revision %d\n", i) + e.config([]string{"sec", "ops"}[i%2])
		d.WriteConfig(last)
	}
	e.waitLog("sha256="+shortSum(last), 1)
	e.waitOK(1, "the last of 50 writes")
	e.sendLogin("ops")
	if n := strings.Count(d.Output(), "config reloaded") - reloadsBefore; n > 10 {
		t.Errorf("50 rapid writes caused %d reloads; the watch should debounce them", n)
	}

	// SIGHUP with the file unchanged still reloads.
	prev = e.stamp()
	d.Signal(syscall.SIGHUP)
	e.waitStamp(prev, "SIGHUP with an unchanged file")
	e.waitLog("config reloaded; its rules are in force\" trigger=SIGHUP", 2)
	e.sendLogin("ops")

	// A restart-only key: logged, not applied; the routing change in the
	// same edit is.
	moved := strings.Replace(e.config("sec"), "listen: "+d.Metrics, "listen: "+testenv.FreeAddr(t), 1)
	if moved == e.config("sec") {
		t.Fatal("metrics.listen not found in the config")
	}
	prev = e.stamp()
	writeRename(t, d.ConfigPath, moved)
	e.waitStamp(prev, "a change to metrics.listen") // still served on the old address
	e.waitLog("need a restart to take effect; running with their old values until then\" keys=metrics.listen", 1)
	e.sendLogin("sec")

	e.checkDelivered()
}

func TestReloadInvalidEditKeepsOldRules(t *testing.T) {
	e := newReloadEnv(t, "sec")
	d := e.d
	d.Start()
	e.sendLogin("sec")
	// fails counts the invalid edits; each is logged as a failed reload
	// (an edit in place may be read half-written too, and fail once more).
	fails := 0
	failedBefore := strings.Count(d.Output(), "config reload failed")

	// A malformed pattern: the old rules stay, the metric says so, the log
	// names the line.
	bad := strings.Replace(e.config("ops"), `"login.*"`, `"login.["`, 1)
	writeRename(t, d.ConfigPath, bad)
	e.waitOK(0, "a malformed pattern")
	fails++
	e.waitLog(fmt.Sprintf(`%s:%d: channel \"ops\": malformed pattern \"login.[\"`, d.ConfigPath, lineOf(t, bad, "login.[")), 1)
	e.sendLogin("sec")

	prev := e.stamp()
	d.WriteConfig(e.config("ops"))
	e.waitStamp(prev, "fixing the pattern")
	e.sendLogin("ops")
	good := e.stamp() // no invalid edit below may move it

	// An unknown key, in place.
	bad = strings.Replace(e.config("sec"), "  - name: ops\n", "  - name: ops\n    colour: red\n", 1)
	d.WriteConfig(bad)
	e.waitOK(0, "an unknown key")
	fails++
	e.waitLog(fmt.Sprintf(`%s:%d: unknown key \"colour\" in channels[1]`, d.ConfigPath, lineOf(t, bad, "colour")), 1)
	e.sendLogin("ops")

	// An editor caught mid-save: empty, then comments only. Refused.
	d.WriteConfig("")
	e.waitLog("the file is empty", 1)
	fails++
	d.WriteConfig("# auditfwd\n# nothing yet\n")
	e.waitLog("the file is empty", 2)
	fails++
	e.sendLogin("ops")
	if v := d.MustMetric(reloadOK); v != 0 {
		t.Fatalf("%s = %v with an empty file", reloadOK, v)
	}

	// YAML that does not parse.
	d.WriteConfig(e.config("sec") + "  - name: [oops\n")
	e.waitLog("invalid YAML", 1)
	fails++
	e.sendLogin("ops")

	if got := strings.Count(d.Output(), "config reload failed") - failedBefore; got < fails {
		t.Errorf("%d invalid edits, %d failed reloads logged", fails, got)
	}
	if v := e.stamp(); v != good {
		t.Errorf("the last successful reload's time moved during invalid edits: %v, was %v", v, good)
	}
	if v := d.MustMetric(reloadOK); v != 0 {
		t.Errorf("%s = %v after invalid edits", reloadOK, v)
	}

	prev = e.stamp()
	writeRename(t, d.ConfigPath, e.config("sec"))
	e.waitStamp(prev, "a good edit")
	e.sendLogin("sec")
	e.checkDelivered()
}

// configMap lays out a config the way the kubelet mounts a ConfigMap:
// config.yaml -> ..data/config.yaml, ..data -> ..<timestamp>, and an update
// is a new timestamped directory and an atomic swap of ..data.
type configMap struct {
	t   *testing.T
	dir string
	n   int
	cur string
}

func newConfigMap(t *testing.T, path, data string) *configMap {
	t.Helper()
	c := &configMap{t: t, dir: filepath.Dir(path)}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	c.cur = c.writeDir(data)
	if err := os.Symlink(c.cur, filepath.Join(c.dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("..data", filepath.Base(path)), path); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *configMap) writeDir(data string) string {
	c.n++
	name := fmt.Sprintf("..2026_03_20_01_12_%02d.%09d", c.n, c.n)
	if err := os.Mkdir(filepath.Join(c.dir, name), 0o755); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.dir, name, "config.yaml"), []byte(data), 0o644); err != nil {
		c.t.Fatal(err)
	}
	return name
}

// update is what the kubelet's AtomicWriter does.
func (c *configMap) update(data string) {
	name := c.writeDir(data)
	tmp := filepath.Join(c.dir, "..data_tmp")
	if err := os.Symlink(name, tmp); err != nil {
		c.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, "..data")); err != nil {
		c.t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(c.dir, c.cur)); err != nil {
		c.t.Fatal(err)
	}
	c.cur = name
}

func TestReloadConfigMapSymlinkSwap(t *testing.T) {
	e := newReloadEnv(t, "sec")
	d := e.d
	cm := newConfigMap(t, d.ConfigPath, e.config("sec"))
	d.Start()
	e.sendLogin("sec")
	for _, ch := range []string{"ops", "sec", "ops"} {
		prev := e.stamp()
		cm.update(e.config(ch))
		e.waitStamp(prev, "a ConfigMap update to "+ch)
		e.sendLogin(ch)
	}
	// A broken ConfigMap keeps the rules.
	cm.update(strings.Replace(e.config("sec"), `"login.*"`, `"login.["`, 1))
	e.waitOK(0, "a ConfigMap with a malformed pattern")
	e.sendLogin("ops")
	e.checkDelivered()
}

func TestReloadNoEventLostOrRepeatedUnderAppends(t *testing.T) {
	e := newReloadEnv(t, "sec")
	d := e.d
	d.Start()
	const perSecond, total, changes = 200, 1000, 5
	f, err := os.OpenFile(d.LogPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var written atomic.Int64 // events 0..written-1 are in the file
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second / perSecond)
		defer tick.Stop()
		for i := 0; i < total; i++ {
			<-tick.C
			if _, err := fmt.Fprintln(f, testenv.Event("login.complete", i)); err != nil {
				t.Error(err)
				return
			}
			written.Store(int64(i + 1))
		}
	}()

	// phase k: events in [from, to) were written while the rules sending
	// logins to ch were in force, and no others.
	type phase struct {
		ch       string
		from, to int
	}
	phases := []phase{{ch: "sec"}}
	ch := "sec"
	for k := 0; k < changes; k++ {
		for written.Load() < int64((k+1)*total/(changes+2)) {
			time.Sleep(5 * time.Millisecond) // pace the edits with the writer
		}
		ch = other(ch)
		phases[len(phases)-1].to = int(written.Load())
		prev := e.stamp()
		if k%2 == 0 {
			writeRename(t, d.ConfigPath, e.config(ch))
		} else {
			d.WriteConfig(e.config(ch))
		}
		e.waitStamp(prev, fmt.Sprintf("change %d", k+1))
		phases = append(phases, phase{ch: ch, from: int(written.Load())})
	}
	wg.Wait()
	phases[len(phases)-1].to = total

	// Exactly once across the union of both channels.
	union := testenv.Count{}
	testenv.Eventually(t, 60*time.Second, "every event in some channel", func() bool {
		union = testenv.Count{}
		for _, id := range []string{idSecurity, idOps} {
			c, _ := testenv.CountMarkers(texts(e.s, id))
			for n, k := range c {
				union[n] += k
			}
		}
		missing, _ := union.MissingDuplicates(0, total)
		return len(missing) == 0
	})
	if _, dups := union.MissingDuplicates(0, total); len(dups) > 0 {
		t.Fatalf("duplicated across the reloads: %v", head(dups))
	}
	if got := d.MustMetric("auditfwd_events_routed_total", "channel=sec") + d.MustMetric("auditfwd_events_routed_total", "channel=ops"); got != total {
		t.Fatalf("%v events routed, want %d", got, total)
	}
	// Per channel: log order, and after each reload took effect the new channel.
	secCount, _ := testenv.CountMarkers(texts(e.s, idSecurity))
	opsCount, _ := testenv.CountMarkers(texts(e.s, idOps))
	byChannel := map[string]testenv.Count{"sec": secCount, "ops": opsCount}
	checked := 0
	for _, p := range phases {
		for n := p.from; n < p.to; n++ {
			if byChannel[p.ch][n] != 1 || byChannel[other(p.ch)][n] != 0 {
				t.Fatalf("event %d, written while logins went to %s (events %d..%d), reached sec %d and ops %d times",
					n, p.ch, p.from, p.to-1, secCount[n], opsCount[n])
			}
			checked++
		}
	}
	for _, id := range []string{idSecurity, idOps} {
		_, order := testenv.CountMarkers(texts(e.s, id))
		for i := 1; i < len(order); i++ {
			if order[i] < order[i-1] {
				t.Fatalf("%s: event %d arrived after %d", id, order[i], order[i-1])
			}
		}
	}
	t.Logf("%d events, %d rule changes; %d events written after a reload took effect checked for the new channel, %d written during a reload",
		total, changes, checked, total-checked)
}

// Adding thread_by to a rule, saved the way editors save (a temp file
// renamed over the config), threads the events that follow without a
// restart; the events before it stay messages of their own.
func TestReloadAddsThreadByLive(t *testing.T) {
	s := newSlack(t)
	rule := `  - name: security
    slack_channel: "#security"
    actions: ["login.*"]
`
	d := newDaemon(t, s, testenv.Options{Channels: rule})
	d.Start()
	pid := d.Pid()
	const ip = "203.0.113.9"
	d.Append(testenv.Event("login.oauth_failed", 1, "ip_address", ip), testenv.Event("login.oauth_failed", 2, "ip_address", ip))
	waitEvents(t, s, idSecurity, 1, 3, 20*time.Second)

	cfg, err := os.ReadFile(d.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	prev := d.MustMetric(reloadStamp)
	writeRename(t, d.ConfigPath, strings.Replace(string(cfg), rule, rule+"    thread_by: ip_address\n", 1))
	testenv.Eventually(t, 15*time.Second, "the reload that adds thread_by", func() bool {
		v, _ := d.Metric(reloadStamp)
		return v > prev
	})
	var lines []string
	for n := 3; n <= 6; n++ {
		lines = append(lines, testenv.Event("login.oauth_failed", n, "ip_address", ip))
	}
	d.Append(lines...)
	waitEvents(t, s, idSecurity, 1, 7, 20*time.Second)
	assertExactlyOnce(t, s, idSecurity, 1, 7)
	var parent fakeslack.Message
	testenv.Eventually(t, 20*time.Second, "a parent that shows 4 events", func() bool {
		ps := s.ChannelMessages(idSecurity)
		parent = ps[len(ps)-1]
		return strings.Contains(parent.Text, "4 events with ip_address "+ip)
	})
	before := map[int]int{}
	for _, p := range s.ChannelMessages(idSecurity) {
		if p.TS == parent.TS {
			continue
		}
		if len(s.Replies(idSecurity, p.TS)) != 0 {
			t.Errorf("a message sent before the reload has replies: %q", p.Text)
		}
		c, _ := testenv.CountMarkers([]string{p.AllText()})
		for n, k := range c {
			before[n] += k
		}
	}
	if len(before) != 2 || before[1] != 1 || before[2] != 1 {
		t.Errorf("messages outside the thread hold events %v, want 1 and 2 (sent before the reload)", before)
	}
	var replies []string
	for _, r := range s.Replies(idSecurity, parent.TS) {
		replies = append(replies, r.AllText())
	}
	if c, _ := testenv.CountMarkers(replies); len(c) != 3 || c[4] != 1 || c[5] != 1 || c[6] != 1 {
		t.Errorf("replies in the new thread hold events %v, want 4, 5 and 6 once each", c)
	}
	if d.Pid() != pid {
		t.Error("the daemon restarted")
	}
	if strings.Contains(d.Output(), "need a restart") {
		t.Error("thread_by was logged as needing a restart")
	}
}
