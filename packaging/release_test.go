package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// This file is the release's acceptance test, run by `make test` as root
// (as CI runs it): `make release` itself, the artifacts, and the .deb
// installed on this machine with dpkg, edited, reinstalled, removed and
// purged. It leaves the machine as it found it, also when it fails.

const repoRoot = ".."

func TestReleaseArtifactsAndDebLifecycle(t *testing.T) {
	for _, tool := range []string{"make", "git", "file", "dpkg", "dpkg-deb", "dpkg-query", "rpm", "sha256sum", "systemd-analyze", "getent", "userdel", "groupdel"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: scripts/test-deps.sh installs what this test needs (make test runs it)", tool)
		}
	}
	if os.Geteuid() != 0 {
		t.Fatal("this test installs the .deb with dpkg: run it as root, as CI does (make test)")
	}
	refuseIfInstalled(t)

	version := strings.TrimSpace(string(mustRead(t, filepath.Join(repoRoot, "VERSION"))))
	commit := strings.TrimSpace(run(t, repoRoot, "git", "rev-parse", "HEAD"))
	if exec.Command("git", "-C", repoRoot, "diff", "--quiet", "HEAD").Run() != nil {
		commit += "-dirty"
	}
	epoch := strings.TrimSpace(run(t, repoRoot, "git", "log", "-1", "--format=%ct"))
	buildDate := strings.TrimSpace(run(t, repoRoot, "date", "-u", "-d", "@"+epoch, "+%Y-%m-%dT%H:%M:%SZ"))

	dist := t.TempDir()
	start := time.Now()
	run(t, repoRoot, "make", "release", "DIST="+dist)
	t.Logf("make release (amd64, arm64): %v", time.Since(start).Round(time.Second))

	artifacts := strings.Fields(fmt.Sprintf(`linux-amd64/auditfwd linux-arm64/auditfwd
		auditfwd-%[1]s.linux-amd64.tar.gz auditfwd-%[1]s.linux-arm64.tar.gz
		auditfwd_%[1]s-1_amd64.deb auditfwd_%[1]s-1_arm64.deb
		auditfwd-%[1]s-1.x86_64.rpm auditfwd-%[1]s-1.aarch64.rpm`, version))
	t.Run("SHA256SUMS", func(t *testing.T) {
		sums := string(mustRead(t, filepath.Join(dist, "SHA256SUMS")))
		var listed []string
		for _, l := range strings.Split(strings.TrimSpace(sums), "\n") {
			listed = append(listed, l[strings.Index(l, "  ")+2:])
		}
		sort.Strings(listed)
		want := slices.Sorted(slices.Values(artifacts))
		if !slices.Equal(listed, want) {
			t.Errorf("SHA256SUMS lists %v, want %v", listed, want)
		}
		run(t, dist, "sha256sum", "--check", "--strict", "SHA256SUMS")
	})
	t.Run("static binaries", func(t *testing.T) {
		for arch, machine := range map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64} {
			bin := filepath.Join(dist, "linux-"+arch, "auditfwd")
			checkStatic(t, bin, machine)
			if out := run(t, dist, "file", bin); !strings.Contains(out, "statically linked") {
				t.Errorf("file says %q", out)
			}
		}
		got := run(t, dist, filepath.Join(dist, "linux-"+runtime.GOARCH, "auditfwd"), "version")
		want := fmt.Sprintf("auditfwd %s\ncommit: %s\nbuild date: %s\ngo version: %s linux/%s\n",
			version, commit, buildDate, runtime.Version(), runtime.GOARCH)
		if got != want {
			t.Errorf("auditfwd version:\n%s\nwant:\n%s", got, want)
		}
	})
	t.Run("build info metric", func(t *testing.T) {
		checkBuildInfoMetric(t, filepath.Join(dist, "linux-"+runtime.GOARCH, "auditfwd"),
			fmt.Sprintf(`auditfwd_build_info{build_date=%q,commit=%q,goversion=%q,version=%q} 1`,
				buildDate, commit, runtime.Version(), version))
	})
	t.Run("tarballs", func(t *testing.T) {
		for _, arch := range []string{"amd64", "arm64"} {
			checkTarball(t, dist, version, arch)
		}
	})
	t.Run("install.sh from the tarball", func(t *testing.T) {
		// As docs/operations.md says, staged (DESTDIR) instead of as root.
		unpacked, stage := t.TempDir(), t.TempDir()
		top := fmt.Sprintf("auditfwd-%s.linux-%s", version, runtime.GOARCH)
		run(t, unpacked, "tar", "-xzf", filepath.Join(dist, top+".tar.gz"))
		cmd := exec.Command("scripts/install.sh")
		cmd.Dir = filepath.Join(unpacked, top)
		cmd.Env = append(os.Environ(), "DESTDIR="+stage, "PATH=/usr/sbin:/usr/bin:/sbin:/bin") // no Go needed
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("install.sh from the tarball: %v\n%s", err, out)
		}
		if !bytes.Equal(mustRead(t, filepath.Join(stage, "usr/local/bin/auditfwd")), mustRead(t, filepath.Join(dist, "linux-"+runtime.GOARCH, "auditfwd"))) {
			t.Error("install.sh did not install the tarball's binary")
		}
		for _, f := range []string{"etc/systemd/system/auditfwd.service", "usr/lib/sysusers.d/auditfwd.conf", "usr/lib/tmpfiles.d/auditfwd.conf", "etc/auditfwd/config.yaml", "usr/local/share/doc/auditfwd/operations.md"} {
			if _, err := os.Stat(filepath.Join(stage, f)); err != nil {
				t.Errorf("install.sh from the tarball: %v", err)
			}
		}
	})
	t.Run("reproducible", func(t *testing.T) {
		// The same commit again, elsewhere: the same bytes (all cached but packaging).
		again := t.TempDir()
		run(t, repoRoot, "make", "release", "DIST="+again, "ARCHES="+runtime.GOARCH)
		first := sumsFor(t, dist, runtime.GOARCH)
		if second := sumsFor(t, again, runtime.GOARCH); first != second {
			t.Errorf("two builds of one commit differ:\n%s\n%s", first, second)
		}
	})

	deb := filepath.Join(dist, fmt.Sprintf("auditfwd_%s-1_%s.deb", version, runtime.GOARCH))
	rpmArch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	rpmFile := filepath.Join(dist, fmt.Sprintf("auditfwd-%s-1.%s.rpm", version, rpmArch))
	t.Run("rpm has the deb's files", func(t *testing.T) { compareRPMWithDeb(t, rpmFile, deb) })
	t.Run("preinst without systemd-sysusers", func(t *testing.T) { preinstFallback(t, deb) })
	t.Run("deb lifecycle", func(t *testing.T) { debLifecycle(t, deb, version) })
}

