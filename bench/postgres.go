package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/auditfwd/auditfwd/bench/workload"
	"github.com/auditfwd/auditfwd/internal/fakeslack"
	"github.com/auditfwd/auditfwd/internal/gatewaydb"
)

// The Postgres mode (-source postgres): the gateway's table instead of a
// log. A throw-away PostgreSQL server (gatewaydb) holds -rows audit events
// of the reference workload (the log's audit lines, HTTP lines left out),
// loaded in one COPY with the gateway's chain; then:
//
//   - catch-up: one auditfwd from the table's first row (start_at:
//     beginning); rows/s read and routed (auditfwd_log_lines_total reaching
//     -rows) and until every routed event is in Slack; CPU and peak RSS;
//   - latency: -latency-rate rows/s inserted the way the gateway inserts
//     (one transaction each), insert committed to Slack, at the default
//     poll_interval (1 s);
//   - idle: a standby joins; for -idle-duration nothing is inserted; the
//     statements each instance sends are counted in the server's log
//     (log_statement = all for auditfwd's role, application_name per
//     instance), and the leader's CPU.

// pgResult is the machine-readable line of the Postgres mode.
type pgResult struct {
	Bench     string `json:"bench"`
	GoVersion string `json:"go"`
	CPUs      int    `json:"cpus"`
	LoadAvg   string `json:"loadavg_at_start"`
	Rows      int    `json:"rows"`
	Routed    int    `json:"routed_events"`

	Runs        int       `json:"catchup_runs"`
	RunReads    []float64 `json:"catchup_run_read_walls_s"`
	Poll        string    `json:"poll_interval"`
	ReadWall    float64   `json:"catchup_read_wall_s"`
	RowsPerS    float64   `json:"catchup_rows_per_s"`
	DeliverWall float64   `json:"catchup_delivered_wall_s"`
	Posts       int       `json:"slack_posts"`
	Duplicates  int       `json:"duplicates"`
	CatchCPU    float64   `json:"catchup_cpu_s"`
	CatchPeak   int64     `json:"catchup_peak_rss_bytes"`

	LatencyEvents int       `json:"latency_events,omitempty"`
	LatencyP50    float64   `json:"latency_p50_ms,omitempty"`
	LatencyP99    float64   `json:"latency_p99_ms,omitempty"`
	LatencyMax    float64   `json:"latency_max_ms,omitempty"`
	LatencyFirst  []float64 `json:"latency_first_ms,omitempty"`

	IdleSeconds        float64 `json:"idle_s,omitempty"`
	LeaderQueriesPerS  float64 `json:"idle_leader_queries_per_s,omitempty"`
	StandbyQueriesPerS float64 `json:"idle_standby_queries_per_s,omitempty"`
	IdleCPUPerMin      float64 `json:"idle_leader_cpu_s_per_min,omitempty"`
	SteadyRSS          int64   `json:"steady_rss_bytes,omitempty"`
}

// pgWorkload is the workload's first n audit events as the gateway's rows,
// and how many of them the default channels route.
func pgWorkload(n int, seed uint64) ([]gatewaydb.Event, int) {
	g := workload.New(seed)
	out := make([]gatewaydb.Event, 0, n)
	routed := 0
	for len(out) < n {
		line, kind := g.Next()
		if kind == workload.HTTP {
			continue // not an audit event: the table has none
		}
		if kind == workload.Routed {
			routed++
		}
		out = append(out, eventOf(line))
	}
	return out, routed
}

// auditLine is the part of a workload line the gateway's table holds.
type auditLine struct {
	Action       string    `json:"action"`
	ActionType   string    `json:"action_type"`
	Command      string    `json:"command"`
	Resource     string    `json:"resource"`
	ResourceType string    `json:"resource_type"`
	Status       string    `json:"status"`
	UserEmail    string    `json:"user_email"`
	UserName     string    `json:"user_name"`
	IPAddress    string    `json:"ip_address"`
	UserAgent    string    `json:"user_agent"`
	RBACDecision string    `json:"rbac_decision"`
	TS           time.Time `json:"ts"`
	HTTPStatus   int32     `json:"http_status"`
	LatencyMS    int32     `json:"latency_ms"`
}

