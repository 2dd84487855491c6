package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
	"github.com/goreleaser/nfpm/v2/files"
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers the rpm packager
)

const description = `Forwards Rack Gateway audit events to Slack
auditfwd tails the gateway's JSON-lines audit log, routes each event by glob
rules on its action, and posts it to the right Slack channels, losing
nothing across restarts, rotation and Slack outages. The package installs
the daemon, its systemd unit, user and an example configuration; it does
not enable or start the service.`

// writePackage builds the .deb or .rpm (format) for arch with nfpm and
// returns its file name.
func writePackage(o options, format, arch, bin string, g generated) (string, error) {
	regular, err := packageFiles(o.root, bin, g.unit)
	if err != nil {
		return "", err
	}
	var contents files.Contents
	var dests []string
	for _, f := range regular {
		src := f.source(o.root)
		if err := checkRegular(src); err != nil {
			return "", err
		}
		contents = append(contents, &files.Content{
			Source: src, Destination: f.to, Type: files.TypeFile,
			FileInfo: &files.ContentFileInfo{Mode: f.mode, Owner: "root", Group: "root"},
		})
		dests = append(dests, f.to)
	}
	// The config: a conffile (deb) / %config(noreplace) (rpm), so an upgrade
	// never overwrites an edited one. No secrets in it, but only root
	// edits it and the service reads it through its group, as
	// scripts/install.sh leaves it (the group exists: preinstall made it).
	contents = append(contents, &files.Content{
		Source: filepath.Join(o.root, "configs", "example.yaml"), Destination: pkgConfDir + "/config.yaml",
		Type:     files.TypeConfigNoReplace,
		FileInfo: &files.ContentFileInfo{Mode: 0o640, Owner: "root", Group: "auditfwd"},
	})
	for _, dir := range ownedDirs(dests) {
		contents = append(contents, &files.Content{
			Destination: dir, Type: files.TypeDir,
			FileInfo: &files.ContentFileInfo{Mode: 0o755, Owner: "root", Group: "root"},
		})
	}
	info := &nfpm.Info{
		Name:        "auditfwd",
		Arch:        arch,
		Platform:    "linux",
		Version:     o.version,
		Release:     "1",
		Section:     "admin",
		Priority:    "optional",
		Maintainer:  "The auditfwd authors",
		Description: description,
		Vendor:      "auditfwd",
		Homepage:    "https://github.com/auditfwd/auditfwd",
		License:     "Apache-2.0",
		MTime:       o.mtime,
		Overridables: nfpm.Overridables{
			Contents: contents,
			Scripts: nfpm.Scripts{
				PreInstall: g.preinstall, PostInstall: g.postinstall,
				PreRemove: g.preremove, PostRemove: g.postremove,
			},
			Deb: nfpm.Deb{Compression: "gzip"},
			RPM: nfpm.RPM{
				// The build host would make the package differ from host to host.
				BuildHost: "auditfwd-release",
				Group:     "System Environment/Daemons",
				Summary:   "Forwards Rack Gateway audit events to Slack",
			},
		},
	}
	nfpm.WithDefaults(info)
	if err := nfpm.Validate(info); err != nil {
		return "", err
	}
	packager, err := nfpm.Get(format)
	if err != nil {
		return "", err
	}
	naming := *info // ConventionalFileName normalises the arch in place
	name := packager.ConventionalFileName(&naming)
	return name, writeAtomic(filepath.Join(o.dist, name), func(w io.Writer) error {
		if err := packager.Package(info, w); err != nil {
			return fmt.Errorf("nfpm: %w", err)
		}
		return nil
	})
}
