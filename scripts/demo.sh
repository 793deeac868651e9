#!/usr/bin/env bash
# The vbatch demo: sets up what vbatch needs (scripts/setup.sh: packages, libvirtd, the
# test guest, the build), starts two worker nodes besides this machine (libvirtd hosts in
# network namespaces, reached over qemu+tls with certificates the demo makes, sharing no
# file with the daemon: scripts/test-hosts.sh), starts vbatchd with the shipped queues and
# images, routes a handful of jobs through the `grid` routing queue into QEMU VMs on the
# three nodes, and shows where they went, the nodes' image caches, outputs and histories;
# submits from a CE on its own host (ce1) through `vbatch relay` over mutual TLS; then
# drains a node for maintenance by migrating its running job live to another one.
# Idempotent: each run starts from a fresh state directory under var/demo; the daemon, the
# worker nodes and the VMs are stopped at the end, also when a step fails.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/setup.sh" debug
bin=$(cd "$repo" && swift build --show-bin-path)
demo=$repo/var/demo
export VBATCH_SOCKET=$demo/vbatchd.sock

stop_all() {
    if [[ -f $demo/vbatchd.pid ]] && kill -0 "$(cat "$demo/vbatchd.pid")" 2>/dev/null; then
        kill "$(cat "$demo/vbatchd.pid")"
        for _ in $(seq 50); do kill -0 "$(cat "$demo/vbatchd.pid")" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$demo/vbatchd.pid"
    "$repo/scripts/test-hosts.sh" down >/dev/null 2>&1 || true
    "$repo/scripts/clean-local-node.sh"
}
stop_all
trap stop_all EXIT
rm -rf "$demo"
mkdir -p "$demo"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" >&2; "$@"; }

step "Start two worker nodes (libvirtd with TLS) and a CE host, in network namespaces (scripts/test-hosts.sh)"
"$repo/scripts/test-hosts.sh" up 2 --ce --pki "$demo/pki"

# The shipped site file names this machine as its worker node; the demo adds the two
# hosts (qemu+tls, the daemon's certificate from the demo's PKI), spreads jobs over the
# nodes instead of packing them, and makes the CPU list follow this machine's CPU count.
cpus=$(nproc)
sed -e "s/^cpus = .*/cpus = \"0-$((cpus - 1))\"/" -e 's/^# walltime_grace = .*/walltime_grace = "10s"/' \
    -e 's/^placement = .*/placement = "spread"/' -e 's/^groups = \["atlas"\]/groups = ["atlas", "vbce-atlas"]/' \
    -e "s|^\\[site\\]|[site]\\ntls_ca = \"$demo/pki/client/cacert.pem\"\\ntls_certificate = \"$demo/pki/client/clientcert.pem\"\\ntls_key = \"$demo/pki/client/clientkey.pem\"|" \
    "$repo/queues/site.toml" > "$demo/site.toml"
for i in 1 2; do
    printf '\n[node.wn%d]\nuri = "qemu+tls://10.77.0.1%d/system"\ncpus = "0-%d"\nmemory = "2gb"\n' "$i" "$i" "$((cpus - 1))" \
        >> "$demo/site.toml"
done
# The TLS API for the CE host ce1 (10.77.0.5), whose relay certificate (CN ce1) the demo's
# CA signed; ce1's pool accounts (group vbce-atlas) are VO atlas (the sed above).
cat >> "$demo/site.toml" <<EOF

[api]
listen = "10.77.0.1:8443"
certificate = "$demo/pki/hosts/10.77.0.1/servercert.pem"
key = "$demo/pki/hosts/10.77.0.1/serverkey.pem"
ca = "$demo/pki/ca/cacert.pem"
relays = ["ce1"]
EOF

step "Validate the shipped configuration"
run "$bin/vbatchd" --check --config "$repo" --site "$demo/site.toml"

step "Start vbatchd (worker nodes: this machine, qemu:///system, and wn1, wn2 over qemu+tls; QEMU TCG)"
"$bin/vbatchd" --config "$repo" --site "$demo/site.toml" --state "$demo/state" --socket "$VBATCH_SOCKET" \
    --log-level notice >"$demo/vbatchd.log" 2>&1 &
echo $! > "$demo/vbatchd.pid"
for _ in $(seq 100); do "$bin/vbatch" whoami >/dev/null 2>&1 && break; sleep 0.1; done
run "$bin/vbatch" queues
# vbatchd answers at once; it connects to the nodes in the background.
for _ in $(seq 100); do
    [[ $("$bin/vbatch" nodes --json) != *'"link":"connecting"'* ]] && break; sleep 0.2
done
run "$bin/vbatch" nodes

step "Pre-stage the test guest on wn1 (the other nodes receive it with their first job)"
run "$bin/vbatch" image push testguest --node wn1

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
pair=$(run "$bin/vbatch" submit "$demo/pair.sh" -q grid -N array -l walltime=12h --count 3)
echo "$pair"
hello=$(run "$bin/vbatch" submit "$demo/hello.sh" -q grid -N hello -l walltime=1h -- world)
echo "$hello"
forever=$(run "$bin/vbatch" submit "$demo/forever.sh" -q grid -N forever -l walltime=5s)
echo "$forever"
fail=$(run "$bin/vbatch" submit "$demo/fail.sh" -q grid -N failing)
echo "$fail"

