#!/usr/bin/env bash
# The vbatch demo: sets up what vbatch needs (scripts/setup.sh: packages, libvirtd, the
# test guest, the build), starts vbatchd with the shipped queues and images on this
# machine as a libvirt worker node, routes a handful of jobs through the `grid` routing
# queue into QEMU VMs, and shows where they went, their outputs and their histories.
# Idempotent: each run starts from a fresh state directory under var/demo.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/setup.sh" debug
bin=$(cd "$repo" && swift build --show-bin-path)
demo=$repo/var/demo
export VBATCH_SOCKET=$demo/vbatchd.sock

if [[ -f $demo/vbatchd.pid ]] && kill -0 "$(cat "$demo/vbatchd.pid")" 2>/dev/null; then
    kill "$(cat "$demo/vbatchd.pid")"; sleep 1
fi
rm -rf "$demo"
mkdir -p "$demo"

# The shipped site file names this machine as its worker node; the demo uses it as it is
# apart from the CPU list, which follows this machine's CPU count.
cpus=$(nproc)
sed -e "s/^cpus = .*/cpus = \"0-$((cpus - 1))\"/" -e 's/^# walltime_grace = .*/walltime_grace = "10s"/' \
    "$repo/queues/site.toml" > "$demo/site.toml"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" >&2; "$@"; }

step "Validate the shipped configuration"
run "$bin/vbatchd" --check --config "$repo" --site "$demo/site.toml"

step "Start vbatchd (this machine is the worker node: qemu:///system, TCG)"
"$bin/vbatchd" --config "$repo" --site "$demo/site.toml" --state "$demo/state" --socket "$VBATCH_SOCKET" \
    --log-level notice >"$demo/vbatchd.log" 2>&1 &
echo $! > "$demo/vbatchd.pid"
for _ in $(seq 100); do "$bin/vbatch" whoami >/dev/null 2>&1 && break; sleep 0.1; done
run "$bin/vbatch" queues
run "$bin/vbatch" nodes

cat > "$demo/pair.sh" <<'SH'
#!/bin/sh
echo "job $VBATCH_JOB_ID ($VBATCH_JOB_NAME) in its own VM: $(uname -sr), $(nproc) vCPU"
sleep 6
echo "done after 6 s"
SH
cat > "$demo/hello.sh" <<'SH'
#!/bin/sh
echo "hello $1 from job $VBATCH_JOB_ID"
echo "some diagnostics" >&2
echo 42 > "$VBATCH_OUTPUT/answer.txt"
SH
cat > "$demo/forever.sh" <<'SH'
#!/bin/sh
echo "starting a payload that would run for 10 minutes"
sleep 600
SH
printf '#!/bin/sh\necho "about to fail"\nexit 3\n' > "$demo/fail.sh"

step "Submit through the routing queue 'grid'"
pair=$(run "$bin/vbatch" submit "$demo/pair.sh" -q grid -N pair -l walltime=12h --count 2)
echo "$pair"
hello=$(run "$bin/vbatch" submit "$demo/hello.sh" -q grid -N hello -l walltime=1h -- world)
echo "$hello"
forever=$(run "$bin/vbatch" submit "$demo/forever.sh" -q grid -N forever -l walltime=5s)
echo "$forever"
fail=$(run "$bin/vbatch" submit "$demo/fail.sh" -q grid -N failing)
echo "$fail"

step "A job no destination accepts is rejected at submit, with the reason of each"
run "$bin/vbatch" submit "$demo/hello.sh" -q grid -N toolong -l walltime=30h || echo "(exit status $?)"

for _ in $(seq 100); do
    [[ $("$bin/vbatch" status --all) == *running*running* ]] && break; sleep 0.2
done
step "Placed and running in VMs: the two-way pair shares the node, one-way jobs wait for it to free up"
run "$bin/vbatch" status --all
run "$bin/vbatch" nodes

step "Waiting for every job to end (the 'forever' job is killed at its 5 s walltime)"
for _ in $(seq 300); do
    [[ $("$bin/vbatch" status --all --json) == "[]"* ]] && break
    sleep 0.5
done
run "$bin/vbatch" history --all

step "Outputs"
for id in $(echo "$pair" | head -1) $hello $forever $fail; do
    run "$bin/vbatch" output "$id" || true
done
run "$bin/vbatch" output "$hello" --file output/answer.txt

step "Histories"
for id in $(echo "$pair" | head -1) $forever; do run "$bin/vbatch" show "$id"; done

step "Accounting: one record per finished job, with the CPU time libvirt measured of its VM"
run "$bin/vbatch" accounting --all --records
run "$bin/vbatch" accounting --all --by queue

kill "$(cat "$demo/vbatchd.pid")" && rm -f "$demo/vbatchd.pid"
step "Done. State, spool (outputs, console logs) and the daemon log are in $demo"
