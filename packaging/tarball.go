package main

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
)

// writeTarball writes auditfwd-VERSION.linux-ARCH.tar.gz, whose one top
// directory has the same name (as node_exporter's do). Entries are sorted,
// owned by root and stamped with o.mtime; gzip carries no name or time.
func writeTarball(o options, arch, bin string) (string, error) {
	top := fmt.Sprintf("auditfwd-%s.linux-%s", o.version, arch)
	name := top + ".tar.gz"
	files, err := tarballFiles(o.root, bin)
	if err != nil {
		return "", err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].to < files[j].to })
	return name, writeAtomic(filepath.Join(o.dist, name), func(w io.Writer) error {
		zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
		if err != nil {
			return err
		}
		tw := tar.NewWriter(zw)
		dirs := map[string]bool{}
		header := func(name string, mode os.FileMode, size int64, typ byte) *tar.Header {
			return &tar.Header{
				Typeflag: typ, Name: name, Mode: int64(mode), Size: size, ModTime: o.mtime,
				Uname: "root", Gname: "root", Format: tar.FormatUSTAR,
			}
		}
		addDir := func(dir string) error {
			if dirs[dir] {
				return nil
			}
			dirs[dir] = true
			return tw.WriteHeader(header(dir+"/", 0o755, 0, tar.TypeDir))
		}
		if err := addDir(top); err != nil {
			return err
		}
		for _, f := range files {
			to := path.Join(top, f.to)
			// Parents first, outermost first.
			var parents []string
			for dir := path.Dir(to); dir != top; dir = path.Dir(dir) {
				parents = append([]string{dir}, parents...)
			}
			for _, dir := range parents {
				if err := addDir(dir); err != nil {
					return err
				}
			}
			if err := addFile(tw, f.source(o.root), header(to, f.mode, 0, tar.TypeReg)); err != nil {
				return err
			}
		}
		if err := tw.Close(); err != nil {
			return err
		}
		return zw.Close()
	})
}

func addFile(tw *tar.Writer, src string, h *tar.Header) error {
	if err := checkRegular(src); err != nil {
		return err
	}
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	h.Size = fi.Size()
	if err := tw.WriteHeader(h); err != nil {
		return fmt.Errorf("%s: %w", h.Name, err)
	}
	if _, err := io.Copy(tw, f); err != nil {
		return fmt.Errorf("%s: %w", h.Name, err)
	}
	return nil
}

// writeAtomic writes path through a temporary file in its directory, so a
// failed run never leaves a half-written artifact under the final name.
func writeAtomic(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
