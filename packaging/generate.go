package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// generated are the files made from the repository's for the packages,
// so that none of them is a second hand-kept copy.
type generated struct {
	unit                                           string
	preinstall, postinstall, preremove, postremove string
}

// generate writes them into dir.
func generate(root, dir string) (generated, error) {
	var g generated
	unit, err := os.ReadFile(filepath.Join(root, "systemd", "auditfwd.service"))
	if err != nil {
		return g, err
	}
	if unit, err = packagedUnit(unit); err != nil {
		return g, fmt.Errorf("systemd/auditfwd.service: %w", err)
	}
	sysusers, err := os.ReadFile(filepath.Join(root, "systemd", "auditfwd.sysusers"))
	if err != nil {
		return g, err
	}
	write := func(name string, data []byte) (string, error) {
		p := filepath.Join(dir, name)
		return p, os.WriteFile(p, data, 0o644)
	}
	if g.unit, err = write("auditfwd.service", unit); err != nil {
		return g, err
	}
	for _, s := range []struct {
		name string
		dst  *string
	}{
		{"preinstall.sh", &g.preinstall}, {"postinstall.sh", &g.postinstall},
		{"preremove.sh", &g.preremove}, {"postremove.sh", &g.postremove},
	} {
		script, err := os.ReadFile(filepath.Join(root, "packaging", "scripts", s.name))
		if err != nil {
			return g, err
		}
		if s.name == "preinstall.sh" {
			if script, err = withSysusers(script, sysusers); err != nil {
				return g, fmt.Errorf("packaging/scripts/%s: %w", s.name, err)
			}
		}
		if *s.dst, err = write(s.name, script); err != nil {
			return g, err
		}
	}
	return g, nil
}

// packagedUnit is systemd/auditfwd.service with the packages' paths: its
// ExecStart= and Documentation= lines name /usr/bin and /usr/share/doc
// where the file (written for scripts/install.sh) names /usr/local/bin and
// /usr/local/share/doc. Nothing else changes; a unit without exactly those
// lines is an error, so the two cannot drift apart silently.
func packagedUnit(src []byte) ([]byte, error) {
	lines := strings.SplitAfter(string(src), "\n")
	var execs, docs int
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "ExecStart="):
			if !strings.HasPrefix(l, "ExecStart=/usr/local/bin/auditfwd ") {
				return nil, fmt.Errorf("ExecStart= does not start with /usr/local/bin/auditfwd: %q", l)
			}
			lines[i] = strings.Replace(l, "/usr/local/bin/auditfwd", pkgBinary, 1)
			execs++
		case strings.HasPrefix(l, "Documentation="):
			urls := strings.Fields(strings.TrimPrefix(l, "Documentation="))
			for j, u := range urls {
				rest, ok := strings.CutPrefix(u, "file:///usr/local/share/doc/auditfwd/")
				if !ok {
					return nil, fmt.Errorf("Documentation= %s is not under file:///usr/local/share/doc/auditfwd/", u)
				}
				urls[j] = "file://" + pkgDocDir + "/" + rest
			}
			lines[i] = "Documentation=" + strings.Join(urls, " ") + "\n"
			docs++
		}
	}
	if execs != 1 || docs != 1 {
		return nil, fmt.Errorf("want one ExecStart= and one Documentation= line, found %d and %d", execs, docs)
	}
	return []byte(strings.Join(lines, "")), nil
}

// withSysusers puts the sysusers.d entries into the preinstall script where
// it says @SYSUSERS@: the script runs before the package's files exist, and
// creates the user from the same entries systemd-sysusers applies at boot.
func withSysusers(script, sysusers []byte) ([]byte, error) {
	const mark = "@SYSUSERS@\n"
	if bytes.Count(script, []byte(mark)) != 1 {
		return nil, fmt.Errorf("want one line %q", strings.TrimSpace(mark))
	}
	if bytes.Contains(sysusers, []byte("\nSYSUSERS\n")) || !bytes.HasSuffix(sysusers, []byte("\n")) {
		return nil, fmt.Errorf("systemd/auditfwd.sysusers cannot be embedded in a here-document")
	}
	return bytes.Replace(script, []byte(mark), sysusers, 1), nil
}
