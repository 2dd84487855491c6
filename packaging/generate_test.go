package main

import (
	"os"
	"strings"
	"testing"
)

func TestPackagedUnitChangesOnlyItsPaths(t *testing.T) {
	src, err := os.ReadFile("../systemd/auditfwd.service")
	if err != nil {
		t.Fatal(err)
	}
	got, err := packagedUnit(src)
	if err != nil {
		t.Fatal(err)
	}
	before, after := strings.Split(string(src), "\n"), strings.Split(string(got), "\n")
	if len(before) != len(after) {
		t.Fatalf("%d lines became %d", len(before), len(after))
	}
	changed := 0
	for i := range before {
		if before[i] == after[i] {
			continue
		}
		changed++
		if strings.Contains(after[i], "/usr/local") {
			t.Errorf("line %d still names /usr/local: %q", i+1, after[i])
		}
	}
	if changed != 2 {
		t.Errorf("%d lines changed, want 2 (ExecStart=, Documentation=)", changed)
	}
	if !strings.Contains(string(got), "\nExecStart=/usr/bin/auditfwd run --config /etc/auditfwd/config.yaml\n") {
		t.Errorf("no ExecStart= with /usr/bin/auditfwd:\n%s", got)
	}
	if !strings.Contains(string(got), "Documentation=file:///usr/share/doc/auditfwd/operations.md ") {
		t.Errorf("Documentation= not under /usr/share/doc/auditfwd:\n%s", got)
	}
}

func TestPackagedUnitRefusesAnUnexpectedUnit(t *testing.T) {
	for name, unit := range map[string]string{
		"other binary":     "Documentation=file:///usr/local/share/doc/auditfwd/a.md\nExecStart=/opt/auditfwd run\n",
		"other doc dir":    "Documentation=https://example.com/\nExecStart=/usr/local/bin/auditfwd run\n",
		"two ExecStart=":   "Documentation=file:///usr/local/share/doc/auditfwd/a.md\nExecStart=/usr/local/bin/auditfwd run\nExecStart=/usr/local/bin/auditfwd run\n",
		"no Documentation": "ExecStart=/usr/local/bin/auditfwd run\n",
	} {
		if _, err := packagedUnit([]byte(unit)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestWithSysusers(t *testing.T) {
	got, err := withSysusers([]byte("a\n@SYSUSERS@\nb\n"), []byte("u x - \"X\" /var/lib/x\n"))
	if err != nil || string(got) != "a\nu x - \"X\" /var/lib/x\nb\n" {
		t.Errorf("got %q, %v", got, err)
	}
	if _, err := withSysusers([]byte("no mark\n"), []byte("u x\n")); err == nil {
		t.Error("a script without the mark was accepted")
	}
	if _, err := withSysusers([]byte("@SYSUSERS@\n"), []byte("u x\nSYSUSERS\n")); err == nil {
		t.Error("a sysusers file that ends the here-document was accepted")
	}
}
