package statedir

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func newStateDir(t *testing.T) Dir {
	t.Helper()
	d := Dir(filepath.Join(t.TempDir(), "state"))
	if err := d.Create(); err != nil {
		t.Fatal(err)
	}
	return d
}

func logTo(buf *bytes.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(buf, nil)) }

func readStampOf(t *testing.T, d Dir) stamp {
	t.Helper()
	s, present, err := readStamp(d.join(LayoutFile))
	if err != nil || !present {
		t.Fatalf("stamp: present %v, %v", present, err)
	}
	return s
}

func TestLayoutStampFreshAndUnstamped(t *testing.T) {
	// 820d514's directory: every file it writes, none of them touched.
	files := map[string]string{
		CheckpointFile: `{"version":1,"path":"/var/log/audit.log"}`,
		DeadLetterFile: "{\"reason\":\"channel_not_found\"}\n",
		ThreadsFile:    "{\"key\":\"r:1\"}\n",
		TokenFile:      `{"token":"xoxb-x"}`,
		LockFile:       "1234\n",
		filepath.Join(SpoolDir, "security", "cursor"):                   "cursor bytes",
		filepath.Join(SpoolDir, "security", "00000000000000000001.seg"): "{\"pos\":{}}\n",
	}
	for name, withFiles := range map[string]bool{"fresh": false, "unstamped 820d514 layout": true} {
		t.Run(name, func(t *testing.T) {
			d := newStateDir(t)
			if withFiles {
				for f, content := range files {
					p := filepath.Join(string(d), f)
					os.MkdirAll(filepath.Dir(p), 0o700)
					if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
						t.Fatal(err)
					}
				}
			}
			var log bytes.Buffer
			if err := d.MigrateLayout("0.1.0", logTo(&log)); err != nil {
				t.Fatal(err)
			}
			if s := readStampOf(t, d); s.Layout != CurrentLayout || s.StampedBy != "0.1.0" {
				t.Errorf("stamp %+v, want layout %d by 0.1.0", s, CurrentLayout)
			}
			if fi, err := os.Lstat(d.join(LayoutFile)); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("stamp mode %v (%v), want 0600", fi.Mode().Perm(), err)
			}
			for f, content := range files {
				got, err := os.ReadFile(filepath.Join(string(d), f))
				if withFiles && (err != nil || string(got) != content) {
					t.Errorf("%s changed: %q, %v", f, got, err)
				}
			}
			if strings.Contains(log.String(), "level=ERROR") || strings.Contains(log.String(), "level=WARN") {
				t.Errorf("log: %s", &log)
			}
			// A second start finds the stamp and leaves it alone.
			if err := d.MigrateLayout("0.2.0", logTo(&log)); err != nil {
				t.Fatal(err)
			}
			if s := readStampOf(t, d); s.StampedBy != "0.1.0" {
				t.Errorf("stamp rewritten by a start that had nothing to migrate: %+v", s)
			}
		})
	}
}

func TestLayoutNewerIsRefused(t *testing.T) {
	d := newStateDir(t)
	if err := writeStamp(d.join(LayoutFile), CurrentLayout+1, "9.9.9"); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(d.join(LayoutFile))
	err := d.MigrateLayout("0.1.0", logTo(&bytes.Buffer{}))
	var newer *LayoutNewerError
	if !errors.As(err, &newer) {
		t.Fatalf("err = %v, want a *LayoutNewerError", err)
	}
	msg := err.Error()
	for _, want := range []string{string(d), fmt.Sprintf("layout %d", CurrentLayout+1), `"9.9.9"`,
		fmt.Sprintf("knows layouts up to %d", CurrentLayout), "downgrading is not supported"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if after, _ := os.ReadFile(d.join(LayoutFile)); !bytes.Equal(before, after) {
		t.Errorf("stamp changed by a refusing daemon: %s", after)
	}
}

func TestLayoutUnusableStampIsReportedAndRewritten(t *testing.T) {
	victim := filepath.Join(t.TempDir(), "victim")
	for name, plant := range map[string]func(path string) error{
		"empty":       func(p string) error { return os.WriteFile(p, nil, 0o600) },
		"garbage":     func(p string) error { return os.WriteFile(p, []byte("\x00\x01not json"), 0o600) },
		"torn":        func(p string) error { return os.WriteFile(p, []byte(`{"layout":`), 0o600) },
		"layout zero": func(p string) error { return os.WriteFile(p, []byte(`{"layout":0}`), 0o600) },
		"a symlink":   func(p string) error { return os.Symlink(victim, p) },
		"a directory": func(p string) error { return os.Mkdir(p, 0o700) },
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(victim, []byte(`{"layout":1}`), 0o644); err != nil {
				t.Fatal(err)
			}
			d := newStateDir(t)
			if err := plant(d.join(LayoutFile)); err != nil {
				t.Fatal(err)
			}
			var log bytes.Buffer
			if err := d.MigrateLayout("0.1.0", logTo(&log)); err != nil {
				t.Fatalf("an unusable stamp stopped the daemon: %v", err)
			}
			if !strings.Contains(log.String(), "layout stamp unusable") || !strings.Contains(log.String(), LayoutFile) {
				t.Errorf("not reported with the file's name: %s", &log)
			}
			if name == "a directory" {
				// Cannot be replaced: reported, tried again at the next start.
				if !strings.Contains(log.String(), "cannot write the state_dir layout stamp") {
					t.Errorf("failed write not reported: %s", &log)
				}
				return
			}
			if s := readStampOf(t, d); s.Layout != CurrentLayout {
				t.Errorf("stamp %+v after rewrite", s)
			}
			if got, _ := os.ReadFile(victim); string(got) != `{"layout":1}` {
				t.Errorf("the symlink's target was written: %q", got)
			}
		})
	}
}

func TestLayoutStepsRunInOrderAndResume(t *testing.T) {
	d := newStateDir(t)
	var ran []int
	fail := true
	steps := []layoutStep{
		{to: 2, what: "two", run: func(Dir) error { ran = append(ran, 2); return nil }},
		{to: 3, what: "three", run: func(Dir) error {
			ran = append(ran, 3)
			if fail {
				return errors.New("disk says no")
			}
			return nil
		}},
	}
	err := d.migrateLayout("0.3.0", logTo(&bytes.Buffer{}), steps)
	if err == nil || !strings.Contains(err.Error(), "from layout 2 to 3 (three): disk says no") {
		t.Fatalf("err = %v", err)
	}
	if s := readStampOf(t, d); s.Layout != 2 {
		t.Fatalf("after a failed step the stamp says %d, want 2 (the last step that completed)", s.Layout)
	}
	fail = false
	if err := d.migrateLayout("0.3.0", logTo(&bytes.Buffer{}), steps); err != nil {
		t.Fatal(err)
	}
	if s := readStampOf(t, d); s.Layout != 3 {
		t.Errorf("stamp %d, want 3", s.Layout)
	}
	if want := []int{2, 3, 3}; !slices.Equal(ran, want) {
		t.Errorf("steps ran %v, want %v (the failed one again, the done one not)", ran, want)
	}
}
