#!/usr/bin/env bash
# The README's local run: auditfwd delivering to the fake Slack, nothing
# leaving the machine. Builds both, starts them in the background, shows
# what the fake receives (replies under their parent, edits as edits) and
# runs until Ctrl-C. On any exit — Ctrl-C, kill, an error, or either
# program stopping — it stops both and waits for them, so no process is
# left holding the ports or the state directory's lock. `make local` runs it.
#
# Append audit lines to <dir>/audit.log from another shell; <dir> is
#   AUDITFWD_LOCAL_DIR     (default /tmp/auditfwd-local), made if missing and
#                          started afresh: audit.log, state/, slack.txt (what
#                          the fake received), daemon.log, config.yaml, bin/
#   AUDITFWD_LOCAL_CONFIG  the config (default examples/local.yaml), in which
#                          /tmp/auditfwd-local stands for <dir>; the fake
#                          creates every Slack channel it names
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${AUDITFWD_LOCAL_DIR:-/tmp/auditfwd-local}
src=${AUDITFWD_LOCAL_CONFIG:-examples/local.yaml}
say() { echo "local-run: $*" >&2; }

mkdir -p -m 0700 "$dir"
dir=$(cd "$dir" && pwd)
if [ ! -O "$dir" ]; then
	say "$dir belongs to another user; set AUDITFWD_LOCAL_DIR to a directory of your own"
	exit 1
fi
# A fresh run: no checkpoint, spool or output of an earlier one.
rm -rf "$dir/state" "$dir/audit.log" "$dir/slack.txt" "$dir/daemon.log"
config=$(<"$src")
printf '%s\n' "${config//\/tmp\/auditfwd-local/"$dir"}" >"$dir/config.yaml"

pids=()
stop() {
	local status=$?
	trap - EXIT INT TERM HUP
	if ((${#pids[@]})); then
		kill -TERM "${pids[@]}" 2>/dev/null || true
		wait "${pids[@]}" 2>/dev/null || true
		say "stopped; the fake's output is in $dir/slack.txt, the daemon's log in $dir/daemon.log"
	fi
	exit "$status"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Built binaries, not `go run`: a signal to `go run` does not reach the
# program it started.
say "building auditfwd and the fake Slack into $dir/bin"
go build -o "$dir/bin/auditfwd" ./cmd/auditfwd
go build -o "$dir/bin/fakeslack" ./cmd/fakeslack

"$dir/bin/fakeslack" -config "$dir/config.yaml" >"$dir/slack.txt" 2>&1 &
fake=$!
pids+=("$fake")
until grep -q '^waiting for messages' "$dir/slack.txt"; do
	if ! kill -0 "$fake" 2>/dev/null; then
		say "the fake Slack did not start:"
		cat "$dir/slack.txt" >&2
		exit 1
	fi
	sleep 0.1
done

SLACK_BOT_TOKEN=xoxb-local-fake "$dir/bin/auditfwd" run --config "$dir/config.yaml" 2>"$dir/daemon.log" &
daemon=$!
pids+=("$daemon")

tail -n +1 -f "$dir/slack.txt" &
pids+=($!)
say "auditfwd is starting (its log: $dir/daemon.log); append audit lines to $dir/audit.log; Ctrl-C stops both"

# Until one of them stops by itself, or a signal ends the wait.
wait -n || true
for p in fake:"$fake" daemon:"$daemon"; do
	if ! kill -0 "${p#*:}" 2>/dev/null; then
		say "the ${p%%:*} stopped by itself; the last lines of its output:"
		if [ "${p%%:*}" = daemon ]; then tail -n 5 "$dir/daemon.log" >&2; else tail -n 5 "$dir/slack.txt" >&2; fi
	fi
done
exit 1