// eventOf is an audit line of the workload as the row the gateway records.
func eventOf(line []byte) gatewaydb.Event {
	var l auditLine
	json.Unmarshal(line, &l) // the workload's own lines: they decode
	return gatewaydb.Event{Time: l.TS, UserEmail: l.UserEmail, UserName: l.UserName, ActionType: l.ActionType, Action: l.Action,
		Command: l.Command, Resource: l.Resource, ResourceType: l.ResourceType, IPAddress: l.IPAddress, UserAgent: l.UserAgent,
		Status: l.Status, RBACDecision: l.RBACDecision, HTTPStatus: l.HTTPStatus, ResponseTimeMS: l.LatencyMS}
}

// pgConfigYAML is configYAML for the Postgres source.
func pgConfigYAML(stateDir, apiURL, metricsAddr, adminAddr string, poll time.Duration) string {
	c := configYAML("/nonexistent/audit.log", stateDir, apiURL, metricsAddr, adminAddr)
	return strings.Replace(c, "audit_log:\n", fmt.Sprintf("audit_log:\n  source: postgres\n  postgres:\n    state_schema: auditfwd\n    poll_interval: %v\n", poll), 1)
}

// pgCatch is one catch-up run.
type pgCatch struct {
	read, deliver time.Duration // from the process's start
	posts, dups   int
	cpu           time.Duration
	peak          int64
}

// pgCatchUp loads events into a new database and starts a leader on it
// from the first row; it returns once every routed event is in Slack and
// the leader counted every row, leaving the leader running.
func pgCatchUp(bin, dir string, c *gatewaydb.Cluster, fs *fakeslack.Server, events []gatewaydb.Event, routed int, o options) (pgCatch, *pgProc, string, error) {
	var r pgCatch
	ctx := context.Background()
	db, err := c.CreateDatabase(ctx, "bench", "auditfwd", false)
	if err != nil {
		return r, nil, "", err
	}
	if err := c.Preload(ctx, db, events); err != nil {
		return r, nil, db, err
	}
	before := len(fs.Posts())
	p, err := startPG(bin, dir, c, db, fs, "auditfwd-leader", o.poll)
	if err != nil {
		return r, nil, db, err
	}
	catch := newTally("bench-c-", routed)
	seen := before
	readAt := make(chan time.Duration, 1)
	go func() {
		if _, err := waitLines(p.metrics, len(events), o.timeout); err == nil {
			readAt <- time.Since(p.started)
		}
		close(readAt)
	}()
	tctx, cancel := context.WithTimeout(ctx, o.timeout)
	posts, err := fs.WaitPostsFunc(tctx, func(ps []fakeslack.Post) bool {
		for ; seen < len(ps); seen++ {
			catch.add(ps[seen])
		}
		return catch.distinct == catch.want
	})
	cancel()
	if err != nil {
		return r, p, db, fmt.Errorf("catch-up: %d of %d routed events reached Slack: %v", catch.distinct, catch.want, err)
	}
	r.cpu, _ = procCPU(p.pid)
	_, r.peak = procMem(p.pid)
	read, ok := <-readAt
	if !ok {
		return r, p, db, fmt.Errorf("catch-up: auditfwd did not count %d rows", len(events))
	}
	r.read, r.deliver = read, catch.last.Sub(p.started)
	r.posts, r.dups = len(posts)-before, catch.dups
	return r, p, db, nil
}

