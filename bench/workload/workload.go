// Package workload generates the reference audit log of the end-to-end
// benchmark: a deterministic stream of lines in Rack Gateway's stdout format
// (one JSON object per line, keys in alphabetical order, as the gateway
// writes them).
//
// The mix, per 100 lines: 70 convox proxy events (app.read, log.read,
// process.list, …), 20 HTTP request lines without an action, 1 event that the
// default channels of configs/example.yaml route (security or
// infrastructure), and 9 audit events no default rule routes. Lines average
// about 330 bytes. Every routed event carries a unique marker in its
// resource field, so a benchmark can count what reached Slack.
package workload

import (
	"bufio"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"
)

// DefaultSeed makes the reference log the same on every machine.
const DefaultSeed = 20260320

// Base is the timestamp of the first line.
var Base = time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC)

// Kind is what a generated line is.
type Kind uint8

const (
	Proxy    Kind = iota // convox proxy event: an audit event no default rule routes
	HTTP                 // HTTP request line: not an audit event
	Routed               // routed by the default channels
	Unrouted             // another audit event no default rule routes
)

// Marker is the unique resource of routed event n of a catch-up log.
func Marker(n int) string { return "bench-c-" + pad7(n) }

// LatencyMarker is the unique resource of event n of the latency phase.
func LatencyMarker(n int) string { return "bench-l-" + pad7(n) }

func pad7(n int) string {
	s := strconv.Itoa(n)
	if len(s) < 7 {
		s = strings.Repeat("0", 7-len(s)) + s
	}
	return s
}

var (
	users = []struct{ email, name string }{
		{"alice@example.com", "Alice Example"}, {"bob.builder@example.com", "Bob Builder"},
		{"carol.ops@example.com", "Carol Operations"}, {"dave@example.com", "Dave Developer"},
		{"erin.sre@example.com", "Erin Reliability"}, {"frank@example.com", "Frank Oncall"},
		{"grace.hopper@example.com", "Grace Hopper"}, {"heidi@example.com", "Heidi Security"},
		{"ivan.deploy@example.com", "Ivan Deployer"}, {"judy@example.com", "Judy Platform"},
		{"ci-bot@example.com", "CI Bot"}, {"mallory@example.net", "Mallory Outsider"},
	}
	apps   = []string{"billing", "checkout", "search-api", "notifications", "web-frontend", "reporting", "auth-service", "inventory"}
	agents = []string{
		"convox/3.19.4 (linux; amd64) go1.23.4 rack-gateway-cli",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Safari/605.1.15",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
		"convox/3.19.4 (darwin; arm64) go1.23.4 rack-gateway-cli",
		"curl/8.5.0",
	}
	ips = []string{"203.0.113.7", "198.51.100.23", "10.20.3.117", "10.20.4.9", "172.16.8.201", "192.0.2.44"}

	proxyActions = []struct{ action, command, rtype string }{
		{"app.read", "convox apps info", "app"},
		{"app.list", "convox apps", "app"},
		{"log.read", "convox logs --follow", "app"},
		{"process.list", "convox ps", "app"},
		{"process.read", "convox ps info", "process"},
		{"build.read", "convox builds info", "build"},
		{"build.list", "convox builds", "app"},
		{"release.list", "convox releases", "app"},
		{"release.read", "convox releases info", "release"},
		{"instance.list", "convox instances", "rack"},
		{"rack.read", "convox rack", "rack"},
		{"env.read", "convox env", "app"},
	}
	routedActions = []struct {
		action, actionType, rtype string
	}{
		{"login.complete", "auth", "user"},
		{"login.oauth_failed", "auth", "user"},
		{"login.user_not_authorized", "auth", "user"},
		{"mfa_method.enroll", "auth", "mfa_method"},
		{"user.update", "users", "user"},
		{"api_token.create", "tokens", "api_token"},
		{"deploy_approval_request.create", "gateway", "app"},
		{"deploy_approval_request.approve", "gateway", "deploy_approval_request"},
		{"release.promote", "convox", "release"},
	}
	unroutedActions = []struct{ action, actionType string }{
		{"login.start", "auth"}, {"logout", "auth"}, {"token.validate", "auth"},
		{"mfa.verify.failed", "auth"}, {"mfa_preferences.update", "auth"},
		{"rate_limit.exceeded", "security"}, {"user.sessions.list", "users"},
		{"build.create", "convox"}, {"release.create", "convox"}, {"app.restart", "convox"},
		{"process.exec", "convox"}, {"secret.read", "convox"}, {"env.set", "convox"},
		{"audit.export", "admin"},
	}
	httpPaths = []string{
		"/api/v1/apps", "/api/v1/apps/%s/processes", "/api/v1/apps/%s/releases",
		"/api/v1/apps/%s/builds", "/api/v1/me", "/healthz", "/api/v1/rack", "/apps/%s/logs",
	}
	httpStatus = []int{200, 200, 200, 200, 200, 200, 200, 304, 401, 404, 500}
)

