#!/usr/bin/env bash
# Sets up what vbatch needs (scripts/setup.sh) and runs the whole test suite.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/setup.sh" debug
cd "$repo"
# The guest agent and the test guest on plain QEMU (boot, job, ACPI stop, hot-plug).
"$repo/scripts/test-guest.sh"
# schemathesis (PyPI) fuzzes the daemon's OpenAPI document over TLS (APIFuzzTests), from a
# virtual environment of its own in .build (kept between runs; made again if broken).
venv=$repo/.build/schemathesis-venv
if ! "$venv/bin/schemathesis" --version >/dev/null 2>&1; then
    echo "test: installing schemathesis into $venv"
    rm -rf "$venv"
    mkdir -p "$repo/.build"
    if ! python3 -m venv "$venv" 2>/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
        python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install -q "schemathesis==4.32.5"
fi
# Builds every target, the executables the end-to-end tests start included.
log=${TMPDIR:-/tmp}/vbatch-build-tests.log
if ! swift build --build-tests >"$log" 2>&1; then
    grep -E "error" "$log" | head -30 >&2
    echo "test: build failed (full log: $log)" >&2
    exit 1
fi
# vbatch-fuzz with libFuzzer's instrumentation, for FuzzCorpusTests' short run of every
# fuzz target (scripts/fuzz.sh --seconds 10, which VBATCH_TEST_FUZZ=1 turns on).
if ! scripts/fuzz.sh --build-only >/dev/null; then
    echo "test: the fuzzing build failed (log: $repo/.build/fuzz-build.log)" >&2
    exit 1
fi
export VBATCH_TEST_FUZZ=1
# Three worker nodes in namespaces (libvirtd over qemu+tls, sharing no file with the daemon),
# 197 addresses that never answer, and a CE host (ce1: its own accounts, the relay and the
# CE commands installed by the tests), for the multi-host tests; removed on any exit.
# On any exit the hosts go, and so does what the VM tests left on this machine's libvirtd.
trap '"$repo/scripts/test-hosts.sh" down >/dev/null 2>&1 || true; "$repo/scripts/clean-local-node.sh"' EXIT
"$repo/scripts/test-hosts.sh" up 3 --dead 197 --ce
# One test at a time: the VM suites share libvirtd (some restart or freeze it) and the
# machine has two cores.
swift test --skip-build --no-parallel
