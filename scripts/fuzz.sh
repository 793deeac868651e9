#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers of outside input (DESIGN.md R6; docs/reliability.md).
#
#   scripts/fuzz.sh [--seconds N] [--runs N] [--rss-limit-mb N] [--target NAME]... [--no-asan]
#                   [--merge-into-repo] [--build-only]
#
# Builds vbatch-fuzz with libFuzzer's instrumentation (and AddressSanitizer unless --no-asan)
# in its own scratch path under .build, then fuzzes each target (all six unless --target
# names some) for N seconds (default 600), or until it has run --runs inputs if that comes
# first, one target after another. Each target starts from its
# seeds in Tests/fuzz/TARGET (read, never written) and a work corpus in
# .build/fuzz-work/TARGET/corpus kept between runs; with --merge-into-repo the inputs that
# add coverage are merged back into Tests/fuzz/TARGET afterwards (libFuzzer's -merge=1).
# Tests/fuzz/TARGET.dict is used as the dictionary when it exists.
#
# Prints a table, then one machine-readable line per target:
#   FUZZ target=NAME execs=N execs_per_s=N cov=N ft=N corpus=N crashes=N [crash=PATH]
# and exits 1 if any target crashed (or timed out, or went over --rss-limit-mb, 2048 by default): the input is
# kept at the printed crash= path. Exit 2: bad usage or a failed build.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

seconds=600
runs=-1
rss_limit=2048
asan=1
merge=0
build_only=0
targets=()
all_targets=(config http ustar swf pbs recipe)
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds=${2:?--seconds needs a number}; shift 2 ;;
        --rss-limit-mb) rss_limit=${2:?--rss-limit-mb needs a number}; shift 2 ;;
        --runs) runs=${2:?--runs needs a number}; shift 2 ;;
        --target) targets+=("${2:?--target needs a name}"); shift 2 ;;
        --no-asan) asan=0; shift ;;
        --merge-into-repo) merge=1; shift ;;
        --build-only) build_only=1; shift ;;
        -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "fuzz.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
case "$seconds" in ''|*[!0-9]*) echo "fuzz.sh: --seconds takes whole seconds" >&2; exit 2 ;; esac
case "$runs" in -1) ;; ''|*[!0-9]*) echo "fuzz.sh: --runs takes a number of inputs" >&2; exit 2 ;; esac
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
    [ -d "Tests/fuzz/$t" ] || { echo "fuzz.sh: no target $t (no Tests/fuzz/$t)" >&2; exit 2; }
done

