package delivery

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func deadLine(n int) string {
	return fmt.Sprintf(`{"time":"2026-03-20T01:12:44Z","channel":"security","slack_channel":"#security","reason":"not_in_channel","event":{"action":"login.complete","n":%d}}`, n)
}

// A corrupt line and a torn last line (a crash or a full disk mid-append)
// are set aside with a log line naming the file; the intact dead letters
// stay as written, are counted, and are redelivered; new ones are added
// after them.
func TestDeadLetterDamageIsSetAside(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dead-letter.jsonl")
	torn := deadLine(3)[:57]
	content := deadLine(0) + "\n" + "\x00\x00garbage\n" + deadLine(1) + "\n" + deadLine(2) + "\n" + torn
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	d := OpenDeadLetters(path, slog.New(slog.NewTextHandler(&logs, nil)))
	if d.Count("security") != 3 {
		t.Errorf("count %d, want the 3 intact dead letters", d.Count("security"))
	}
	if !strings.Contains(logs.String(), "dead-letter file damaged") || !strings.Contains(logs.String(), "file="+path) ||
		!strings.Contains(logs.String(), `lines="[2 5]"`) {
		t.Errorf("the log does not name the file and the damaged lines:\n%s", logs.String())
	}
	data, _ := os.ReadFile(path)
	if want := deadLine(0) + "\n" + deadLine(1) + "\n" + deadLine(2) + "\n"; string(data) != want {
		t.Errorf("after repair the file holds\n%s\nwant the intact lines as written", data)
	}
	asides, _ := filepath.Glob(path + ".corrupt-*")
	if len(asides) != 1 {
		t.Fatalf("set aside in %v, want one file", asides)
	}
	kept, _ := os.ReadFile(asides[0])
	if !strings.Contains(string(kept), "dead-letter.jsonl:2: \x00\x00garbage\n") || !strings.Contains(string(kept), "dead-letter.jsonl:5: "+torn+"\n") {
		t.Errorf("the damaged lines were not kept:\n%q", kept)
	}
	if err := d.Append(DeadLetter{Channel: "security", Event: []byte(`{"action":"x","n":4}`)}); err != nil {
		t.Fatal(err)
	}
	var got []string
	sent, left, err := Redeliver(path, nil, func(dl DeadLetter) error {
		got = append(got, string(dl.Event))
		return nil
	})
	if err != nil || sent != 4 || left != 0 {
		t.Fatalf("redeliver: sent %d kept %d err %v (%q)", sent, left, err, got)
	}
}

// An append after a torn tail (left when a write was cut short and could not
// be cut back) starts on a line of its own: the torn line is set aside alone
// by redeliver, the appended dead letter is redelivered.
func TestDeadLetterAppendAfterATornTail(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dead-letter.jsonl")
	d := OpenDeadLetters(path, nil)
	if err := d.Append(DeadLetter{Channel: "security", Event: []byte(`{"action":"x","n":0}`)}); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(deadLine(1)[:40])
	f.Close()
	if err := d.Append(DeadLetter{Channel: "security", Event: []byte(`{"action":"x","n":2}`)}); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	var got []string
	sent, left, err := Redeliver(path, slog.New(slog.NewTextHandler(&logs, nil)), func(dl DeadLetter) error {
		got = append(got, string(dl.Event))
		return nil
	})
	if err != nil || sent != 2 || left != 0 || !strings.Contains(got[1], `"n":2`) {
		t.Fatalf("redeliver: sent %d kept %d err %v: %q", sent, left, err, got)
	}
	if !strings.Contains(logs.String(), "lines=[2] ") {
		t.Errorf("the torn line was not reported:\n%s", logs.String())
	}
}
