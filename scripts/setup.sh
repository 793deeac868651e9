#!/usr/bin/env bash
# Sets up everything vbatch needs on a fresh Debian 12 machine, idempotently: Debian
# packages, libvirtd with QEMU (scripts/setup-libvirt.sh), the test guest
# (images/testguest/build.sh), then a build of vbatch (debug by default; pass `release`
# for benchmarks). Run by scripts/demo.sh and scripts/test.sh.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
config=${1:-debug}

need=()
# debootstrap: the image factory (vbatch image build) makes Debian roots with it.
# iproute2, iptables, openssl, util-linux: the test worker nodes (scripts/test-hosts.sh).
# curl: the TLS API tests; tshark: they capture the test bridge to show no job script crosses it in clear.
# chromium, chromium-driver, python3-selenium: the dashboard's browser tests (Tests/browser).
# groff-base, man-db: the manual pages (scripts/make-manuals.sh) are checked by rendering them; systemd: its
# systemd-analyze verifies the units in scripts/systemd (systemd need not be PID 1).
# prometheus (prometheus, promtool): PrometheusTests scrape vbatchd and check scripts/monitoring/.
# sqlite3, e2fsprogs: the full-disk tests check the store's integrity on a loop-mounted ext4 (R4).
for pkg in libsqlite3-dev pkg-config debootstrap iproute2 iptables openssl util-linux curl tshark \
           chromium chromium-driver python3-selenium groff-base man-db systemd prometheus sqlite3 e2fsprogs; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if ((${#need[@]})); then
    echo "setup: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
fi

"$repo/scripts/setup-libvirt.sh"
"$repo/images/testguest/build.sh"

if ! command -v swift >/dev/null; then
    for dir in /opt/swift/usr/bin /opt/swift/bin; do [[ -x $dir/swift ]] && export PATH=$dir:$PATH; done
fi
command -v swift >/dev/null || { echo "setup: swift not found (expected on PATH or in /opt/swift)" >&2; exit 1; }

echo "setup: building vbatch ($config)"
cd "$repo"
if ! swift build -c "$config" >"${TMPDIR:-/tmp}/vbatch-build.log" 2>&1; then
    grep -E "error" "${TMPDIR:-/tmp}/vbatch-build.log" | head -20 >&2
    echo "setup: build failed (full log: ${TMPDIR:-/tmp}/vbatch-build.log)" >&2
    exit 1
fi
echo "setup: binaries in $(swift build -c "$config" --show-bin-path)"
# qsub/qstat/qdel/qhold/qrls/qsig/pbsnodes/qmgr and the BLAH scripts for a grid CE (docs/grid-ce.md).
"$repo/scripts/install-ce-commands.sh" --vbatch "$(swift build -c "$config" --show-bin-path)/vbatch"
# Manual pages and shell completions, from the command definitions of this build.
"$repo/scripts/make-manuals.sh" --bin "$(swift build -c "$config" --show-bin-path)" --install /usr/local
