#!/usr/bin/env bash
# What the test suite and the reliability runs need on this machine: vbatch's own setup
# (scripts/setup.sh), the test guest, schemathesis in a virtual environment of its own,
# every target built for tests, and the fuzz targets built with libFuzzer. The worker-node
# hosts are the caller's (they need its trap).
# Used by scripts/test.sh and scripts/reliability.sh; idempotent.
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
# vbatch-fuzz with libFuzzer's instrumentation, for the short fuzzing runs (R6).
if ! "$repo/scripts/fuzz.sh" --build-only >/dev/null; then
    echo "test: the fuzzing build failed (log: $repo/.build/fuzz-build.log)" >&2
    exit 1
fi
