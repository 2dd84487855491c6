package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/fakeslack"
	"github.com/auditfwd/auditfwd/internal/testenv"
)

const botToken = "xoxb-integration-test"

// Channel IDs of the fake workspace.
const (
	idSecurity = "C0SECURITY1"
	idInfra    = "C0INFRA0001"
	idDeploy   = "C0DEPLOY001"
	idOps      = "C0OPS000001"
)

func newSlack(t *testing.T) *fakeslack.Server {
	t.Helper()
	s, err := fakeslack.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	s.AddToken(botToken)
	s.AddChannel(idSecurity, "security", true)
	s.AddChannel(idInfra, "infrastructure", true)
	s.AddChannel(idDeploy, "deploy-approvals", true)
	s.AddChannel(idOps, "ops", true)
	return s
}

func newDaemon(t *testing.T, s *fakeslack.Server, o testenv.Options) *testenv.Daemon {
	t.Helper()
	o.APIURL = s.URL
	o.Env = append(o.Env, "SLACK_BOT_TOKEN="+botToken)
	return testenv.New(t, o)
}

// texts returns the text of every accepted post to channel, in order.
func texts(s *fakeslack.Server, channel string) []string {
	var out []string
	for _, p := range s.Posts() {
		if p.Channel == channel {
			out = append(out, p.AllText())
		}
	}
	return out
}

// waitEvents waits until every event in [from,to) reached channel at least once.
func waitEvents(t *testing.T, s *fakeslack.Server, channel string, from, to int, timeout time.Duration) testenv.Count {
	t.Helper()
	var c testenv.Count
	testenv.Eventually(t, timeout, fmt.Sprintf("events %d..%d in %s", from, to-1, channel), func() bool {
		c, _ = testenv.CountMarkers(texts(s, channel))
		missing, _ := c.MissingDuplicates(from, to)
		return len(missing) == 0
	})
	return c
}

func assertExactlyOnce(t *testing.T, s *fakeslack.Server, channel string, from, to int) {
	t.Helper()
	c, order := testenv.CountMarkers(texts(s, channel))
	missing, dups := c.MissingDuplicates(from, to)
	if len(missing) > 0 || len(dups) > 0 {
		t.Fatalf("%s: missing %d %v, duplicates %d %v", channel, len(missing), head(missing), len(dups), head(dups))
	}
	for i := 1; i < len(order); i++ {
		if order[i] < order[i-1] {
			t.Fatalf("%s: event %d arrived after %d: out of log order", channel, order[i], order[i-1])
		}
	}
}

func head(n []int) []int { return n[:min(len(n), 20)] }

func TestRoutingDefaultsDedupeAndAlerts(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{Extra: `
deploy_approval_alerts:
  enabled: true
  slack_channel: "#deploy-approvals"
  actions: [deploy_approval_request.create]
`})
	d.Start()
	d.Append(
		testenv.Event("login.complete", 1),
		`{"method":"GET","path":"/api/v1/apps","status":200,"ts":"2026-03-20T01:12:45Z"}`,
		testenv.Event("deploy_approval_request.create", 2),
		"not json at all",
		testenv.Event("app.read", 3),
		`{"action":"","status":"success"}`,
		testenv.Event("release.promote", 4),
		testenv.Event("login.oauth_failed", 5),
	)
	waitEvents(t, s, idSecurity, 1, 2, 20*time.Second)
	waitEvents(t, s, idSecurity, 5, 6, 20*time.Second)
	waitEvents(t, s, idInfra, 2, 3, 20*time.Second)
	waitEvents(t, s, idInfra, 4, 5, 20*time.Second)
	waitEvents(t, s, idDeploy, 2, 3, 20*time.Second)
	testenv.Eventually(t, 10*time.Second, "delivered counters", func() bool {
		v, _ := d.Metric("auditfwd_events_delivered_total", "channel=deploy_approval_alerts")
		return v == 1
	})
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"auditfwd_log_lines_total", []string{"kind=event"}, 5},
		{"auditfwd_log_lines_total", []string{"kind=not_audit"}, 2},
		{"auditfwd_log_lines_total", []string{"kind=malformed"}, 1},
		{"auditfwd_events_routed_total", []string{"channel=security"}, 2},
		{"auditfwd_events_routed_total", []string{"channel=infrastructure"}, 2},
		{"auditfwd_events_routed_total", []string{"channel=deploy_approval_alerts"}, 1},
		{"auditfwd_events_unrouted_total", nil, 1},
		{"auditfwd_queue_events", []string{"channel=security"}, 0},
		{"auditfwd_slack_connected", nil, 1},
	} {
		d.WaitMetric(c.want, c.name, c.labels...)
	}
	if n := len(texts(s, idSecurity)) + len(texts(s, idInfra)) + len(texts(s, idDeploy)); n > 5 {
		t.Errorf("%d messages for 5 deliveries", n)
	}
	if !strings.Contains(strings.Join(texts(s, idDeploy), ""), "Deploy approval") {
		t.Errorf("deploy alert not formatted as an alert: %q", texts(s, idDeploy))
	}
}

