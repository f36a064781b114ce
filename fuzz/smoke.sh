#!/usr/bin/env bash
# CI smoke: builds every fuzz target and runs each for SECONDS (default 45) from the checked-in
# seed corpus with the dictionary. Exits non-zero if any target crashes, leaks, times out or
# fails to build. Crash inputs land in fuzz/artifacts/<target>/.
#
#   fuzz/smoke.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TERM_COLOR=never

secs="${1:-45}"
nice_cmd=(nice -n 19)

# What it needs: a nightly toolchain and cargo-fuzz.
if ! cargo +nightly --version >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

# The checked-in seeds are copied to a scratch corpus, so that they do not grow.
scratch=target/smoke-corpus
logs=target/smoke-logs
mkdir -p "$scratch" "$logs"

mapfile -t targets < <(cargo +nightly fuzz list)
echo "building ${#targets[@]} fuzz targets: ${targets[*]}"
"${nice_cmd[@]}" cargo +nightly fuzz build

failed=()
for t in "${targets[@]}"; do
    rm -rf "${scratch:?}/$t"
    mkdir -p "$scratch/$t"
    if [ -d "corpus/$t" ]; then
        cp corpus/"$t"/* "$scratch/$t/"
    fi
    log="$logs/$t.log"
    printf '%-18s %4ss ... ' "$t" "$secs"
    if "${nice_cmd[@]}" cargo +nightly fuzz run "$t" "$scratch/$t" -- \
        -dict=runtime-api.dict -max_total_time="$secs" -timeout=10 \
        -print_final_stats=1 >"$log" 2>&1; then
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
        echo "ok (${execs:-?} execs)"
    else
        echo "FAILED"
        grep -E "panicked at|ERROR: libFuzzer|SUMMARY|Test unit written" "$log" | head -n 20 || true
        grep -A 12 "panicked at" "$log" | head -n 30 || true
        failed+=("$t")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz smoke failed: ${failed[*]} (logs in fuzz/$logs, inputs in fuzz/artifacts)"
    exit 1
fi
echo "fuzz smoke: ${#targets[@]} targets, ${secs}s each, no crash"