// Generator writes lines. Not safe for concurrent use.
type Generator struct {
	rng    *rand.Rand
	ts     time.Time
	i      int // lines generated
	routed int // routed events generated
	last   int // index of the last line, which is routed (-1: none)
	b      []byte
	tsb    []byte
}

// New returns a Generator; the same seed gives the same lines.
func New(seed uint64) *Generator {
	return &Generator{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), ts: Base, last: -1}
}

// Routed is how many routed events were generated so far (their markers are
// Marker(0) … Marker(Routed()-1)).
func (g *Generator) Routed() int { return g.routed }

// Next returns the next line (without newline; valid until the next call) and its kind.
func (g *Generator) Next() ([]byte, Kind) {
	i := g.i
	g.i++
	g.ts = g.ts.Add(time.Duration(1+g.rng.IntN(150)) * time.Millisecond)
	var kind Kind
	switch r := g.rng.IntN(99); {
	case i%100 == 99 || i == g.last:
		kind = Routed // exactly 1 in 100 (the 100th of each hundred), and the last line
	case r < 70:
		kind = Proxy
	case r < 90:
		kind = HTTP
	default:
		kind = Unrouted
	}
	return g.Line(kind), kind
}

// Line returns one line of the given kind (markers of routed events are
// taken from the routed sequence).
func (g *Generator) Line(kind Kind) []byte {
	b := g.b[:0]
	u := users[g.rng.IntN(len(users))]
	ip := ips[g.rng.IntN(len(ips))]
	agent := agents[g.rng.IntN(len(agents))]
	g.tsb = g.ts.AppendFormat(g.tsb[:0], time.RFC3339)
	ts := string(g.tsb)
	switch kind {
	case Proxy:
		a := proxyActions[g.rng.IntN(len(proxyActions))]
		app := apps[g.rng.IntN(len(apps))]
		b = appendKV(b, '{', "action", a.action)
		b = appendKV(b, ',', "action_type", "convox")
		b = appendKV(b, ',', "command", a.command+" --app "+app+" --rack production")
		b = appendKN(b, "http_status", 200)
		b = appendKV(b, ',', "ip_address", ip)
		b = appendKN(b, "latency_ms", 3+g.rng.IntN(400))
		b = appendKV(b, ',', "rbac_decision", "allow")
		b = appendKV(b, ',', "resource", app)
		b = appendKV(b, ',', "resource_type", a.rtype)
		b = appendKV(b, ',', "status", "success")
		b = appendKV(b, ',', "ts", ts)
		b = appendKV(b, ',', "user_email", u.email)
		b = appendKV(b, ',', "user_name", u.name)
	case HTTP:
		p := httpPaths[g.rng.IntN(len(httpPaths))]
		var app string
		if strings.Contains(p, "%s") {
			app = apps[g.rng.IntN(len(apps))]
		}
		method := "GET"
		if g.rng.IntN(10) == 0 {
			method = "POST"
		}
		b = append(b, '{')
		b = appendKV(b, 0, "ip_address", ip)
		b = appendKN(b, "latency_ms", 1+g.rng.IntN(250))
		b = appendKV(b, ',', "method", method)
		b = append(b, `,"path":"`...)
		if before, after, ok := strings.Cut(p, "%s"); ok {
			b = append(append(append(b, before...), app...), after...)
		} else {
			b = append(b, p...)
		}
		b = append(b, `","request_id":"req_`...)
		id := g.rng.Uint64()
		for sh := 60; sh >= 0; sh -= 4 {
			b = append(b, "0123456789abcdef"[id>>sh&0xf])
		}
		b = append(b, '"')
		b = appendKN(b, "status", httpStatus[g.rng.IntN(len(httpStatus))])
		b = appendKV(b, ',', "ts", ts)
		b = appendKV(b, ',', "user_agent", agent)
		b = appendKV(b, ',', "user_email", u.email)
	case Routed:
		a := routedActions[g.rng.IntN(len(routedActions))]
		b = g.audit(b, a.action, a.actionType, Marker(g.routed), a.rtype, ts, u.email, u.name, ip, agent)
		g.routed++
	case Unrouted:
		a := unroutedActions[g.rng.IntN(len(unroutedActions))]
		b = g.audit(b, a.action, a.actionType, apps[g.rng.IntN(len(apps))], "app", ts, u.email, u.name, ip, agent)
	}
	b = append(b, '}')
	g.b = b
	return b
}