// preinstFallback runs the .deb's preinst where systemd-sysusers is not on
// PATH: useradd and friends must create what the sysusers entries would.
func preinstFallback(t *testing.T, deb string) {
	if exec.Command("getent", "passwd", "auditfwd").Run() == nil {
		t.Fatal("the auditfwd user exists on this machine; this test creates and deletes it: run it elsewhere")
	}
	hadLogGroup := exec.Command("getent", "group", "rack-gateway").Run() == nil
	t.Cleanup(func() {
		exec.Command("userdel", "auditfwd").Run()
		exec.Command("groupdel", "auditfwd").Run() // when userdel kept it
		if !hadLogGroup {
			exec.Command("groupdel", "rack-gateway").Run()
		}
	})
	control := t.TempDir()
	run(t, ".", "dpkg-deb", "--control", deb, control)
	bin := t.TempDir()
	for _, tool := range []string{"sh", "cat", "getent", "groupadd", "useradd", "usermod", "id", "tr", "grep"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(filepath.Join(control, "preinst"), "install")
	cmd.Env = []string{"PATH=" + bin}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("preinst without systemd-sysusers: %v\n%s", err, out)
	}
	passwd := strings.TrimSpace(run(t, ".", "getent", "passwd", "auditfwd"))
	if f := strings.Split(passwd, ":"); len(f) != 7 || f[4] != "auditfwd Slack forwarder" || f[5] != "/var/lib/auditfwd" || !strings.HasSuffix(f[6], "/nologin") {
		t.Errorf("auditfwd user: %q", passwd)
	}
	if uid := strings.TrimSpace(run(t, ".", "id", "-u", "auditfwd")); len(uid) > 3 {
		t.Errorf("uid %s: not a system user", uid)
	}
	if groups := strings.Fields(run(t, ".", "id", "-nG", "auditfwd")); !slices.Equal(groups, []string{"auditfwd", "rack-gateway"}) {
		t.Errorf("auditfwd's groups: %v, want [auditfwd rack-gateway]", groups)
	}
	// Again, as on an upgrade: no error.
	again := exec.Command(filepath.Join(control, "preinst"), "upgrade", "0.0.9-1")
	again.Env = cmd.Env
	if out, err := again.CombinedOutput(); err != nil {
		t.Fatalf("preinst upgrade: %v\n%s", err, out)
	}
}

