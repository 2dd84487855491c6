package spool

import (
	"encoding/json"
	"testing"

	"github.com/auditfwd/auditfwd/bench/workload"
	"github.com/auditfwd/auditfwd/internal/logpos"
)

func benchRecords(n int) []Record {
	g := workload.New(workload.DefaultSeed)
	out := make([]Record, n)
	for i := range out {
		out[i] = Record{
			Pos:    logpos.Position{Gen: 1, Offset: int64(i+1) * 335},
			Target: "#security",
			Event:  json.RawMessage(append([]byte(nil), g.Line(workload.Routed)...)),
		}
	}
	return out
}

// BenchmarkAppend is the tailer's cost of queueing one routed event (the
// fsync is Sync's, once per commit, and not included).
func BenchmarkAppend(b *testing.B) {
	q, err := Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	recs := benchRecords(1000)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r := recs[i%len(recs)]
		r.Pos.Offset = int64(i+1) * 335
		if _, err := q.Append(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPeek is the sender's cost of reading one digest's worth of
// records (50, as delivery asks) from the head of the queue.
func BenchmarkPeek(b *testing.B) {
	q, err := Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	for _, r := range benchRecords(1000) {
		if _, err := q.Append(r); err != nil {
			b.Fatal(err)
		}
	}
	q.Publish()
	if err := q.Sync(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		recs, err := q.Peek(50, 256<<10)
		if err != nil || len(recs) != 50 {
			b.Fatal(len(recs), err)
		}
	}
}

// BenchmarkAck is the durable acknowledgement after each Slack post.
func BenchmarkAck(b *testing.B) {
	q, err := Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	recs := benchRecords(1)
	for i := range 100000 {
		r := recs[0]
		r.Pos.Offset = int64(i+1) * 335
		if _, err := q.Append(r); err != nil {
			b.Fatal(err)
		}
	}
	q.Publish()
	if err := q.Sync(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		recs, err := q.Peek(1, 256<<10)
		if err != nil {
			b.Fatal(err)
		}
		if len(recs) == 0 { // a segment's end
			if _, err := q.Trim(); err != nil {
				b.Fatal(err)
			}
			continue
		}
		if err := q.Ack(1); err != nil {
			b.Fatal(err)
		}
	}
}
