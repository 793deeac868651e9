#!/usr/bin/env bash
# Sets up what vbatch needs (scripts/setup.sh) and runs the whole test suite.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/setup.sh" debug
cd "$repo"
# Builds every target, the executables the end-to-end tests start included.
swift build --build-tests 2>&1 | grep -E "error|warning: unre|Build complete" || true
exec swift test --skip-build
