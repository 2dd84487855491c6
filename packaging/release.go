package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

type options struct {
	root, dist, version string
	arches              []string
	mtime               time.Time
}

// release writes every artifact and SHA256SUMS; it returns their names
// relative to o.dist.
func release(o options) ([]string, error) {
	tmp, err := os.MkdirTemp("", "auditfwd-packaging-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	generated, err := generate(o.root, tmp)
	if err != nil {
		return nil, err
	}
	var artifacts []string
	for _, arch := range o.arches {
		bin := filepath.Join(o.dist, "linux-"+arch, "auditfwd")
		if _, err := os.Stat(bin); err != nil {
			return nil, fmt.Errorf("%w (make release builds it first)", err)
		}
		artifacts = append(artifacts, filepath.Join("linux-"+arch, "auditfwd"))
		name, err := writeTarball(o, arch, bin)
		if err != nil {
			return nil, fmt.Errorf("tarball for %s: %w", arch, err)
		}
		artifacts = append(artifacts, name)
		for _, format := range []string{"deb", "rpm"} {
			name, err := writePackage(o, format, arch, bin, generated)
			if err != nil {
				return nil, fmt.Errorf("%s for %s: %w", format, arch, err)
			}
			artifacts = append(artifacts, name)
		}
	}
	if err := writeSums(o.dist, artifacts); err != nil {
		return nil, err
	}
	return append(artifacts, "SHA256SUMS"), nil
}

// writeSums writes SHA256SUMS in sha256sum's format, so that
// `sha256sum -c SHA256SUMS` in the directory checks every artifact.
func writeSums(dist string, names []string) error {
	names = append([]string(nil), names...)
	sort.Strings(names)
	var b strings.Builder
	for _, name := range names {
		f, err := os.Open(filepath.Join(dist, name))
		if err != nil {
			return err
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("hash %s: %w", name, err)
		}
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(h.Sum(nil)), name)
	}
	return os.WriteFile(filepath.Join(dist, "SHA256SUMS"), []byte(b.String()), 0o644)
}
