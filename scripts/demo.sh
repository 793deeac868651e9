#!/usr/bin/env bash
# The vbatch demo: sets up what vbatch needs (scripts/setup.sh), starts vbatchd with the
# shipped queues and images, routes a handful of jobs through the `grid` routing queue and
# shows where they went, how they ran and their histories. Idempotent: each run starts
# from a fresh state directory under var/demo.
#
# The worker nodes of this demo are simulated (sim://): jobs "run" for their declared
# VBATCH_SIM_RUNTIME. Real QEMU VMs through libvirt replace them with the libvirt driver.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/setup.sh" debug
bin=$(cd "$repo" && swift build --show-bin-path)
demo=$repo/var/demo
export VBATCH_SOCKET=$demo/vbatchd.sock

if [[ -f $demo/vbatchd.pid ]] && kill -0 "$(cat "$demo/vbatchd.pid")" 2>/dev/null; then
    kill "$(cat "$demo/vbatchd.pid")"; sleep 0.5
fi
rm -rf "$demo"
mkdir -p "$demo"

# A demo site: the shipped site file's VOs, with two simulated 4-slot worker nodes.
cat > "$demo/site.toml" <<'TOML'
[site]
name = "demo"
placement = "pack"
operators = ["root"]

[node.wn01]
uri = "sim://"
slots = 4
memory = "4gb"

[node.wn02]
uri = "sim://"
slots = 4
memory = "4gb"

[vo.cms]
share = 40
users = ["cms001"]
groups = ["cms"]

[vo.atlas]
share = 40
groups = ["atlas"]
TOML

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" >&2; "$@"; }

step "Validate the shipped configuration"
run "$bin/vbatchd" --check --config "$repo" --site "$demo/site.toml"

step "Start vbatchd"
"$bin/vbatchd" --config "$repo" --site "$demo/site.toml" --state "$demo/state" --socket "$VBATCH_SOCKET" \
    --log-level warning >"$demo/vbatchd.log" 2>&1 &
echo $! > "$demo/vbatchd.pid"
for _ in $(seq 100); do "$bin/vbatch" whoami >/dev/null 2>&1 && break; sleep 0.1; done
run "$bin/vbatch" whoami
run "$bin/vbatch" queues
run "$bin/vbatch" nodes

cat > "$demo/job.sh" <<'SH'
#!/bin/sh
echo "hello from job $VBATCH_JOB_ID on $(hostname)"
SH

step "Submit through the routing queue 'grid'"
pair=$(run "$bin/vbatch" submit "$demo/job.sh" -q grid -N pair -l walltime=12h --count 2 -v VBATCH_SIM_RUNTIME=5)
echo "$pair"
short=$(run "$bin/vbatch" submit "$demo/job.sh" -q grid -N short -l walltime=2h -v VBATCH_SIM_RUNTIME=4)
echo "$short"
overrun=$(run "$bin/vbatch" submit "$demo/job.sh" -q grid -N overrun -l walltime=3s -v VBATCH_SIM_RUNTIME=600)
echo "$overrun"
failing=$(run "$bin/vbatch" submit "$demo/job.sh" -q grid -N failing -l walltime=1h -v VBATCH_SIM_RUNTIME=2 -v VBATCH_SIM_EXIT=3)
echo "$failing"

step "A job no destination accepts is rejected at submit, with the reason of each"
run "$bin/vbatch" submit "$demo/job.sh" -q grid -N toolong -l walltime=30h || echo "(exit status $?)"

sleep 1
step "Placed and running: the two-way pair shares a node, one-way jobs never share one"
run "$bin/vbatch" status --all
run "$bin/vbatch" nodes

step "Waiting for every job to end"
for _ in $(seq 120); do
    [[ $("$bin/vbatch" status --all --json) == "[]"* ]] && break
    sleep 0.5
done
run "$bin/vbatch" history --all

step "Histories"
for id in $short $(echo "$pair" | head -1) $overrun $failing; do run "$bin/vbatch" show "$id"; done

kill "$(cat "$demo/vbatchd.pid")" && rm -f "$demo/vbatchd.pid"
step "Done. State, store and log are in $demo"
