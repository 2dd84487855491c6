package tailer

import (
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// fingerprintMax is how much of a file's head identifies it. Inodes are reused
// after deletion, so device+inode alone could mistake a new file for an old one.
const fingerprintMax = 1024

type fingerprint struct {
	n    int
	hash uint64
}

// headHash hashes the first n bytes of f; ok is false when f is shorter.
func headHash(f *os.File, n int) (uint64, bool) {
	h := fnv.New64a()
	if n == 0 {
		return h.Sum64(), true
	}
	buf := make([]byte, n)
	got, err := f.ReadAt(buf, 0)
	if got < n {
		return 0, false
	}
	if err != nil && err != io.EOF {
		return 0, false
	}
	h.Write(buf)
	return h.Sum64(), true
}

// takeFingerprint hashes up to fingerprintMax bytes of the file's head.
func takeFingerprint(f *os.File, size int64) fingerprint {
	n := int(min(size, fingerprintMax))
	h, ok := headHash(f, n)
	if !ok {
		return fingerprint{}
	}
	return fingerprint{n: n, hash: h}
}

// extend takes a longer fingerprint of a file whose head is still being
// written, from one read, provided the file still starts with the bytes fp
// was taken from. It reports false (and leaves fp) when it does not: the file
// was truncated and regrew past its old size.
func (fp *fingerprint) extend(f *os.File, size int64) bool {
	n := int(min(size, fingerprintMax))
	if n <= fp.n {
		return true
	}
	buf := make([]byte, n)
	got, err := f.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		return true // unreadable now: decide on the next round
	}
	if got < fp.n {
		return false // shorter than the old head: truncated
	}
	old := fnv.New64a()
	old.Write(buf[:fp.n])
	if old.Sum64() != fp.hash {
		return false
	}
	h := fnv.New64a()
	h.Write(buf[:got])
	fp.n, fp.hash = got, h.Sum64()
	return true
}

// matches reports whether f still starts with the bytes fp was taken from.
func (fp fingerprint) matches(f *os.File) bool {
	h, ok := headHash(f, fp.n)
	return ok && h == fp.hash
}

func devIno(fi os.FileInfo) (uint64, uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino)
	}
	return 0, 0
}

// compressedSuffixes are rotated files we cannot read as text.
var compressedSuffixes = []string{".gz", ".bz2", ".xz", ".zst", ".lz4", ".z", ".zip", ".br", ".lzma", ".tgz"}

// siblings lists the rotated companions of path: files in its directory whose
// names start with path's name (audit.log.1, audit.log-20261123), compressed
// ones excluded, oldest modification first.
func siblings(path string) []string {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	type cand struct {
		path string
		mod  int64
	}
	var out []cand
	for _, e := range entries {
		name := e.Name()
		if name == base || !strings.HasPrefix(name, base) || e.IsDir() {
			continue
		}
		lower := strings.ToLower(name)
		skip := false
		for _, s := range compressedSuffixes {
			if strings.HasSuffix(lower, s) {
				skip = true
				break
			}
		}
		if skip {
			continue
		}
		fi, err := e.Info()
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		out = append(out, cand{filepath.Join(dir, name), fi.ModTime().UnixNano()})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].mod < out[j].mod })
	paths := make([]string, len(out))
	for i, c := range out {
		paths[i] = c.path
	}
	return paths
}
