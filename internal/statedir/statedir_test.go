package statedir

import (
	"os"
	"path/filepath"
	"slices"
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
