#!/usr/bin/env bash
# The reliability figures R1–R7 of docs/reliability.md, long versions: sets up like the
# test command, runs each figure's suite at its long size, and prints the figures table.
#
#   scripts/reliability.sh                 every figure, long (a few hours on 2 cores)
#   scripts/reliability.sh --only R1,R5    some of them
#   scripts/reliability.sh --short         the test command's sizes (minutes), to try it out
#
# Results (one JSON line per run or round) and logs go to .build/reliability/<time>/; the
# table is printed at the end. Exits nonzero if any figure failed. Cleans up what it starts.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
only="R1,R2,R3,R4,R5,R6,R7"
short=false
while [ $# -gt 0 ]; do
    case "$1" in
        --only) only=$2; shift 2 ;;
        --short) short=true; shift ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "reliability: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
wants() { [[ ",$only," == *",$1,"* ]]; }

"$repo/scripts/prepare-tests.sh"
cd "$repo"
out=$repo/.build/reliability/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"
export VBATCH_RELIABILITY_OUT=$out/results.jsonl
: >"$VBATCH_RELIABILITY_OUT"
trap '"$repo/scripts/test-hosts.sh" down >/dev/null 2>&1 || true; "$repo/scripts/clean-local-node.sh"' EXIT
if wants R2 || wants R3; then "$repo/scripts/test-hosts.sh" up 3 --dead 197; fi

# Long sizes; --short keeps the suites' own defaults (what the test command runs).
if ! $short; then
    export VBATCH_R1_ROUNDS=${VBATCH_R1_ROUNDS:-10} VBATCH_R1_SUBMISSIONS=${VBATCH_R1_SUBMISSIONS:-1000}
    export VBATCH_R1_VM_ROUNDS=${VBATCH_R1_VM_ROUNDS:-3}
    export VBATCH_R23_ROUNDS=${VBATCH_R23_ROUNDS:-5}
    export VBATCH_R4_ROUNDS=${VBATCH_R4_ROUNDS:-10}
    export VBATCH_R5_SECONDS=${VBATCH_R5_SECONDS:-300}
    export VBATCH_SCHEMATHESIS_EXAMPLES=${VBATCH_SCHEMATHESIS_EXAMPLES:-500}
fi
fuzz_seconds=${VBATCH_FUZZ_SECONDS:-$($short && echo 10 || echo 600)}

failed=()
# run FIGURE FILTER: one figure's suites, its log kept; a failure is noted, the rest still run.
run() {
    local figure=$1 filter=$2
    echo "reliability: $figure ($filter) — $(date -u +%H:%M:%S)"
    if ! swift test --skip-build --no-parallel --filter "$filter" >"$out/$figure.log" 2>&1; then
        failed+=("$figure")
        echo "reliability: $figure FAILED (log: $out/$figure.log)" >&2
    fi
}
wants R1 && run R1 "CrashMatrixTests"
wants R2 || wants R3 && run R2-R3 "RemoteNodeFaultTests"
wants R4 && run R4 "FullDiskTests"
wants R5 && run R5 "ConcurrencyTests"
if wants R6; then
    echo "reliability: R6 (scripts/fuzz.sh --seconds $fuzz_seconds) — $(date -u +%H:%M:%S)"
    # config's loader keeps ~7 KB per run (TOMLKit): room for 600 s of it.
    if ! "$repo/scripts/fuzz.sh" --seconds "$fuzz_seconds" --rss-limit-mb 4096 >"$out/R6.log" 2>&1; then
        failed+=("R6")
        echo "reliability: R6 FAILED (log: $out/R6.log)" >&2
    fi
    grep '^FUZZ ' "$out/R6.log" | python3 -c '
import json, re, sys
for line in sys.stdin:
    fields = dict(part.split("=", 1) for part in line.split()[1:])
    target = fields.pop("target", "?")
    checks = {k: int(float(v)) for k, v in fields.items() if re.fullmatch(r"[0-9.]+", v)}
    print(json.dumps({"id": "R6", "subject": "fuzz target " + target, "rounds": 1, "checks": checks,
                      "result": "pass" if checks.get("crashes") == 0 else "fail"}, sort_keys=True))' >>"$VBATCH_RELIABILITY_OUT"
fi
wants R7 && run R7 "APIFuzzTests|APIAccessTests"

echo
echo "## Figures ($(date -u +%Y-%m-%d), $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores)"
python3 - "$VBATCH_RELIABILITY_OUT" <<'PY'
import json, sys
rows = {}
for line in open(sys.argv[1]):
    if not line.strip():
        continue
    r = json.loads(line)
    row = rows.setdefault((r["id"], r.get("subject", "")), {"records": 0, "rounds": 0, "passed": 0, "checks": {}})
    row["records"] += 1
    row["rounds"] += r.get("rounds", 1)
    row["passed"] += r.get("result") == "pass"
    for name, count in r.get("checks", {}).items():
        row["checks"][name] = row["checks"].get(name, 0) + count
print("| figure | case | rounds | result | counted (summed over the rounds) |")
print("|---|---|---|---|---|")
for (figure, subject), row in sorted(rows.items()):
    result = "pass" if row["passed"] == row["records"] else f"FAIL ({row['records'] - row['passed']} of {row['records']})"
    counted = ", ".join(f"{name} {count:,}" for name, count in sorted(row["checks"].items()))
    print(f"| {figure} | {subject} | {row['rounds']} | {result} | {counted} |")
PY
echo
if [ ${#failed[@]} -gt 0 ]; then
    echo "reliability: failed: ${failed[*]} (logs in $out)" >&2
    exit 1
fi
echo "reliability: every figure passed (results: $VBATCH_RELIABILITY_OUT)"