func TestOneDeliveryPerSlackChannel(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{
		Channels: `
  - name: logins
    slack_channel: "#security"
    actions: ["login.*"]
  - name: everything-security
    slack_channel: "security"
    actions: ["*"]
  - name: ops
    slack_channel: "C0OPS000001"
    actions: ["login.complete"]
`,
		Extra: `
deploy_approval_alerts:
  enabled: true
  slack_channel: "#ops"
  actions: ["deploy_approval_request.*"]
`})
	d.Start()
	d.Append(testenv.Event("login.complete", 1), testenv.Event("deploy_approval_request.create", 2))
	waitEvents(t, s, idSecurity, 1, 3, 20*time.Second)
	waitEvents(t, s, idOps, 1, 3, 20*time.Second)
	assertExactlyOnce(t, s, idSecurity, 1, 3)
	assertExactlyOnce(t, s, idOps, 1, 3)
}

func TestMentionsNeverReachSlackUnescaped(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{})
	d.Start()
	evil := []string{"<!channel>", "<!here>", "<@U1>", "<!everyone>", "<#C123>", "<!subteam^S1>", "<https://evil.example|click>"}
	for i, e := range evil {
		d.Append(testenv.Event("login.complete", i, "user_name", e, "user_agent", e, "unknown_"+fmt.Sprint(i), e))
	}
	d.Append(fmt.Sprintf(`{"action":"login.complete","resource":"%s","status":"<!channel>","ts":"<!here>","user_email":"<@U1>","api_token_name":"<!channel>"}`, testenv.Marker(99)))
	waitEvents(t, s, idSecurity, 0, len(evil), 20*time.Second)
	waitEvents(t, s, idSecurity, 99, 100, 20*time.Second)
	for _, p := range s.Posts() {
		raw := p.Text + string(p.Blocks)
		for _, bad := range []string{"<!", "<@", "<#", "<http"} {
			// The only Slack markup auditfwd emits itself is <!date^…>.
			cleaned := strings.ReplaceAll(raw, "<!date^", "")
			if strings.Contains(cleaned, bad) {
				t.Fatalf("unescaped %q reached Slack: %s", bad, raw)
			}
		}
		if !strings.Contains(p.AllText(), "&lt;!channel&gt;") && !strings.Contains(p.AllText(), "&lt;") {
			t.Fatalf("escaped text missing from %s", p.AllText())
		}
	}
}

func TestSIGTERMAndRestartLoseAndRepeatNothing(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{})
	d.Start()
	const total = 400
	for i := 0; i < total/2; i++ {
		d.Append(testenv.Event("login.complete", i))
	}
	waitEvents(t, s, idSecurity, 0, 10, 20*time.Second) // delivery under way
	start := time.Now()
	if code := d.Signal(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("SIGTERM took %v", took)
	}
	for i := total / 2; i < total; i++ { // written while stopped
		d.Append(testenv.Event("login.complete", i))
	}
	d.Start()
	waitEvents(t, s, idSecurity, 0, total, 60*time.Second)
	assertExactlyOnce(t, s, idSecurity, 0, total)
}

