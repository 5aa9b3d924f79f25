#!/bin/sh
# Runs libFuzzer harnesses built by build.sh, each for FUZZ_SECONDS (default 60).
# Usage: sh Tests/fuzz/run.sh [harness ...]   (default: every Tests/fuzz/fuzz_*.swift)
#
# Per harness, under $FUZZ_OUT (default .build-fuzz, git-ignored):
#   seeds/H     seeds the harness writes itself (NIC_FUZZ_WRITE_SEEDS), made afresh each run
#   corpus/H    the corpus libFuzzer grows; kept between runs
#   crashes/H/  reproducers of crashes, timeouts and out-of-memory inputs
# Tests/fuzz/regressions/H/ (saved reproducers) is read as a corpus too, so every run
# re-checks them. Exits non-zero when any harness found something.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${FUZZ_OUT:-$ROOT/.build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-60}
FLAGS=${FUZZ_FLAGS:-"-rss_limit_mb=2048 -timeout=1 -malloc_limit_mb=2048"}
# Leak checking stays on while fuzzing; writing the seeds runs encoders (x265) that leak at exit.
export ASAN_OPTIONS=${ASAN_OPTIONS:-"allocator_may_return_null=1"}

if [ $# -eq 0 ]; then
    set -- $(cd "$ROOT/Tests/fuzz" && ls fuzz_*.swift | sed 's/\.swift$//')
fi
failed=""
summary=""
for harness in "$@"; do
    bin="$OUT/bin/$harness"
    [ -x "$bin" ] || { echo "fuzz: $bin is not built (sh Tests/fuzz/build.sh)"; exit 2; }
    rm -rf "$OUT/seeds/$harness"
    mkdir -p "$OUT/seeds" "$OUT/corpus/$harness" "$OUT/crashes/$harness" "$OUT/logs"
    if ! ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0" NIC_FUZZ_WRITE_SEEDS="$OUT/seeds/$harness" "$bin" >"$OUT/logs/$harness.seeds.log" 2>&1; then
        cat "$OUT/logs/$harness.seeds.log"
        echo "fuzz: $harness could not write its seeds"
        exit 2
    fi
    dirs="$OUT/corpus/$harness $OUT/seeds/$harness"
    [ -d "$ROOT/Tests/fuzz/regressions/$harness" ] && dirs="$dirs $ROOT/Tests/fuzz/regressions/$harness"
    log="$OUT/logs/$harness.log"
    echo "fuzz: $harness for ${SECONDS_EACH}s (log: $log)"
    # shellcheck disable=SC2086
    "$bin" $FLAGS -max_total_time="$SECONDS_EACH" -print_final_stats=1 \
        -artifact_prefix="$OUT/crashes/$harness/" $dirs >"$log" 2>&1
    status=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
    line="$harness: ${execs:-?} executions, ${rate:-?} exec/s, ${cov:-cov: ?}"
    if [ $status -ne 0 ]; then
        line="$line — FAILED (exit $status), reproducer in $OUT/crashes/$harness/"
        failed="$failed $harness"
        grep -E '^==[0-9]+==ERROR|^SUMMARY|Fatal error|ALARM|out-of-memory|#[0-9]+ 0x' "$log" | head -n 25
    fi
    echo "fuzz: $line"
    summary="$summary$line
"
done
echo "fuzz summary:"
printf '%s' "$summary"
if [ -n "$failed" ]; then
    echo "fuzz: failed:$failed (reproduce: $OUT/bin/HARNESS $OUT/crashes/HARNESS/FILE)"
    exit 1
fi
