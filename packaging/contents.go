package main

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Where the packages put things. scripts/install.sh (source and tarball
// installs) uses /usr/local/bin and /usr/local/share/doc instead.
const (
	pkgBinary  = "/usr/bin/auditfwd"
	pkgUnit    = "/usr/lib/systemd/system/auditfwd.service"
	pkgDocDir  = "/usr/share/doc/auditfwd"
	pkgConfDir = "/etc/auditfwd"
)

// file is one file of the release: from (relative to the repository's root,
// or absolute) to (relative in the tarball, absolute in the packages).
type file struct {
	from, to string
	mode     os.FileMode
}

// docs are the operator's documents: README.md, LICENSE, docs/*.md and the
// example configs (Prometheus scrape job and alerts, Grafana dashboard),
// relative to the repository's root. The docs link to each other by name,
// so they land side by side, as scripts/install.sh puts them.
func docs(root string) ([]string, error) {
	found := []string{"README.md", "LICENSE"}
	for _, pattern := range []string{"docs/*.md", "configs/*.yaml", "configs/*/*"} {
		m, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			return nil, err
		}
		for _, p := range m {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return nil, err
			}
			found = append(found, filepath.ToSlash(rel))
		}
	}
	sort.Strings(found)
	return found, nil
}

// docDest is where a doc lands below the doc directory: docs/x.md as x.md,
// configs/… as configs/… (the docs refer to them so).
func docDest(rel string) string { return strings.TrimPrefix(rel, "docs/") }

// tarballFiles lay out the tarball like the repository, so that
// scripts/install.sh works from it unchanged (`sudo scripts/install.sh` in
// the unpacked directory installs its binary).
func tarballFiles(root, bin string) ([]file, error) {
	d, err := docs(root)
	if err != nil {
		return nil, err
	}
	files := []file{
		{from: bin, to: "auditfwd", mode: 0o755},
		{from: "scripts/install.sh", to: "scripts/install.sh", mode: 0o755},
		{from: "systemd/auditfwd.service", to: "systemd/auditfwd.service", mode: 0o644},
		{from: "systemd/auditfwd.sysusers", to: "systemd/auditfwd.sysusers", mode: 0o644},
		{from: "systemd/auditfwd.tmpfiles", to: "systemd/auditfwd.tmpfiles", mode: 0o644},
	}
	for _, rel := range d {
		files = append(files, file{from: rel, to: rel, mode: 0o644})
	}
	return files, nil
}

// packageFiles are the packages' regular files; the config is separate
// (a conffile with its own owner).
func packageFiles(root, bin, unit string) ([]file, error) {
	d, err := docs(root)
	if err != nil {
		return nil, err
	}
	files := []file{
		{from: bin, to: pkgBinary, mode: 0o755},
		{from: unit, to: pkgUnit, mode: 0o644},
		{from: "systemd/auditfwd.sysusers", to: "/usr/lib/sysusers.d/auditfwd.conf", mode: 0o644},
		{from: "systemd/auditfwd.tmpfiles", to: "/usr/lib/tmpfiles.d/auditfwd.conf", mode: 0o644},
	}
	for _, rel := range d {
		files = append(files, file{from: rel, to: path.Join(pkgDocDir, docDest(rel)), mode: 0o644})
	}
	return files, nil
}

// source resolves f.from against the repository's root.
func (f file) source(root string) string {
	if filepath.IsAbs(f.from) {
		return f.from
	}
	return filepath.Join(root, filepath.FromSlash(f.from))
}

// ownedDirs are the directories a package owns (and removes when empty):
// its doc directory, /etc/auditfwd, and every directory between them and
// the files in them.
func ownedDirs(files []string) []string {
	seen := map[string]bool{pkgConfDir: true}
	for _, f := range files {
		for dir := path.Dir(f); strings.HasPrefix(dir+"/", pkgDocDir+"/"); dir = path.Dir(dir) {
			seen[dir] = true
		}
	}
	dirs := make([]string, 0, len(seen))
	for d := range seen {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	return dirs
}

func checkRegular(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	return nil
}
