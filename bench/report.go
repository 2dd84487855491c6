package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/auditfwd/auditfwd/bench/workload"
)

// result is the machine-readable line.
type result struct {
	Bench        string    `json:"bench"`
	GoVersion    string    `json:"go"`
	CPUs         int       `json:"cpus"`
	Lines        int       `json:"lines"`
	LogBytes     int64     `json:"log_bytes"`
	Routed       int       `json:"routed_events"`
	Posts        int       `json:"slack_posts"`
	Duplicates   int       `json:"duplicates"`
	Runs         int       `json:"catchup_runs"`
	RunWalls     []float64 `json:"catchup_run_walls_s"`
	LoadAvg      string    `json:"loadavg_at_start"`
	Build        string    `json:"build"`
	CatchWall    float64   `json:"catchup_wall_s"`
	LinesPerS    float64   `json:"catchup_lines_per_s"`
	CatchCPU     float64   `json:"catchup_cpu_s"`
	CatchCPUPerM float64   `json:"catchup_cpu_s_per_mline"`
	CatchPeak    int64     `json:"catchup_peak_rss_bytes"`
	FloorWall    float64   `json:"floor_wall_s"`
	FloorCPU     float64   `json:"floor_cpu_s"`
	FloorRatio   float64   `json:"ratio_wall_vs_floor"`
	CPURatio     float64   `json:"ratio_cpu_vs_floor"`

	LatencyEvents int       `json:"latency_events,omitempty"`
	LatencyP50    float64   `json:"latency_p50_ms,omitempty"`
	LatencyP99    float64   `json:"latency_p99_ms,omitempty"`
	LatencyMax    float64   `json:"latency_max_ms,omitempty"`
	LatencyFirst  []float64 `json:"latency_first_ms,omitempty"` // the first events, in append order
	LatencyCPU    float64   `json:"latency_cpu_s,omitempty"`

	IdleLatencyEvents int       `json:"idle_latency_events,omitempty"`
	IdleLatencyP50    float64   `json:"idle_latency_p50_ms,omitempty"`
	IdleLatencyP99    float64   `json:"idle_latency_p99_ms,omitempty"`
	IdleLatencyMax    float64   `json:"idle_latency_max_ms,omitempty"`
	IdleLatencyFirst  []float64 `json:"idle_latency_first_ms,omitempty"`

	IdleSeconds    float64 `json:"idle_s,omitempty"`
	IdleCPU        float64 `json:"idle_cpu_s,omitempty"`
	IdleCPUPerMin  float64 `json:"idle_cpu_s_per_min,omitempty"`
	IdleRunTime    float64 `json:"idle_cpu_precise_s,omitempty"`
	IdleScrapes    int     `json:"idle_scrapes,omitempty"`
	SteadyRSS      int64   `json:"steady_rss_bytes,omitempty"`
	SteadyRSSAnon  int64   `json:"steady_rss_anon_bytes,omitempty"`
	SteadyRSSFile  int64   `json:"steady_rss_file_bytes,omitempty"`
	GoHeapInuse    int64   `json:"go_heap_inuse_bytes,omitempty"`
	GoHeapIdle     int64   `json:"go_heap_idle_bytes,omitempty"`
	GoHeapReleased int64   `json:"go_heap_released_bytes,omitempty"`
	GoStack        int64   `json:"go_stack_inuse_bytes,omitempty"`
	GoNextGC       int64   `json:"go_next_gc_bytes,omitempty"`

	BusyDisk     *phase         `json:"busy_disk_latency,omitempty"`
	BusyDiskLoad *busyDiskStats `json:"busy_disk_load,omitempty"`
	BusyCPUs     *phase         `json:"busy_cpus_latency,omitempty"`

	ExitCode int     `json:"exit_code"`
	TotalCPU float64 `json:"total_cpu_s"`
	PeakRSS  int64   `json:"peak_rss_bytes"` // VmHWM before SIGTERM: the whole last run

	Met map[string]bool `json:"targets_met"`
}