step "A job no destination accepts is rejected at submit, with the reason of each"
run "$bin/vbatch" submit "$demo/hello.sh" -q grid -N toolong -l walltime=30h || echo "(exit status $?)"

step "A CE on its own host: ce1 runs vbatch relay (scripts/setup-ce.sh); its pool account submits with qsub"
# ce1 sees none of this machine's files: the binaries and scripts are copied in.
"$repo/scripts/test-hosts.sh" ce-install ce1 "$bin" >/dev/null
run "$repo/scripts/test-hosts.sh" exec ce1 /opt/vbatch/src/scripts/setup-ce.sh --server 10.77.0.1:8443 \
    --ca /opt/vbatch/pki/clients/ce1/cacert.pem --certificate /opt/vbatch/pki/clients/ce1/clientcert.pem \
    --key /opt/vbatch/pki/clients/ce1/clientkey.pem --vbatch /opt/vbatch/bin/vbatch --start
# shellcheck disable=SC2016 # expanded in ce1
ce_job=$(run "$repo/scripts/test-hosts.sh" exec ce1 env -i PATH=/usr/local/bin:/usr/bin:/bin \
    setpriv --reuid=vbce-atlas001 --regid=vbce-atlas --init-groups sh -c \
    'cd /tmp && printf "#!/bin/sh\necho \"pilot of \$PBS_O_LOGNAME, submitted from \$PBS_O_HOST\"\n" > pilot.sh &&
     qsub -q grid -N from-ce1 pilot.sh && vbatch whoami >&2')
echo "$ce_job"
ce_job=${ce_job%%.*}

for _ in $(seq 100); do
    [[ $("$bin/vbatch" status --all) == *running*running*running* ]] && break; sleep 0.2
done
step "Placed and running in VMs: the array's three jobs spread over the three nodes"
run "$bin/vbatch" status --all
run "$bin/vbatch" nodes

step "Waiting for every job to end (the 'forever' job is killed at its 5 s walltime)"
for _ in $(seq 300); do
    [[ $("$bin/vbatch" status --all --json) == "[]"* ]] && break
    sleep 0.5
done
run "$bin/vbatch" history --all
step "The nodes and what each has cached (every file uploaded once per node)"
run "$bin/vbatch" nodes

step "Outputs"
for id in $(echo "$pair" | head -1) $hello $forever $fail $ce_job; do
    run "$bin/vbatch" output "$id" || true
done
run "$bin/vbatch" output "$hello" --file output/answer.txt

step "Histories"
for id in $(echo "$pair" | head -1) $forever; do run "$bin/vbatch" show "$id"; done

step "Accounting: one record per finished job, with the CPU time libvirt measured of its VM"
run "$bin/vbatch" accounting --all --records
run "$bin/vbatch" accounting --all --by queue

step "Maintenance: a node is emptied by live migration while its job runs on, counting"
cat > "$demo/count.sh" <<'SH'
#!/bin/sh
n=0
while [ "$n" -lt 20 ]; do
    n=$((n + 1)); read up idle < /proc/uptime
    echo "count $n at guest uptime $up"
    sleep 1
done
SH
# The live migration goes between the two hosts: this machine takes no new job meanwhile.
run "$bin/vbatch" node drain localhost --reason "demo: the next job runs on the hosts"
count=$(run "$bin/vbatch" submit "$demo/count.sh" -q grid -N counter -l walltime=1h)
echo "$count"
node=""
for _ in $(seq 300); do
    node=$("$bin/vbatch" show "$count" | sed -n 's/^ *node: *\([^ ]*\).*/\1/p' | head -1)
    [[ $("$bin/vbatch" status --all) == *running* && -n $node ]] && break; sleep 0.2
done
sleep 6
run "$bin/vbatch" node drain "$node" --mode migrate --reason "kernel update"
for _ in $(seq 300); do
    [[ $("$bin/vbatch" show "$count") == *"migrated live"* ]] && break; sleep 0.2
done
run "$bin/vbatch" nodes
for _ in $(seq 300); do
    [[ $("$bin/vbatch" status --all --json) == "[]"* ]] && break; sleep 0.5
done
run "$bin/vbatch" show "$count"
echo "(the count goes on across the move: the guest's uptime never jumps back)"
run "$bin/vbatch" output "$count"
run "$bin/vbatch" node resume localhost "$node"

step "Seeing the site: what vbatchd did (vbatch diag) and a few of its Prometheus metrics"
run "$bin/vbatch" diag
curl -s --unix-socket "$VBATCH_SOCKET" http://localhost/metrics \
    | grep -E '^vbatch_(jobs_ended_total|jobs_started_total|node_slots|vm_start_seconds_(sum|count))' | sort
echo "(the web dashboard is at https://10.77.0.1:8443/ui/ while vbatchd runs; docs/operations.md)"

step "Done. State, spool (outputs, console logs) and the daemon log are in $demo"
echo "(stopping vbatchd and the worker nodes; VMs and volumes are removed)"