func runPostgres(o options) error {
	res := pgResult{Bench: "auditfwd-postgres", GoVersion: runtime.Version(), CPUs: runtime.NumCPU(), Rows: o.rows,
		Runs: max(1, o.runs), Poll: o.poll.String()}
	dir, cleanup, bin, _, err := prepare(o, &res.LoadAvg)
	if err != nil {
		return err
	}
	defer cleanup()
	step("starting PostgreSQL")
	c, err := gatewaydb.Start()
	if err != nil {
		return err
	}
	defer c.Close()
	ctx := context.Background()
	// Every statement auditfwd's sessions send, in the server's log, with
	// the instance's application_name in front.
	for _, q := range []string{"ALTER ROLE auditfwd SET log_statement = 'all'", "ALTER SYSTEM SET log_line_prefix = '%a|'", "SELECT pg_reload_conf()"} {
		if err := c.Exec(ctx, "postgres", q); err != nil {
			return err
		}
	}
	events, routed := pgWorkload(o.rows, o.seed)
	res.Routed = routed
	fs, err := startSlack()
	if err != nil {
		return err
	}
	defer fs.Close()

	// Catch-up, -runs times, each on a database of its own; the last run's
	// leader goes on to the latency and idle phases.
	var runs []pgCatch
	var leader *pgProc
	var db string
	for i := range max(1, o.runs) {
		if leader != nil {
			leader.stop()
		}
		step("catch-up %d/%d: %d rows loaded with the gateway's chain, read from the first row", i+1, max(1, o.runs), o.rows)
		r, p, d, err := pgCatchUp(bin, filepath.Join(dir, fmt.Sprintf("run-%d", i+1)), c, fs, events, routed, o)
		if p != nil {
			defer p.kill()
		}
		if err != nil {
			return err
		}
		runs, leader, db = append(runs, r), p, d
	}
	for _, r := range runs {
		res.RunReads = append(res.RunReads, r.read.Seconds())
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].read < runs[j].read })
	m := runs[len(runs)/2]
	res.ReadWall, res.RowsPerS = m.read.Seconds(), float64(o.rows)/m.read.Seconds()
	res.DeliverWall = m.deliver.Seconds()
	res.Posts, res.Duplicates = m.posts, m.dups
	res.CatchCPU, res.CatchPeak = m.cpu.Seconds(), m.peak

	if o.latencyDur > 0 && o.latencyRate > 0 {
		time.Sleep(o.latencyGap)
		step("latency: %g rows/s inserted as the gateway does, for %v", o.latencyRate, o.latencyDur)
		lat, err := pgLatency(c, db, fs, o)
		if err != nil {
			return err
		}
		res.LatencyEvents, res.LatencyP50, res.LatencyP99, res.LatencyMax, res.LatencyFirst = lat.summary()
	}

	if o.idleDur > 0 {
		standby, err := startPG(bin, filepath.Join(dir, "standby"), c, db, fs, "auditfwd-standby", o.poll)
		if err != nil {
			return err
		}
		defer standby.kill()
		time.Sleep(3 * time.Second)
		step("idle: %v, a leader and a standby, nothing inserted", o.idleDur)
		logStart := fileSize(c.LogPath())
		run0 := procRunTime(leader.pid)
		t0 := time.Now()
		time.Sleep(o.idleDur)
		el := time.Since(t0)
		run1 := procRunTime(leader.pid)
		byApp, err := statements(c.LogPath(), logStart)
		if err != nil {
			return err
		}
		res.IdleSeconds = el.Seconds()
		res.LeaderQueriesPerS = float64(byApp["auditfwd-leader"]) / el.Seconds()
		res.StandbyQueriesPerS = float64(byApp["auditfwd-standby"]) / el.Seconds()
		res.IdleCPUPerMin = (run1 - run0).Seconds() * 60 / el.Seconds()
		res.SteadyRSS = procStatus(leader.pid)["VmRSS:"]
		standby.stop()
	}
	leader.stop()
	printPGTable(os.Stdout, res)
	line, _ := json.Marshal(res)
	fmt.Println(string(line))
	return nil
}

// pgProc is a running auditfwd on the database.
type pgProc struct {
	*proc
	metrics string
	started time.Time
}

