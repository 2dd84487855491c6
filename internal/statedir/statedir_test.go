package statedir

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLayout(t *testing.T) {
	d := Dir("/var/lib/auditfwd")
	for got, want := range map[string]string{
		d.Checkpoint():      "/var/lib/auditfwd/checkpoint.json",
		d.DeadLetters():     "/var/lib/auditfwd/dead-letter.jsonl",
		d.Token():           "/var/lib/auditfwd/slack-token.json",
		d.Spool("security"): "/var/lib/auditfwd/spool/security",
	} {
		if got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
}

func TestCreateAndSpools(t *testing.T) {
	d := Dir(filepath.Join(t.TempDir(), "state"))
	if names, err := d.Spools(); err != nil || names != nil {
		t.Fatalf("Spools of a missing directory = %v, %v", names, err)
	}
	if err := d.Create(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(string(d))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("state_dir mode %v (%v), want 0700: it holds the bot token", fi.Mode().Perm(), err)
	}
	for _, name := range []string{"security", "infrastructure"} {
		if err := os.MkdirAll(d.Spool(name), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// A stray file next to the spools is not a spool.
	if err := os.WriteFile(filepath.Join(string(d), SpoolDir, "notes.txt"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	names, err := d.Spools()
	if err != nil || !slices.Equal(names, []string{"infrastructure", "security"}) {
		t.Fatalf("Spools = %v, %v", names, err)
	}
}

func TestCheckRefusesWhatOthersCouldTamperWith(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(dir string) error
		want  string // in the error; "" for none
	}{
		{"fresh", func(string) error { return nil }, ""},
		{"0755 is fine", func(dir string) error { return os.Chmod(dir, 0o755) }, ""},
		{"0777", func(dir string) error { return os.Chmod(dir, 0o777) }, "chmod 0700 "},
		{"group-writable spool", func(dir string) error {
			p := filepath.Join(dir, SpoolDir)
			os.Mkdir(p, 0o700)
			return os.Chmod(p, 0o770)
		}, "chmod 0700 "},
		{"symlink", func(dir string) error {
			return os.Symlink("/etc/passwd", filepath.Join(dir, LockFile))
		}, "symbolic link"},
		{"symlinked spool", func(dir string) error {
			return os.Symlink(os.TempDir(), filepath.Join(dir, SpoolDir))
		}, "symbolic link"},
		{"another owner", func(dir string) error { return os.Chown(dir, 65534, 65534) }, "chown "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Dir(filepath.Join(t.TempDir(), "state"))
			if err := os.Mkdir(string(d), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := tc.setup(string(d)); err != nil {
				t.Skipf("setup: %v", err)
			}
			err := d.Create()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}
