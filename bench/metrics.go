package main

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// scrapeGauges reads unlabelled samples from /metrics, in the order asked.
func scrapeGauges(addr string, names ...string) ([]float64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := make([]float64, len(names))
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		for i, n := range names {
			if name == n {
				out[i], _ = strconv.ParseFloat(value, 64)
			}
		}
	}
	return out, sc.Err()
}

func scrapeLines(addr string) (float64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var got float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "auditfwd_log_lines_total{") {
			if i := strings.LastIndexByte(line, ' '); i > 0 {
				v, _ := strconv.ParseFloat(line[i+1:], 64)
				got += v
			}
		}
	}
	return got, sc.Err()
}

// waitLines waits until auditfwd_log_lines_total adds up to want.
func waitLines(addr string, want int, timeout time.Duration) (float64, error) {
	deadline := time.Now().Add(timeout)
	var got float64
	for {
		var err error
		if got, err = scrapeLines(addr); err == nil && int(got) == want {
			return got, nil
		}
		if time.Now().After(deadline) {
			return got, fmt.Errorf("timed out")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