func (g *Generator) audit(b []byte, action, actionType, resource, rtype, ts, email, name, ip, agent string) []byte {
	status := "success"
	if strings.Contains(action, "failed") || strings.Contains(action, "not_authorized") {
		status = "failed"
	}
	b = appendKV(b, '{', "action", action)
	b = appendKV(b, ',', "action_type", actionType)
	b = appendKV(b, ',', "ip_address", ip)
	b = appendKV(b, ',', "resource", resource)
	b = appendKV(b, ',', "resource_type", rtype)
	b = appendKV(b, ',', "status", status)
	b = appendKV(b, ',', "ts", ts)
	b = appendKV(b, ',', "user_agent", agent)
	b = appendKV(b, ',', "user_email", email)
	b = appendKV(b, ',', "user_name", name)
	return b
}

// appendKV appends sep (0: none) "key":"value"; values here need no escaping.
func appendKV(b []byte, sep byte, k, v string) []byte {
	if sep != 0 {
		b = append(b, sep)
	}
	b = append(b, '"')
	b = append(b, k...)
	b = append(b, `":"`...)
	b = append(b, v...)
	return append(b, '"')
}

func appendKN(b []byte, k string, n int) []byte {
	b = append(b, ',', '"')
	b = append(b, k...)
	b = append(b, `":`...)
	return strconv.AppendInt(b, int64(n), 10)
}

// LatencyEvent is a routed event for the latency phase, stamped now.
func LatencyEvent(n int, now time.Time) []byte {
	action := "login.complete"
	if n%2 == 1 {
		action = "release.promote"
	}
	var b []byte
	g := Generator{}
	b = g.audit(b, action, "auth", LatencyMarker(n), "user", now.UTC().Format(time.RFC3339Nano),
		"alice@example.com", "Alice Example", "203.0.113.7", agents[0])
	return append(b, '}', '\n')
}

// Stats describe a generated log.
type Stats struct {
	Lines  int
	Bytes  int64
	Routed int
	ByKind [4]int
}

// Write writes n lines to w.
func Write(w io.Writer, n int, seed uint64) (Stats, error) {
	g := New(seed)
	g.last = n - 1 // the catch-up ends when the last line reached Slack
	bw := bufio.NewWriterSize(w, 1<<20)
	var st Stats
	for range n {
		line, kind := g.Next()
		st.ByKind[kind]++
		st.Bytes += int64(len(line) + 1)
		bw.Write(line)
		if err := bw.WriteByte('\n'); err != nil {
			return st, err
		}
	}
	st.Lines, st.Routed = n, g.Routed()
	return st, bw.Flush()
}

// WriteFile writes the n-line reference log to path.
func WriteFile(path string, n int, seed uint64) (Stats, error) {
	f, err := os.Create(path)
	if err != nil {
		return Stats{}, err
	}
	st, err := Write(f, n, seed)
	if err == nil {
		// On disk before anything is measured: the kernel's writeback of a
		// few hundred MB would otherwise stall fsyncs half a minute later.
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return st, err
}