func startPG(bin, dir string, c *gatewaydb.Cluster, db string, fs *fakeslack.Server, app string, poll time.Duration) (*pgProc, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	metricsAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	adminAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(pgConfigYAML(filepath.Join(dir, "state"), fs.URL, metricsAddr, adminAddr, poll)), 0o644); err != nil {
		return nil, err
	}
	out, err := os.Create(filepath.Join(dir, "auditfwd.out"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "run", "--config", cfgPath)
	cmd.Env = append(os.Environ(), "SLACK_BOT_TOKEN="+benchToken, "AUDITFWD_POSTGRES_DSN="+c.AuditfwdDSN(db)+"&application_name="+app)
	cmd.Stdout, cmd.Stderr = out, out
	started := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, pid: cmd.Process.Pid, exited: make(chan struct{})}
	go func() { cmd.Wait(); out.Close(); close(p.exited) }()
	return &pgProc{proc: p, metrics: metricsAddr, started: started}, nil
}

// pgLatency inserts routed rows one transaction each at o.latencyRate and
// returns each one's commit-to-Slack time.
func pgLatency(c *gatewaydb.Cluster, db string, fs *fakeslack.Server, o options) (latencies, error) {
	gw, err := c.Gateway(context.Background(), db)
	if err != nil {
		return nil, err
	}
	defer gw.Close()
	n := max(1, int(o.latencyDur.Seconds()*o.latencyRate))
	committed := make([]time.Time, n)
	before := len(fs.Posts())
	tick := time.NewTicker(time.Duration(float64(time.Second) / o.latencyRate))
	defer tick.Stop()
	for i := range n {
		if i > 0 {
			<-tick.C
		}
		e := eventOf(workload.LatencyEvent(i, time.Now()))
		if _, err := gw.Append(context.Background(), e); err != nil {
			return nil, err
		}
		committed[i] = time.Now()
	}
	return slackTimes(fs, before, 0, committed, o.timeout)
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// statements counts the statements logged after offset, by application_name.
func statements(path string, offset int64) (map[string]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, err
	}
	out := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		app, rest, ok := strings.Cut(sc.Text(), "|")
		if ok && (strings.HasPrefix(rest, "LOG:  execute") || strings.HasPrefix(rest, "LOG:  statement:")) {
			out[app]++
		}
	}
	return out, sc.Err()
}

func printPGTable(w io.Writer, r pgResult) {
	mb := func(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }
	fmt.Fprintf(w, "\nauditfwd Postgres-source benchmark: %d rows, %d routed events; %d CPUs (load average %s at start), %s\n\n",
		r.Rows, r.Routed, r.CPUs, r.LoadAvg, r.GoVersion)
	row := func(phase, metric, value string) { fmt.Fprintf(w, "%-9s %-34s %s\n", phase, metric, value) }
	row("phase", "metric", "measured")
	walls := make([]string, len(r.RunReads))
	for i, w := range r.RunReads {
		walls[i] = fmt.Sprintf("%.2f", w)
	}
	row("catch-up", "rows read and routed", fmt.Sprintf("%.3f s (%.0f rows/s), median of %d runs (%s s)", r.ReadWall, r.RowsPerS, r.Runs, strings.Join(walls, ", ")))
	row("", "every routed event in Slack", fmt.Sprintf("%.3f s (%d posts, %d duplicates)", r.DeliverWall, r.Posts, r.Duplicates))
	row("", "CPU user+sys / peak RSS", fmt.Sprintf("%.2f s / %s", r.CatchCPU, mb(r.CatchPeak)))
	if r.LatencyEvents > 0 {
		row("latency", "rows inserted (poll_interval "+r.Poll+")", fmt.Sprintf("%d", r.LatencyEvents))
		row("", "insert committed to Slack p50", fmt.Sprintf("%.1f ms", r.LatencyP50))
		row("", "p99 / max", fmt.Sprintf("%.1f ms / %.1f ms", r.LatencyP99, r.LatencyMax))
	}
	if r.IdleSeconds > 0 {
		row("idle", fmt.Sprintf("statements/s over %.0f s, leader", r.IdleSeconds), fmt.Sprintf("%.2f", r.LeaderQueriesPerS))
		row("", "statements/s, standby", fmt.Sprintf("%.2f", r.StandbyQueriesPerS))
		row("", "leader CPU per minute / RSS", fmt.Sprintf("%.3f s / %s", r.IdleCPUPerMin, mb(r.SteadyRSS)))
	}
	fmt.Fprintln(w)
}