// refuseIfInstalled fails when auditfwd is on this machine already: the
// test would replace and then purge it.
func refuseIfInstalled(t *testing.T) {
	if out, _ := exec.Command("dpkg-query", "-W", "-f=${Status}", "auditfwd").Output(); strings.Contains(string(out), "installed") {
		t.Fatalf("the auditfwd package is installed on this machine (%s); this test would purge it: run it elsewhere", out)
	}
	for _, p := range []string{"/usr/bin/auditfwd", "/etc/auditfwd", "/var/lib/auditfwd", "/usr/lib/systemd/system/auditfwd.service"} {
		if _, err := os.Lstat(p); err == nil {
			t.Fatalf("%s exists: auditfwd is installed on this machine; this test would remove it: run it elsewhere", p)
		}
	}
}

func checkStatic(t *testing.T, bin string, machine elf.Machine) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != machine || f.Type != elf.ET_EXEC {
		t.Errorf("%s: machine %v type %v, want %v ET_EXEC", bin, f.Machine, f.Type, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s has a %v program header: not static", bin, p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s needs %v", bin, libs)
	}
}

// checkBuildInfoMetric runs the release binary as a daemon on a scratch
// config and reads auditfwd_build_info from /metrics.
func checkBuildInfoMetric(t *testing.T, bin, want string) {
	dir := t.TempDir()
	metricsAddr, adminAddr := freeAddr(t), freeAddr(t)
	cfg := filepath.Join(dir, "config.yaml")
	mustWrite(t, cfg, fmt.Sprintf("audit_log:\n  path: %s/audit.log\nstate_dir: %s/state\nmetrics:\n  listen: %s\nadmin:\n  listen: %s\n  public_url: http://%s\n",
		dir, dir, metricsAddr, adminAddr, adminAddr))
	cmd := exec.Command(bin, "run", "--config", cfg)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("auditfwd:\n%s", &out)
		}
	}()
	var body string
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(body, "auditfwd_build_info") {
		if time.Now().After(deadline) {
			t.Fatalf("no auditfwd_build_info on /metrics within 30 s")
		}
		time.Sleep(100 * time.Millisecond) // polling the daemon's start
		resp, err := http.Get("http://" + metricsAddr + "/metrics")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
	}
	if !strings.Contains(body, "\n"+want+"\n") {
		t.Errorf("/metrics has no line %s:\n%s", want, grepLines(body, "auditfwd_build_info"))
	}
}

