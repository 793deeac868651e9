#!/usr/bin/env bash
# vbatch's per-job command line beside Slurm's, on this machine (DESIGN.md P3_cli, P8;
# docs/performance.md):
#
#   scripts/bench-slurm.sh [--json] [--slurm-rounds N] [--slurm-jobs N]
#
# Installs Debian's Slurm controller, client and munge if missing (without starting their
# services), builds vbatch in release mode, and runs
#   vbatch-bench --only P3_cli_vs_sbatch P3_qsub_vs_submit P8_vs_squeue P8_qstat_vs_status
# which starts a private munged and slurmctld and a vbatchd in fresh temporary directories,
# runs interleaved rounds (fork/exec floor, client start, 500-job submit loops of
# `vbatch submit`, `sbatch` and `qsub`; then status with 10,000 single pending jobs in each:
# `vbatch status --all --json`, `squeue`, `qstat`, `squeue --json`), prints the medians of the
# per-round ratios, and stops only what it started (also when interrupted: Ctrl-C or kill
# stops the private Slurm and vbatchd and removes their directories). Run it on a quiet machine: nothing else
# building or booting VMs.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

need=()
for pkg in slurmctld slurm-client munge; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if ((${#need[@]})); then
    echo "bench-slurm: installing ${need[*]} (their services are not started)"
    # Debian starts a package's service on install where it can; this benchmark starts its own.
    policy=/usr/sbin/policy-rc.d
    made_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy"
        chmod +x "$policy"
        made_policy=1
    fi
    trap '((made_policy)) && rm -f "$policy"' EXIT
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    ((made_policy)) && rm -f "$policy"
    trap - EXIT
fi

if ! command -v swift >/dev/null; then
    for dir in /opt/swift/usr/bin /opt/swift/bin; do [[ -x $dir/swift ]] && export PATH=$dir:$PATH; done
fi
for product in vbatchd vbatch vbatch-bench; do
    if ! swift build -c release --product "$product" >"${TMPDIR:-/tmp}/vbatch-bench-build.log" 2>&1; then
        grep -E "error" "${TMPDIR:-/tmp}/vbatch-bench-build.log" | head -20 >&2
        echo "bench-slurm: build of $product failed (log: ${TMPDIR:-/tmp}/vbatch-bench-build.log)" >&2
        exit 1
    fi
done

# exec: a signal sent to this script reaches the benchmark, which stops what it started.
exec "$repo/.build/release/vbatch-bench" --only P3_cli_vs_sbatch P3_qsub_vs_submit P8_vs_squeue P8_qstat_vs_status "$@"
