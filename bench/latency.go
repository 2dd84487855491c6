package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/auditfwd/auditfwd/bench/workload"
	"github.com/auditfwd/auditfwd/internal/fakeslack"
)

// latencies are the append-to-Slack times of one phase, in append order.
type latencies []time.Duration

func (l latencies) events() int { return len(l) }

// summary is the count, p50, p99 and max in ms, and the first five events.
func (l latencies) summary() (n int, p50, p99, maxMS float64, first []float64) {
	sorted := append(latencies(nil), l...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	for _, d := range l[:min(5, len(l))] {
		first = append(first, ms(d))
	}
	return len(l), ms(percentile(sorted, 0.50)), ms(percentile(sorted, 0.99)), ms(sorted[len(sorted)-1]), first
}

// latency appends routed events one at a time for dur at o.latencyRate,
// numbered from first, and returns their append-to-Slack times.
func latency(fs *fakeslack.Server, logPath string, o options, dur time.Duration, first int) (latencies, error) {
	n := max(1, int(dur.Seconds()*o.latencyRate))
	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	postsBefore := len(fs.Posts())
	appended := make([]time.Time, n)
	tick := time.NewTicker(time.Duration(float64(time.Second) / o.latencyRate))
	defer tick.Stop()
	for i := range n {
		if i > 0 {
			<-tick.C
		}
		now := time.Now()
		appended[i] = now
		if _, err := f.Write(workload.LatencyEvent(first+i, now)); err != nil {
			return nil, err
		}
	}
	lat, err := slackTimes(fs, postsBefore, first, appended, o.timeout)
	if err != nil {
		return nil, err
	}
	worst := 0
	for i := range lat {
		if lat[i] > lat[worst] {
			worst = i
		}
	}
	step("latency: slowest event %d, appended %.1f s into the phase: %.1f ms", worst, appended[worst].Sub(appended[0]).Seconds(), ms(lat[worst]))
	return lat, nil
}

// slackTimes waits until the latency markers first … first+len(sent)-1
// are all in the posts after the first `before` ones, and returns each one's
// time from sent[i] to the post that carried it.
func slackTimes(fs *fakeslack.Server, before, first int, sent []time.Time, timeout time.Duration) (latencies, error) {
	n := len(sent)
	t := newTally("bench-l-", first+n)
	seen := before
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if _, err := fs.WaitPostsFunc(ctx, func(p []fakeslack.Post) bool {
		for ; seen < len(p); seen++ {
			t.add(p[seen])
		}
		return t.distinct == n
	}); err != nil {
		return nil, fmt.Errorf("latency: %d of %d events reached Slack: %w", t.distinct, n, err)
	}
	lat := make(latencies, n)
	for i := range n {
		lat[i] = t.at[first+i].Sub(sent[i])
	}
	return lat, nil
}

// percentile of sorted d (nearest rank).
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	k := int(float64(len(d))*p+0.999999) - 1
	return d[min(max(k, 0), len(d)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// phase is one latency phase's summary, for the JSON line.
type phase struct {
	Events int       `json:"events"`
	P50    float64   `json:"p50_ms"`
	P99    float64   `json:"p99_ms"`
	Max    float64   `json:"max_ms"`
	First  []float64 `json:"first_ms"`
}

func newPhase(l latencies) *phase {
	var p phase
	p.Events, p.P50, p.P99, p.Max, p.First = l.summary()
	return &p
}

// busyDiskLatency is the latency phase while another process writes and
// syncs in a loop on the file system of dir (the state directory's), and
// what that process did meanwhile.
func busyDiskLatency(fs *fakeslack.Server, logPath, dir string, o options, first int) (latencies, busyDiskStats, error) {
	step("latency with a busy disk: another process writes %d MiB and fsyncs it, in a loop, in %s; %g routed events/s for %v",
		o.busyDiskMB, dir, o.latencyRate, o.busyDur)
	b, err := startBusyDisk(dir, o.busyDiskMB)
	if err != nil {
		return nil, busyDiskStats{}, err
	}
	defer b.stop()
	time.Sleep(2 * time.Second) // its first round written, its fsync under way
	lat, err := latency(fs, logPath, o, o.busyDur, first)
	st, serr := b.diskStats()
	if err == nil {
		err = serr
	}
	if err == nil {
		step("busy disk: %d rounds, %.0f MiB written, fsync mean %.0f ms, max %.0f ms", st.Rounds, st.MB, st.MeanSync, st.MaxSync)
	}
	return lat, st, err
}

// busyCPULatency is the latency phase while o.busyCPUs processes spin.
func busyCPULatency(fs *fakeslack.Server, logPath string, o options, first int) (latencies, error) {
	step("latency with busy CPUs: %d spinning processes; %g routed events/s for %v", o.busyCPUs, o.latencyRate, o.busyDur)
	b, err := startBusyCPUs(o.busyCPUs)
	if err != nil {
		return nil, err
	}
	defer b.stop()
	time.Sleep(time.Second)
	return latency(fs, logPath, o, o.busyDur, first)
}