func checkTarball(t *testing.T, dist, version, arch string) {
	t.Helper()
	top := fmt.Sprintf("auditfwd-%s.linux-%s", version, arch)
	f, err := os.Open(filepath.Join(dist, top+".tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	got := map[string]int64{} // name → mode
	var binary []byte
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "root" {
			t.Errorf("%s owned by %d/%d %s", h.Name, h.Uid, h.Gid, h.Uname)
		}
		if h.Typeflag == tar.TypeDir {
			continue
		}
		got[strings.TrimPrefix(h.Name, top+"/")] = h.Mode
		if h.Name == top+"/auditfwd" {
			binary, _ = io.ReadAll(tr)
		}
	}
	want := map[string]int64{
		"auditfwd": 0o755, "scripts/install.sh": 0o755, "LICENSE": 0o644, "README.md": 0o644,
		"systemd/auditfwd.service": 0o644, "systemd/auditfwd.sysusers": 0o644, "systemd/auditfwd.tmpfiles": 0o644,
		"configs/example.yaml": 0o644, "configs/prometheus/alerts.yaml": 0o644, "configs/grafana/auditfwd.json": 0o644,
	}
	mds, _ := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	for _, md := range mds {
		want["docs/"+filepath.Base(md)] = 0o644
	}
	for name, mode := range want {
		if m, ok := got[name]; !ok || m != mode {
			t.Errorf("%s: %s has mode %o (present %v), want %o", top, name, m, ok, mode)
		}
	}
	for name := range got {
		if strings.HasPrefix(name, "bin/") || strings.HasSuffix(name, ".go") || strings.HasPrefix(name, "..") {
			t.Errorf("%s: unexpected %s", top, name)
		}
	}
	if !bytes.Equal(binary, mustRead(t, filepath.Join(dist, "linux-"+arch, "auditfwd"))) {
		t.Errorf("%s: the binary is not linux-%s/auditfwd", top, arch)
	}
}

func sumsFor(t *testing.T, dist, arch string) string {
	var lines []string
	for _, l := range strings.Split(string(mustRead(t, filepath.Join(dist, "SHA256SUMS"))), "\n") {
		if strings.Contains(l, arch) || strings.Contains(l, map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[arch]) {
			lines = append(lines, l)
		}
	}
	if len(lines) != 4 {
		t.Fatalf("%s: %d artifacts for %s in SHA256SUMS, want 4", dist, len(lines), arch)
	}
	return strings.Join(lines, "\n")
}

// compareRPMWithDeb checks that the .rpm installs what the .deb does:
// the same files, the same config file, the same scripts.
func compareRPMWithDeb(t *testing.T, rpmFile, deb string) {
	debFiles, debDirs := map[string]bool{}, map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(run(t, ".", "dpkg-deb", "-c", deb)), "\n") {
		fields := strings.Fields(l)
		name := strings.TrimSuffix(strings.TrimPrefix(fields[len(fields)-1], "."), "/")
		if strings.HasPrefix(fields[0], "d") {
			debDirs[name] = true
		} else {
			debFiles[name] = true
		}
	}
	rpmEntries := map[string]bool{}
	for _, name := range strings.Fields(run(t, ".", "rpm", "-qpl", rpmFile)) {
		rpmEntries[name] = true
		if !debFiles[name] && !debDirs[name] {
			t.Errorf("the rpm has %s, the deb does not", name)
		}
	}
	for name := range debFiles {
		if !rpmEntries[name] {
			t.Errorf("the deb has %s, the rpm does not", name)
		}
	}
	for _, dir := range []string{"/etc/auditfwd", "/usr/share/doc/auditfwd"} {
		if !rpmEntries[dir] {
			t.Errorf("the rpm does not own %s (it would stay behind, empty, after rpm -e)", dir)
		}
	}
	if got := strings.TrimSpace(run(t, ".", "rpm", "-qpc", rpmFile)); got != "/etc/auditfwd/config.yaml" {
		t.Errorf("rpm config files: %q", got)
	}
	conffiles := run(t, ".", "dpkg-deb", "--info", deb, "conffiles")
	if strings.TrimSpace(conffiles) != "/etc/auditfwd/config.yaml" {
		t.Errorf("deb conffiles: %q", conffiles)
	}
	owner := run(t, ".", "rpm", "-qp", "--qf", `[%{FILENAMES} %{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME}\n]`, rpmFile)
	if !strings.Contains(owner, "/etc/auditfwd/config.yaml -rw-r----- root:auditfwd\n") {
		t.Errorf("rpm config.yaml:\n%s", grepLines(owner, "config.yaml"))
	}
	scripts := run(t, ".", "rpm", "-qp", "--scripts", rpmFile)
	for _, want := range []string{"preinstall scriptlet", "postinstall scriptlet", "preuninstall scriptlet", "postuninstall scriptlet", "systemd-sysusers --replace=/usr/lib/sysusers.d/auditfwd.conf -", "u auditfwd"} {
		if !strings.Contains(scripts, want) {
			t.Errorf("rpm scripts lack %q", want)
		}
	}
}