func TestKill9ThreeTimesRepeatsOnlyInFlight(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	s.SetRateLimit(50 * time.Millisecond) // keep messages flowing slowly enough to be interrupted
	d := newDaemon(t, s, testenv.Options{Channels: `
  - name: a
    slack_channel: "#security"
    actions: ["login.*"]
  - name: b
    slack_channel: "#infrastructure"
    actions: ["release.*"]
  - name: c
    slack_channel: "#ops"
    actions: ["user.*"]
`})
	d.Start()
	actions := []string{"login.complete", "release.promote", "user.update"}
	const total = 900
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a steady stream while the daemon is killed
		defer wg.Done()
		for i := 0; i < total; i++ {
			testenv.AppendFile(t, d.LogPath, testenv.Event(actions[i%3], i))
			if i%30 == 0 {
				time.Sleep(20 * time.Millisecond) // pace the writer like a gateway
			}
		}
	}()
	for k := 0; k < 3; k++ {
		before := len(s.Posts())
		testenv.Eventually(t, 30*time.Second, "more posts before the kill", func() bool { return len(s.Posts()) > before+5 })
		d.Kill()
		d.Start()
	}
	wg.Wait()
	byChannel := map[string]string{"login.complete": idSecurity, "release.promote": idInfra, "user.update": idOps}
	dupMessages := 0
	for a, ch := range byChannel {
		testenv.Eventually(t, 60*time.Second, "all events in "+ch, func() bool {
			c, _ := testenv.CountMarkers(texts(s, ch))
			for i := 0; i < total; i++ {
				if actions[i%3] == a && c[i] == 0 {
					return false
				}
			}
			return true
		})
		// A repeated message is one whose events all arrived before: at most
		// the one in flight per channel per kill.
		seen := map[int]bool{}
		for _, text := range texts(s, ch) {
			c, _ := testenv.CountMarkers([]string{text})
			repeat := len(c) > 0
			for n := range c {
				if !seen[n] {
					repeat = false
				}
				seen[n] = true
			}
			if repeat {
				dupMessages++
			}
		}
	}
	if dupMessages > 3*3 {
		t.Fatalf("%d repeated messages after 3 kills of 3 channels (at most 9 can be in flight)", dupMessages)
	}
	t.Logf("repeated messages after 3 kill -9: %d", dupMessages)
}

