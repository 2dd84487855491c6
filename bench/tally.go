package main

import (
	"strconv"
	"strings"
	"time"

	"github.com/auditfwd/auditfwd/internal/fakeslack"
)

// tally counts the markers (prefix + 7 digits) that reached Slack.
type tally struct {
	prefix   string
	want     int
	count    []int
	at       []time.Time // when each marker first reached Slack
	distinct int
	dups     int
	last     time.Time // when the last new marker arrived
}

func newTally(prefix string, want int) *tally {
	return &tally{prefix: prefix, want: want, count: make([]int, want), at: make([]time.Time, want)}
}

func (t *tally) add(p fakeslack.Post) {
	text := p.Text
	var inPost map[int]bool
	for {
		i := strings.Index(text, t.prefix)
		if i < 0 {
			return
		}
		text = text[i+len(t.prefix):]
		if len(text) < 7 {
			return
		}
		n, err := strconv.Atoi(text[:7])
		if err != nil || n < 0 || n >= t.want {
			continue
		}
		if inPost[n] { // a message may show a marker more than once
			continue
		}
		if inPost == nil {
			inPost = map[int]bool{}
		}
		inPost[n] = true
		if t.count[n] == 0 {
			t.distinct++
			t.at[n] = p.Time
			if p.Time.After(t.last) {
				t.last = p.Time
			}
		} else {
			t.dups++
		}
		t.count[n]++
	}
}