# libFuzzer without its main() (vbatch-fuzz has its own and calls LLVMFuzzerRunDriver), from
# the clang runtime of the toolchain that holds swiftc.
swiftc_path=$(readlink -f "$(command -v swiftc)")
fuzzer_lib=$(ls "$(dirname "$swiftc_path")"/../lib/clang/*/lib/linux/libclang_rt.fuzzer_no_main-"$(uname -m)".a 2>/dev/null | head -1)
[ -n "$fuzzer_lib" ] || { echo "fuzz.sh: libclang_rt.fuzzer_no_main not found beside $swiftc_path" >&2; exit 2; }
fuzzer_lib=$(readlink -f "$fuzzer_lib")

# -sanitize=fuzzer goes to the Swift frontend only (instrumentation, no link of libFuzzer's
# main); C and C++ (toml++ behind TOMLKit) get -fsanitize=fuzzer-no-link.
flags=(-c release --product vbatch-fuzz
       -Xswiftc -DVBATCH_FUZZ -Xswiftc -Xfrontend -Xswiftc -sanitize=fuzzer
       -Xcc -fsanitize=fuzzer-no-link -Xcxx -fsanitize=fuzzer-no-link
       -Xlinker "$fuzzer_lib" -Xlinker -lstdc++)
if [ "$asan" = 1 ]; then
    scratch=$repo/.build/fuzz-asan
    flags+=(-Xswiftc -sanitize=address -Xcc -fsanitize=address -Xcxx -fsanitize=address)
else
    scratch=$repo/.build/fuzz
fi
log=$repo/.build/fuzz-build.log
mkdir -p "$repo/.build"
echo "fuzz.sh: building vbatch-fuzz (instrumented$([ "$asan" = 1 ] && echo ', AddressSanitizer')) in ${scratch#"$repo"/}"
if ! swift build --scratch-path "$scratch" "${flags[@]}" >"$log" 2>&1; then
    grep -E "error" "$log" | head -30 >&2
    echo "fuzz.sh: build failed (full log: $log)" >&2
    exit 2
fi
bin=$(swift build --scratch-path "$scratch" "${flags[@]}" --show-bin-path)/vbatch-fuzz
[ "$build_only" = 0 ] || { echo "fuzz.sh: built $bin"; exit 0; }

work=$repo/.build/fuzz-work
# The targets' scratch files (and any a crashed run left) live here, not in /tmp.
export TMPDIR=$work/tmp
rm -rf "$TMPDIR"
mkdir -p "$TMPDIR"
child=
cleanup() {
    if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then kill "$child" 2>/dev/null || true; wait "$child" 2>/dev/null || true; fi
    rm -rf "$TMPDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The Swift runtime's backtracer would catch a trap before libFuzzer could save the input.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=0:handle_abort=1}

summary=()
failed=0
printf '%-8s %12s %8s %7s %7s %7s %7s\n' target execs exec/s cov ft corpus crashes
for t in "${targets[@]}"; do
    dir=$work/$t
    mkdir -p "$dir/corpus" "$dir/crashes"
    dict=()
    [ -f "Tests/fuzz/$t.dict" ] && dict=(-dict="Tests/fuzz/$t.dict")
    out=$dir/last-run.log
    started=$(date +%s.%N)
    set +e
    "$bin" "$t" -max_total_time="$seconds" -runs="$runs" -timeout=10 -rss_limit_mb="$rss_limit" -max_len=16384 -print_final_stats=1 \
        -artifact_prefix="$dir/crashes/" "${dict[@]}" "$dir/corpus" "Tests/fuzz/$t" >"$out" 2>&1 &
    child=$!
    wait "$child"
    status=$?
    child=
    set -e
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out" | tail -1)
    last=$(grep -E '^#[0-9]+' "$out" | tail -1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corpus=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")
    crash=$(sed -n "s/.*Test unit written to \(.*\)$/\1/p" "$out" | tail -1)
    crashes=0
    if [ "$status" != 0 ] || [ -n "$crash" ]; then
        crashes=1
        failed=1
    fi
    if [ -z "$execs" ] && [ -n "$last" ]; then execs=$(sed 's/^#\([0-9]*\).*/\1/' <<<"$last"); fi
    execs=${execs:-0} cov=${cov:-0} ft=${ft:-0} corpus=${corpus:-0}
    # libFuzzer's average is over whole seconds (0 for a run under one): over the wall time instead.
    if [ "${rate:-0}" = 0 ]; then rate=$(awk -v n="$execs" -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%d", n / (b - a) }'); fi
    printf '%-8s %12s %8s %7s %7s %7s %7s\n' "$t" "$execs" "$rate" "$cov" "$ft" "$corpus" "$crashes"
    line="FUZZ target=$t execs=$execs execs_per_s=$rate cov=$cov ft=$ft corpus=$corpus crashes=$crashes"
    if [ "$crashes" != 0 ]; then
        line+=" crash=${crash:-none} log=$out"
        grep -E "ERROR|Fatal error|invariant failed|SUMMARY" "$out" | head -5 | sed "s/^/  $t: /" >&2 || true
    fi
    summary+=("$line")
    if [ "$merge" = 1 ] && [ "$crashes" = 0 ]; then
        "$bin" "$t" -merge=1 -max_len=16384 "Tests/fuzz/$t" "$dir/corpus" >"$dir/merge.log" 2>&1 \
            || { echo "fuzz.sh: merge into Tests/fuzz/$t failed (see $dir/merge.log)" >&2; failed=1; }
    fi
done
printf '%s\n' "${summary[@]}"
exit "$failed"