func TestFiveRenameRotationsUnderLoad(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{})
	d.Start()
	const perSecond, total, rotations = 300, 1800, 5
	f, err := os.OpenFile(d.LogPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	tick := time.NewTicker(time.Second / perSecond)
	defer tick.Stop()
	rotated := 0
	for i := 0; i < total; i++ {
		<-tick.C
		fmt.Fprintln(f, testenv.Event("login.complete", i))
		if i > 0 && i%(total/(rotations+1)) == 0 && rotated < rotations {
			rotated++
			// logrotate's rename; the writer keeps the old file a few more lines.
			if err := os.Rename(d.LogPath, fmt.Sprintf("%s.%d", d.LogPath, rotated)); err != nil {
				t.Fatal(err)
			}
			for j := 0; j < 5 && i+1 < total; j++ {
				i++
				fmt.Fprintln(f, testenv.Event("login.complete", i))
			}
			f.Close()
			if f, err = os.OpenFile(d.LogPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	f.Close()
	waitEvents(t, s, idSecurity, 0, total, 60*time.Second)
	assertExactlyOnce(t, s, idSecurity, 0, total)
}

func TestCopyTruncateLosesOnlyTheWindow(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{})
	d.Start()
	for i := 0; i < 100; i++ {
		d.Append(testenv.Event("login.complete", i))
	}
	// The daemon has read them (a live gateway writes slower than this test).
	testenv.Eventually(t, 20*time.Second, "first lines read", func() bool {
		v, _ := d.Metric("auditfwd_events_routed_total", "channel=security")
		return v == 100
	})
	data, err := os.ReadFile(d.LogPath) // logrotate copytruncate: copy…
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.LogPath+".1", data, 0o644); err != nil {
		t.Fatal(err)
	}
	for i := 100; i < 110; i++ { // …lines written between the copy and the truncate…
		d.Append(testenv.Event("login.complete", i))
	}
	if err := os.Truncate(d.LogPath, 0); err != nil { // …truncate
		t.Fatal(err)
	}
	for i := 110; i < 300; i++ {
		d.Append(testenv.Event("login.complete", i))
	}
	waitEvents(t, s, idSecurity, 0, 100, 30*time.Second)
	waitEvents(t, s, idSecurity, 110, 300, 30*time.Second)
	c, _ := testenv.CountMarkers(texts(s, idSecurity))
	missing, dups := c.MissingDuplicates(0, 300)
	for _, n := range missing {
		if n < 100 || n >= 110 {
			t.Fatalf("event %d outside the copy-to-truncate window is missing", n)
		}
	}
	if len(dups) > 0 {
		t.Fatalf("duplicates: %v", head(dups))
	}
	t.Logf("missing from the copy-to-truncate window: %d of 10", len(missing))
}

func TestSlackOutageDelaysNothingIsLost(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{})
	d.Start()
	s.SetMode(fakeslack.ModeError500)
	for i := 0; i < 20; i++ {
		d.Append(testenv.Event("login.complete", i))
	}
	testenv.Eventually(t, 20*time.Second, "a 5xx failure counted", func() bool {
		v, _ := d.Metric("auditfwd_delivery_failures_total", "channel=security", "reason=http_5xx")
		return v >= 1
	})
	time.Sleep(5 * time.Second) // the outage's first half: Slack keeps answering 500
	s.SetMode(fakeslack.ModeHang)
	for i := 20; i < 40; i++ {
		d.Append(testenv.Event("login.complete", i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	if _, err := s.WaitAttempts(ctx, "chat.postMessage", len(s.Attempts("chat.postMessage"))+1); err != nil {
		t.Fatal("no request while Slack hangs")
	}
	time.Sleep(5 * time.Second) // the outage's second half: Slack hangs (10 s in all)
	s.SetMode(fakeslack.ModeOK)
	waitEvents(t, s, idSecurity, 0, 40, 60*time.Second)
	assertExactlyOnce(t, s, idSecurity, 0, 40)
}

func TestRateLimitHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	s.SetRateLimit(2 * time.Second)
	d := newDaemon(t, s, testenv.Options{})
	d.Start()
	d.Append(testenv.Event("login.complete", 0))
	waitEvents(t, s, idSecurity, 0, 1, 20*time.Second)
	for i := 1; i < 6; i++ {
		d.Append(testenv.Event("login.complete", i))
		waitEvents(t, s, idSecurity, i, i+1, 30*time.Second)
	}
	attempts := s.Attempts("chat.postMessage")
	limited := 0
	for i, a := range attempts {
		if a.Status != 429 || i+1 >= len(attempts) {
			continue
		}
		limited++
		// fakeslack answers Retry-After with the whole seconds left, at least 1:
		// the next attempt must not come sooner than a second later.
		if gap := attempts[i+1].Time.Sub(a.Time); gap < time.Second {
			t.Fatalf("retried %v after a 429 with Retry-After", gap)
		}
	}
	if limited == 0 {
		t.Fatal("the test never hit the rate limit")
	}
	if v := d.MustMetric("auditfwd_delivery_failures_total", "channel=security", "reason=ratelimited"); v != float64(limited) {
		t.Errorf("ratelimited failures = %v, want %d", v, limited)
	}
}

// startTwoDeadLetters starts a daemon whose one channel, audit, posts to a
// Slack channel that does not exist (#audit-new), appends login events 1
// and 2, and waits until both are in the dead-letter file, deadPath.
func startTwoDeadLetters(t *testing.T) (s *fakeslack.Server, d *testenv.Daemon, deadPath string) {
	t.Helper()
	s = newSlack(t)
	d = newDaemon(t, s, testenv.Options{Channels: `
  - name: audit
    slack_channel: "#audit-new"
    actions: ["login.*"]
`})
	d.Start()
	d.Append(events(1, 3)...)
	deadPath = filepath.Join(d.StateDir, "dead-letter.jsonl")
	testenv.Eventually(t, 20*time.Second, "two dead letters", func() bool {
		data, _ := os.ReadFile(deadPath)
		return strings.Count(string(data), "channel_not_found") == 2
	})
	return s, d, deadPath
}

func TestChannelNotFoundDeadLetterThenRedeliver(t *testing.T) {
	t.Parallel()
	s, d, deadPath := startTwoDeadLetters(t)
	// The file is written before the counter moves: wait for both.
	testenv.Eventually(t, 10*time.Second, "dead-lettered metric 2", func() bool {
		v, _ := d.Metric("auditfwd_events_dead_lettered_total", "channel=audit", "reason=channel_not_found")
		return v == 2
	})
	d.WaitOutput("dead-letter.jsonl") // a log line telling what to do
	// Still missing: redeliver keeps them and fails.
	if _, _, code := d.Run("redeliver"); code != 1 {
		t.Fatalf("redeliver exit %d with the channel still missing", code)
	}
	s.AddChannel("C0AUDITNEW1", "audit-new", true) // the operator creates the channel
	out, errOut, code := d.Run("redeliver")
	if code != 0 {
		t.Fatalf("redeliver exit %d: %s %s", code, out, errOut)
	}
	assertExactlyOnce(t, s, "C0AUDITNEW1", 1, 3)
	if data, _ := os.ReadFile(deadPath); len(strings.TrimSpace(string(data))) != 0 {
		t.Fatalf("dead letters left: %s", data)
	}
	if _, _, code := d.Run("redeliver"); code != 0 {
		t.Fatal("second redeliver failed")
	}
	assertExactlyOnce(t, s, "C0AUDITNEW1", 1, 3)
}

func TestGarbageAndAHugeLineAreSkippedInBoundedMemory(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{})
	d.Start()
	f, err := os.OpenFile(d.LogPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, testenv.Event("login.complete", 1))
	for i := 0; i < 100000; i++ {
		fmt.Fprintf(f, "garbage %d \x01\x02 {not json\n", i)
	}
	fmt.Fprintln(f, testenv.Event("login.complete", 2))
	big := []byte(`{"action":"login.complete","x":"` + strings.Repeat("A", 20<<20) + `"}` + "\n")
	f.Write(big)
	fmt.Fprintln(f, testenv.Event("login.complete", 3))
	f.Close()
	waitEvents(t, s, idSecurity, 1, 4, 60*time.Second)
	testenv.Eventually(t, 10*time.Second, "garbage counted", func() bool {
		m, _ := d.Metric("auditfwd_log_lines_total", "kind=malformed")
		o, _ := d.Metric("auditfwd_log_lines_total", "kind=oversized")
		return m == 100000 && o == 1
	})
	_, peak := d.RSSBytes()
	t.Logf("peak RSS %.1f MB", float64(peak)/(1<<20))
	if peak > 200<<20 {
		t.Fatalf("peak RSS %d MB", peak>>20)
	}
	assertExactlyOnce(t, s, idSecurity, 1, 4)
}

func TestBurstIsDigestedAndOtherChannelsAreNotHeldUp(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	s.SetRateLimit(time.Second)
	d := newDaemon(t, s, testenv.Options{})
	d.Start()
	lines := make([]string, 300)
	for i := range lines {
		lines[i] = testenv.Event("login.complete", i)
	}
	start := time.Now()
	d.Append(lines...)
	d.Append(testenv.Event("release.promote", 1000))
	waitEvents(t, s, idInfra, 1000, 1001, 10*time.Second)
	t.Logf("other channel delivered after %v", time.Since(start))
	waitEvents(t, s, idSecurity, 0, 300, 90*time.Second)
	t.Logf("300 events in %v in %d messages", time.Since(start), len(texts(s, idSecurity)))
	assertExactlyOnce(t, s, idSecurity, 0, 300)
}

// Another process took the daemon's metrics port between FreeAddr and the
// start (the "address already in use" flake): Start moves the daemon to new
// ports and it runs.
func TestStartMovesToNewPortsWhenOneIsTaken(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{})
	taken := d.Metrics
	l, err := net.Listen("tcp", taken)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	d.Start()
	if d.Metrics == taken || !strings.Contains(d.Output(), "address already in use") {
		t.Fatalf("metrics on %s (taken: %s):\n%s", d.Metrics, taken, d.Output())
	}
	d.Append(testenv.Event("login.complete", 1))
	waitEvents(t, s, idSecurity, 1, 2, 20*time.Second)
	d.WaitMetric(1, "auditfwd_events_delivered_total", "channel=security")
}