func printTable(w io.Writer, r result, st workload.Stats) {
	mark := func(key string) string {
		ok, has := r.Met[key]
		switch {
		case !has:
			return ""
		case ok:
			return "met"
		}
		return "NOT MET"
	}
	mb := func(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }
	fmt.Fprintf(w, "\nauditfwd end-to-end benchmark: %d lines (%.0f MB, %.0f bytes/line), %d routed events; %d CPUs (load average %s at start), %s, %s\n\n",
		r.Lines, float64(r.LogBytes)/1e6, float64(r.LogBytes)/float64(max(1, r.Lines)), r.Routed, r.CPUs, r.LoadAvg, r.GoVersion, r.Build)
	row := func(phase, metric, value, target, met string) {
		fmt.Fprintf(w, "%-9s %-26s %-22s %-16s %s\n", phase, metric, value, target, met)
	}
	row("phase", "metric", "measured", "target", "")
	walls := make([]string, len(r.RunWalls))
	for i, w := range r.RunWalls {
		walls[i] = fmt.Sprintf("%.2f", w)
	}
	row("catch-up", "wall, start to last post", fmt.Sprintf("%.3f s", r.CatchWall), "", fmt.Sprintf("median of %d runs (%s s)", r.Runs, strings.Join(walls, ", ")))
	row("", "lines/s", fmt.Sprintf("%.0f", r.LinesPerS), "≥ 1,000,000", mark("catchup_lines_per_s"))
	row("", "CPU user+sys", fmt.Sprintf("%.2f s", r.CatchCPU), "", "")
	row("", "CPU per million lines", fmt.Sprintf("%.2f s", r.CatchCPUPerM), "≤ 0.8 s", mark("catchup_cpu_le_0.8s_per_mline"))
	row("", "peak RSS (VmHWM)", mb(r.CatchPeak), "≤ 25 MB", mark("catchup_peak_rss_25m"))
	row("", "wall vs floor", fmt.Sprintf("%.2f×", r.FloorRatio), "≤ 3×", mark("catchup_within_3x"))
	row("", "CPU vs floor", fmt.Sprintf("%.2f×", r.CPURatio), "", "")
	row("", "Slack posts (digests)", fmt.Sprintf("%d (%d duplicates)", r.Posts, r.Duplicates), "", "")
	row("floor", "wall / CPU", fmt.Sprintf("%.3f s / %.2f s", r.FloorWall, r.FloorCPU), "", "")
	firsts := func(v []float64) string {
		out := make([]string, len(v))
		for i, x := range v {
			out[i] = fmt.Sprintf("%.1f", x)
		}
		return strings.Join(out, ", ") + " ms"
	}
	if r.LatencyEvents > 0 {
		row("latency", "after the catch-up: events", fmt.Sprintf("%d", r.LatencyEvents), "", "")
		row("", "first events", firsts(r.LatencyFirst), "", "in append order")
		row("", "p50", fmt.Sprintf("%.1f ms", r.LatencyP50), "", "")
		row("", "p99", fmt.Sprintf("%.1f ms", r.LatencyP99), "≤ 20 ms", mark("latency_p99_20ms"))
		row("", "max", fmt.Sprintf("%.1f ms", r.LatencyMax), "≤ 50 ms", mark("latency_max_50ms"))
		row("", "CPU during the phase", fmt.Sprintf("%.2f s", r.LatencyCPU), "", "")
	}
	if r.IdleSeconds > 0 {
		row("idle", fmt.Sprintf("CPU over %.0f s", r.IdleSeconds), fmt.Sprintf("%.4f s", r.IdleRunTime), "", fmt.Sprintf("threads' schedstat; /proc/PID/stat says %.2f s", r.IdleCPU))
		row("", "/metrics scrapes", fmt.Sprintf("%d", r.IdleScrapes), "", "as Prometheus's, gzip accepted (-idle-scrape)")
		row("", "CPU per minute", fmt.Sprintf("%.3f s", r.IdleCPUPerMin), "≤ 0.05 s", mark("idle_cpu_0.05s_per_min"))
		row("", "steady RSS (VmRSS)", mb(r.SteadyRSS), "≤ 20 MB", mark("steady_rss_20m"))
		row("", "  anonymous / file", mb(r.SteadyRSSAnon)+" / "+mb(r.SteadyRSSFile), "", "file: the binary's pages")
		row("", "  Go heap in use / unreleased", mb(r.GoHeapInuse)+" / "+mb(r.GoHeapIdle-r.GoHeapReleased), "", fmt.Sprintf("stacks %s, next GC at %s", mb(r.GoStack), mb(r.GoNextGC)))
	}
	if r.IdleLatencyEvents > 0 {
		row("latency", "after idle: events", fmt.Sprintf("%d", r.IdleLatencyEvents), "", "")
		row("", "first events", firsts(r.IdleLatencyFirst), "", "in append order")
		row("", "p50", fmt.Sprintf("%.1f ms", r.IdleLatencyP50), "", "")
		row("", "p99", fmt.Sprintf("%.1f ms", r.IdleLatencyP99), "≤ 20 ms", mark("idle_latency_p99_20ms"))
		row("", "max", fmt.Sprintf("%.1f ms", r.IdleLatencyMax), "≤ 50 ms", mark("idle_latency_max_50ms"))
	}
	busyRows := func(name, what string, p *phase) {
		if p == nil {
			return
		}
		row("latency", what+": events", fmt.Sprintf("%d", p.Events), "", "")
		row("", "first events", firsts(p.First), "", "in append order")
		row("", "p50", fmt.Sprintf("%.1f ms", p.P50), "", "")
		row("", "p99", fmt.Sprintf("%.1f ms", p.P99), "≤ 20 ms", mark(name+"_latency_p99_20ms"))
		row("", "max", fmt.Sprintf("%.1f ms", p.Max), "≤ 50 ms", mark(name+"_latency_max_50ms"))
	}
	busyRows("busy_disk", "busy disk", r.BusyDisk)
	if l := r.BusyDiskLoad; l != nil {
		row("", "the other process", fmt.Sprintf("%.0f MiB, %d fsyncs", l.MB, l.Rounds), "", fmt.Sprintf("its fsync: mean %.0f ms, max %.0f ms", l.MeanSync, l.MaxSync))
	}
	busyRows("busy_cpus", "busy CPUs", r.BusyCPUs)
	row("exit", "SIGTERM", fmt.Sprintf("code %d", r.ExitCode), "", "")
	row("", "total CPU / peak RSS", fmt.Sprintf("%.2f s / %s", r.TotalCPU, mb(r.PeakRSS)), "", "last run, all phases")
	fmt.Fprintln(w)
}
