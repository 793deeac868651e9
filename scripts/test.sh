#!/usr/bin/env bash
# Sets up what vbatch needs (scripts/setup.sh) and runs the whole test suite.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/prepare-tests.sh"
cd "$repo"
# FuzzCorpusTests' short run of every fuzz target (scripts/fuzz.sh --seconds 10, built
# instrumented by scripts/prepare-tests.sh) is on in the test command.
export VBATCH_TEST_FUZZ=1
# Three worker nodes in namespaces (libvirtd over qemu+tls, sharing no file with the daemon),
# 197 addresses that never answer, and a CE host (ce1: its own accounts, the relay and the
# CE commands installed by the tests), for the multi-host tests; removed on any exit.
# On any exit the hosts go, and so does what the VM tests left on this machine's libvirtd.
trap '"$repo/scripts/test-hosts.sh" down >/dev/null 2>&1 || true; "$repo/scripts/clean-local-node.sh"' EXIT
"$repo/scripts/test-hosts.sh" up 3 --dead 197 --ce
# One test at a time: the VM suites share libvirtd (some restart or freeze it) and the
# machine has two cores. The reliability suites run their short versions here (a round or
# a few seconds each); scripts/reliability.sh runs the long ones.
swift test --skip-build --no-parallel
