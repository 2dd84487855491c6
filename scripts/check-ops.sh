#!/usr/bin/env bash
# Checks the operations files: Prometheus rules and their unit tests, the
# example scrape config, the Grafana dashboard, scripts/install.sh, and the
# systemd unit (verify + security exposure <= 2.0). Needs promtool (Debian:
# prometheus), systemd-analyze (systemd), python3 and go. Runs unprivileged.
# Exit status 0 only when every check passes. `make check-ops` runs it.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1

MAX_EXPOSURE=${MAX_EXPOSURE:-2.0}
unit=systemd/auditfwd.service
work=$(mktemp -d "${TMPDIR:-/tmp}/auditfwd-check-ops.XXXXXX")
trap 'rm -rf "$work"' EXIT

results=()
failed=0

# check NAME CMD...: runs CMD, records PASS/FAIL, shows the output on failure.
check() {
	local name=$1
	shift
	# Not in a subshell, so checks can set variables (exposure).
	if "$@" >"$work/out" 2>&1; then
		results+=("PASS  $name")
	else
		results+=("FAIL  $name")
		failed=1
		printf '\n--- FAIL: %s\n' "$name" >&2
		cat "$work/out" >&2
	fi
}

need() {
	local missing=()
	for tool in promtool systemd-analyze python3 go; do
		command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
	done
	if ((${#missing[@]})); then
		echo "missing: ${missing[*]} (Debian: apt-get install prometheus systemd python3; Go from go.dev)"
		return 1
	fi
}

# Dashboard: valid JSON, the expected shape, and every PromQL expression
# parses (promtool check rules on a generated recording-rule file).
dashboard() {
	python3 -m json.tool configs/grafana/auditfwd.json >/dev/null || return 1
	python3 - "$work/dashboard-rules.yaml" <<'PY' || return 1
import json, re, sys
d = json.load(open("configs/grafana/auditfwd.json"))
errs = []
if d.get("uid") != "auditfwd": errs.append("uid is not auditfwd")
if not isinstance(d.get("schemaVersion"), int): errs.append("no schemaVersion")
tv = {v["name"]: v for v in d.get("templating", {}).get("list", [])}
if tv.get("datasource", {}).get("type") != "datasource" or tv["datasource"].get("query") != "prometheus":
    errs.append("no datasource variable of type prometheus")
exprs, ids = [], set()
def walk(panels):
    for p in panels:
        if p.get("id") in ids: errs.append(f"duplicate panel id {p.get('id')}")
        ids.add(p.get("id"))
        for t in p.get("targets", []):
            exprs.append((p.get("title"), t["expr"]))
        walk(p.get("panels", []))
walk(d.get("panels", []))
if len(exprs) < 10: errs.append(f"only {len(exprs)} queries")
subst = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h", "$instance": ".*", "$channel": ".*"}
with open(sys.argv[1], "w") as f:
    f.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, (title, e) in enumerate(exprs):
        for k, v in subst.items(): e = e.replace(k, v)
        if "$" in e: errs.append(f"{title}: unknown variable in {e}")
        f.write(f"      - record: dashboard:query_{i}\n        expr: {json.dumps(e)}\n")
for e in errs: print(e)
sys.exit(1 if errs else 0)
PY
	promtool check rules "$work/dashboard-rules.yaml"
}

# Every auditfwd_* name used in rules, tests and dashboard is defined in the
# Go source (a renamed metric must not leave a silent alert behind).
metric_names() {
	python3 - <<'PY'
import glob, re, sys
defined = set()
for path in glob.glob("internal/**/*.go", recursive=True) + glob.glob("cmd/**/*.go", recursive=True):
    if path.endswith("_test.go"): continue
    defined |= set(re.findall(r'Name:\s*"(auditfwd_[a-z0-9_]+)"', open(path).read()))
if not defined:
    print("no auditfwd_* metric definitions (Name: \"auditfwd_…\") found under internal/ or cmd/")
    sys.exit(1)
allowed = defined | {n + s for n in defined for s in ("_bucket", "_sum", "_count")}
bad = []
for path in ["configs/prometheus/alerts.yaml", "configs/prometheus/alerts_test.yaml", "configs/grafana/auditfwd.json"]:
    for name in sorted(set(re.findall(r"\bauditfwd_[a-z0-9_]+", open(path).read()))):
        if name not in allowed: bad.append(f"{path}: {name} is not a metric auditfwd exports")
for b in bad: print(b)
sys.exit(1 if bad else 0)
PY
}

# scripts/install.sh into a staging directory, then check what it put there.
stage=$work/stage
install_stage() {
	DESTDIR=$stage scripts/install.sh >/dev/null || return 1
	local f mode want
	for f in usr/local/bin/auditfwd:755 etc/systemd/system/auditfwd.service:644 \
		usr/lib/sysusers.d/auditfwd.conf:644 usr/lib/tmpfiles.d/auditfwd.conf:644 \
		etc/auditfwd/config.yaml:640 etc/auditfwd/credentials:700; do
		want=${f##*:}
		f=${f%:*}
		mode=$(stat -c %a "$stage/$f" 2>/dev/null) || { echo "missing $f"; return 1; }
		[ "$mode" = "$want" ] || { echo "$f has mode $mode, want $want"; return 1; }
	done
	"$stage/usr/local/bin/auditfwd" check --config "$stage/etc/auditfwd/config.yaml" >/dev/null 2>&1 ||
		{ echo "installed config.yaml fails auditfwd check"; return 1; }
	for f in README.md docs/*.md; do
		[ -f "$stage/usr/local/share/doc/auditfwd/${f##*/}" ] || { echo "install.sh did not put ${f##*/} into the doc directory"; return 1; }
	done
	local url
	for url in $(sed -n 's/^Documentation=//p' "$unit"); do
		[ -f "$stage${url#file://}" ] || { echo "the unit's Documentation= $url is not installed"; return 1; }
	done
}

# systemd-analyze verify needs ExecStart= to exist. Verify a copy of the unit
# whose ExecStart= points at the staged binary; that must be the only change.
verify_unit() {
	[ -x "$stage/usr/local/bin/auditfwd" ] || { echo "no staged binary (install check failed)"; return 1; }
	mkdir -p "$work/verify"
	sed "s|^ExecStart=/usr/local/bin/auditfwd |ExecStart=$stage/usr/local/bin/auditfwd |" \
		"$unit" >"$work/verify/auditfwd.service"
	local changed
	changed=$(diff "$unit" "$work/verify/auditfwd.service" | grep -c '^>')
	[ "$changed" = 1 ] || { echo "expected exactly one ExecStart=/usr/local/bin/auditfwd line, changed $changed"; return 1; }
	local out
	out=$(systemd-analyze verify "$work/verify/auditfwd.service" 2>&1) || { echo "$out"; return 1; }
	# verify exits 0 on warnings such as unknown keys; treat any output as a failure.
	[ -z "$out" ] || { echo "$out"; return 1; }
}

# sysusers.d and tmpfiles.d entries apply cleanly to an empty root.
sysusers() {
	command -v systemd-sysusers >/dev/null 2>&1 || { echo "systemd-sysusers not installed"; return 1; }
	local r=$work/sysroot
	mkdir -p "$r/etc" "$r/usr/lib/sysusers.d" "$r/usr/lib/tmpfiles.d"
	cp systemd/auditfwd.sysusers "$r/usr/lib/sysusers.d/auditfwd.conf"
	systemd-sysusers --root="$r" auditfwd.conf || return 1
	grep -q '^auditfwd:x:[0-9]*:[0-9]*:auditfwd Slack forwarder:/var/lib/auditfwd:' "$r/etc/passwd" ||
		{ echo "no auditfwd user in $r/etc/passwd"; return 1; }
	grep -q '^rack-gateway:x:[0-9]*:\(.*,\)\?auditfwd\(,\|$\)' "$r/etc/group" ||
		{ echo "auditfwd is not a member of rack-gateway"; return 1; }
}

exposure=""
security() {
	local out
	out=$(systemd-analyze security --offline=yes --no-pager "$unit" 2>&1) || { echo "$out"; return 1; }
	exposure=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: *\([0-9.]*\).*/\1/p')
	[ -n "$exposure" ] || { echo "$out"; echo "no 'Overall exposure level' line"; return 1; }
	awk -v e="$exposure" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(e <= m) }' ||
		{ printf '%s\n' "$out" | grep '✗'; echo "exposure $exposure > $MAX_EXPOSURE"; return 1; }
}

check "tools present" need
check "promtool check rules alerts.yaml" promtool check rules configs/prometheus/alerts.yaml
check "promtool test rules alerts_test.yaml" promtool test rules configs/prometheus/alerts_test.yaml
check "promtool check config scrape.yaml" promtool check config configs/prometheus/scrape.yaml
check "grafana dashboard JSON and queries" dashboard
check "metric names exist in the Go source" metric_names
check "install.sh with DESTDIR" install_stage
check "systemd-analyze verify $unit" verify_unit
check "sysusers.d entry" sysusers
check "systemd-analyze security <= $MAX_EXPOSURE" security

echo
echo "check-ops summary:"
printf '  %s\n' "${results[@]}"
[ -n "$exposure" ] && echo "  exposure level of $unit: $exposure (max $MAX_EXPOSURE)"
if ((failed)); then
	echo "check-ops: FAILED"
	exit 1
fi
echo "check-ops: all passed"