func debLifecycle(t *testing.T, deb, version string) {
	hadUser := exec.Command("getent", "passwd", "auditfwd").Run() == nil
	hadUserGroup := exec.Command("getent", "group", "auditfwd").Run() == nil
	hadLogGroup := exec.Command("getent", "group", "rack-gateway").Run() == nil
	t.Cleanup(func() {
		// Whatever happened above: purge, and undo what the package created.
		exec.Command("dpkg", "--purge", "auditfwd").Run()
		os.RemoveAll("/etc/auditfwd")
		os.RemoveAll("/var/lib/auditfwd")
		if !hadUser {
			exec.Command("userdel", "auditfwd").Run()
		}
		if !hadUserGroup && exec.Command("getent", "group", "auditfwd").Run() == nil {
			exec.Command("groupdel", "auditfwd").Run()
		}
		if !hadLogGroup {
			exec.Command("groupdel", "rack-gateway").Run()
		}
		for _, p := range []string{"/usr/bin/auditfwd", "/etc/auditfwd", "/var/lib/auditfwd", "/usr/lib/systemd/system/auditfwd.service"} {
			if _, err := os.Lstat(p); err == nil {
				t.Errorf("cleanup left %s behind", p)
			}
		}
	})

	run(t, ".", "dpkg", "-i", deb)
	if st := run(t, ".", "dpkg-query", "-W", "-f=${Status} ${Version}", "auditfwd"); st != "install ok installed "+version+"-1" {
		t.Fatalf("dpkg-query: %q", st)
	}

	// The user, its group, and membership in the log's group.
	passwd := strings.TrimSpace(run(t, ".", "getent", "passwd", "auditfwd"))
	if f := strings.Split(passwd, ":"); len(f) != 7 || f[5] != "/var/lib/auditfwd" || !strings.HasSuffix(f[6], "nologin") {
		t.Errorf("auditfwd user: %q", passwd)
	}
	if groups := strings.Fields(run(t, ".", "id", "-nG", "auditfwd")); !slices.Contains(groups, "auditfwd") || !slices.Contains(groups, "rack-gateway") {
		t.Errorf("auditfwd's groups: %v, want auditfwd and rack-gateway", groups)
	}

	// The files, with their modes and owners.
	for path, want := range map[string]string{
		"/usr/bin/auditfwd":                        "-rwxr-xr-x root root",
		"/usr/lib/systemd/system/auditfwd.service": "-rw-r--r-- root root",
		"/usr/lib/sysusers.d/auditfwd.conf":        "-rw-r--r-- root root",
		"/usr/lib/tmpfiles.d/auditfwd.conf":        "-rw-r--r-- root root",
		"/etc/auditfwd/config.yaml":                "-rw-r----- root auditfwd",
		"/etc/auditfwd/credentials":                "drwx------ root root",
		"/usr/share/doc/auditfwd/operations.md":    "-rw-r--r-- root root",
		"/usr/share/doc/auditfwd/LICENSE":          "-rw-r--r-- root root",
		"/usr/share/doc/auditfwd/README.md":        "-rw-r--r-- root root",
	} {
		if got := strings.TrimSpace(run(t, ".", "stat", "-c", "%A %U %G", path)); got != want {
			t.Errorf("%s: %s, want %s", path, got, want)
		}
	}
	if got := run(t, ".", "/usr/bin/auditfwd", "version"); !strings.HasPrefix(got, "auditfwd "+version+"\n") {
		t.Errorf("installed auditfwd version: %q", got)
	}
	unit := string(mustRead(t, "/usr/lib/systemd/system/auditfwd.service"))
	if !strings.Contains(unit, "\nExecStart=/usr/bin/auditfwd run --config /etc/auditfwd/config.yaml\n") {
		t.Errorf("the packaged unit does not run /usr/bin/auditfwd")
	}
	for _, doc := range strings.Fields(grepLines(unit, "Documentation=")) {
		if p, ok := strings.CutPrefix(strings.TrimPrefix(doc, "Documentation="), "file://"); ok {
			if _, err := os.Stat(p); err != nil {
				t.Errorf("the unit's Documentation= %s is not installed", p)
			}
		}
	}
	if conf := run(t, ".", "dpkg-query", "-W", "-f=${Conffiles}", "auditfwd"); !strings.Contains(conf, "/etc/auditfwd/config.yaml ") {
		t.Errorf("config.yaml is not a conffile: %q", conf)
	}
	// systemd accepts the installed unit, warnings included.
	if out, err := exec.Command("systemd-analyze", "verify", "/usr/lib/systemd/system/auditfwd.service").CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	// The installed example config passes the installed binary's check.
	run(t, ".", "/usr/bin/auditfwd", "check", "--rules-only", "--config", "/etc/auditfwd/config.yaml")
	checkNotEnabledNorStarted(t)
	if _, err := os.Lstat("/var/lib/auditfwd"); err == nil {
		t.Errorf("/var/lib/auditfwd exists: something started the service (systemd creates it at start)")
	}

	// An operator's edit and the daemon's state; a reinstall keeps the edit.
	edited := string(mustRead(t, "/etc/auditfwd/config.yaml")) + "# edited by the operator\n"
	mustWrite(t, "/etc/auditfwd/config.yaml", edited)
	mustWrite(t, "/etc/auditfwd/credentials/admin-password", "not-a-real-password\n")
	if err := os.MkdirAll("/var/lib/auditfwd/spool/security", 0o700); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, "/var/lib/auditfwd/spool/security/00000000000000000001.jsonl", "{}\n")
	run(t, ".", "dpkg", "-i", deb)
	if got := string(mustRead(t, "/etc/auditfwd/config.yaml")); got != edited {
		t.Errorf("the reinstall overwrote the edited config")
	}
	if got := strings.TrimSpace(run(t, ".", "stat", "-c", "%A %U %G", "/etc/auditfwd/config.yaml")); got != "-rw-r----- root auditfwd" {
		t.Errorf("config.yaml after reinstall: %s", got)
	}
	checkNotEnabledNorStarted(t)

	// remove: the binary goes, config, credentials and state stay.
	run(t, ".", "dpkg", "--remove", "auditfwd")
	for _, gone := range []string{"/usr/bin/auditfwd", "/usr/lib/systemd/system/auditfwd.service", "/usr/share/doc/auditfwd/operations.md"} {
		if _, err := os.Lstat(gone); err == nil {
			t.Errorf("%s is still there after dpkg --remove", gone)
		}
	}
	if got := string(mustRead(t, "/etc/auditfwd/config.yaml")); got != edited {
		t.Errorf("dpkg --remove changed the config")
	}
	for _, kept := range []string{"/etc/auditfwd/credentials/admin-password", "/var/lib/auditfwd/spool/security/00000000000000000001.jsonl"} {
		if _, err := os.Stat(kept); err != nil {
			t.Errorf("dpkg --remove did not keep %s: %v", kept, err)
		}
	}

	// purge: all gone.
	run(t, ".", "dpkg", "--purge", "auditfwd")
	for _, gone := range []string{"/etc/auditfwd", "/var/lib/auditfwd"} {
		if _, err := os.Lstat(gone); err == nil {
			t.Errorf("%s is still there after dpkg --purge", gone)
		}
	}
	if out, _ := exec.Command("dpkg-query", "-W", "-f=${Status}", "auditfwd").Output(); strings.Contains(string(out), "installed") {
		t.Errorf("after purge dpkg says %q", out)
	}
}

// checkNotEnabledNorStarted: no enablement symlink anywhere systemd looks
// and no auditfwd process from the package's binary. systemd is not PID 1
// here, so `systemctl is-enabled` cannot be asked.
func checkNotEnabledNorStarted(t *testing.T) {
	t.Helper()
	for _, pattern := range []string{"/etc/systemd/system/*.wants/auditfwd.service", "/usr/lib/systemd/system/*.wants/auditfwd.service", "/etc/systemd/system/*.requires/auditfwd.service"} {
		if m, _ := filepath.Glob(pattern); len(m) > 0 {
			t.Errorf("the service is enabled: %v", m)
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/exe")
	for _, exe := range procs {
		if target, err := os.Readlink(exe); err == nil && strings.HasPrefix(target, "/usr/bin/auditfwd") {
			t.Errorf("an auditfwd process runs from the package: %s", filepath.Dir(exe))
		}
	}
}

func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, &stdout, &stderr)
	}
	return stdout.String()
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func grepLines(s, substr string) string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if strings.Contains(sc.Text(), substr) {
			out = append(out, sc.Text())
		}
	}
	return strings.Join(out, "\n")
}
