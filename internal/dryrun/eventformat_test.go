package dryrun

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/metrics"
)

const eventFormatDoc = "../../docs/event-format.md"

// docExample is one fenced block of docs/event-format.md whose info string
// holds the word "example", and the "text message" block that follows it.
type docExample struct {
	line    int // of the opening fence
	attrs   map[string]string
	body    []string
	message string // "" when none follows
}

func readExamples(t *testing.T) []docExample {
	t.Helper()
	f, err := os.Open(eventFormatDoc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []docExample
	var cur *docExample // the block being read
	var inMessage, inOther bool
	var msg []string
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		n++
		l := sc.Text()
		fence := strings.HasPrefix(l, "```")
		switch {
		case cur != nil && fence:
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.body = append(cur.body, l)
		case inMessage && fence:
			if len(out) == 0 || out[len(out)-1].message != "" {
				t.Fatalf("%s:%d: a message block that follows no example", eventFormatDoc, n)
			}
			out[len(out)-1].message = strings.Join(msg, "\n")
			inMessage, msg = false, nil
		case inMessage:
			msg = append(msg, l)
		case inOther && fence:
			inOther = false
		case inOther:
		case fence:
			words := strings.Fields(strings.TrimPrefix(l, "```"))
			switch {
			case len(words) >= 2 && words[1] == "example":
				cur = &docExample{line: n, attrs: map[string]string{}}
				for _, w := range words[2:] {
					k, v, _ := strings.Cut(w, "=")
					cur.attrs[k] = v
				}
			case len(words) == 2 && words[0] == "text" && words[1] == "message":
				inMessage = true
			default:
				inOther = true
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Every example line in the event-format document is counted, routed and
// shown exactly as the document says, by the dry run (the daemon's tailer,
// pipeline, rules and message layout) with the default channels.
func TestEventFormatDocExamples(t *testing.T) {
	examples := readExamples(t)
	kinds := map[string]int{}
	var docker, cri bool
	for _, ex := range examples {
		kind := ex.attrs["kind"]
		kinds[kind]++
		where := eventFormatDoc + ":" + strconv.Itoa(ex.line)
		joined := strings.Join(ex.body, "\n")
		docker = docker || strings.HasPrefix(joined, `{"log":`)
		cri = cri || strings.Contains(joined, " stdout P ")

		dir := t.TempDir()
		logPath := filepath.Join(dir, "audit.log")
		if err := os.WriteFile(logPath, []byte(joined+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		maxLine := ""
		if m := ex.attrs["max_line_bytes"]; m != "" {
			maxLine = "  max_line_bytes: " + m + "\n"
		}
		yaml := "audit_log:\n  path: " + logPath + "\n" + maxLine + "state_dir: " + dir + "/state\n"
		cfg, err := config.Parse([]byte(yaml), "doc.yaml")
		if err != nil {
			t.Fatal(err)
		}
		m := metrics.New("test")
		var stdout, stderr bytes.Buffer
		if err := Run(context.Background(), cfg, Options{Metrics: m, Stdout: &stdout, Stderr: &stderr}); err != nil {
			t.Fatalf("%s: %v", where, err)
		}

		want := len(ex.body)
		if c := ex.attrs["count"]; c != "" {
			want, _ = strconv.Atoi(c)
		}
		counts := lineCounts(m)
		for _, k := range metrics.LineKinds {
			w := 0
			if k == kind {
				w = want
			}
			if counts[k] != w {
				t.Errorf("%s: %d %s lines, the document says %d (counts %v)", where, counts[k], k, w, counts)
			}
		}

		var channels, texts []string
		for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
			if l == "" {
				continue
			}
			var dm struct {
				Channel string `json:"channel"`
				Message struct {
					Text string `json:"text"`
				} `json:"message"`
			}
			if err := json.Unmarshal([]byte(l), &dm); err != nil {
				t.Fatalf("%s: dry run output: %v", where, err)
			}
			channels = append(channels, dm.Channel)
			texts = append(texts, dm.Message.Text)
		}
		route := ex.attrs["route"]
		switch {
		case kind != "event" && route != "":
			t.Errorf("%s: only events have a route", where)
		case kind == "event" && route == "":
			t.Errorf("%s: an event example must say its route (route=none when unrouted)", where)
		}
		if got := strings.Join(channels, ","); route != "" && got != strings.ReplaceAll(route, "none", "") {
			t.Errorf("%s: routed to %q, the document says %q", where, got, route)
		}
		if len(texts) > 0 && ex.message == "" {
			t.Errorf("%s: a routed event without the message it shows", where)
		}
		for _, text := range texts {
			if ex.message != "" && text != ex.message {
				t.Errorf("%s: the message is\n%s\nthe document says\n%s", where, text, ex.message)
			}
		}
	}
	for _, k := range metrics.LineKinds {
		if kinds[k] == 0 {
			t.Errorf("%s has no example of kind %s", eventFormatDoc, k)
		}
	}
	if !docker || !cri {
		t.Errorf("%s lacks a Docker (%v) or a CRI partial-line (%v) example", eventFormatDoc, docker, cri)
	}
	if len(examples) < 9 {
		t.Errorf("only %d examples read from %s: is the parser still finding them?", len(examples), eventFormatDoc)
	}
}
