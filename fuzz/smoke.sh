#!/usr/bin/env bash
# CI smoke: builds every fuzz target and runs each for SECONDS (default 45) from the checked-in
# seed corpus with the dictionary. Exits non-zero if any target crashes, leaks, times out or
# fails to build. Crash inputs land in fuzz/artifacts/<target>/.
#
#   fuzz/smoke.sh [SECONDS]
#
# FUZZ_SANITIZER=none builds without AddressSanitizer (the default is cargo-fuzz's, address).
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TERM_COLOR=never

secs="${1:-45}"
nice_cmd=(nice -n 19)
san="${FUZZ_SANITIZER:-address}"
build_flags=(-s "$san")
if [ "$san" != "address" ]; then
    build_flags+=(--target-dir "target/$san")
fi

# What it needs: a nightly toolchain and cargo-fuzz.
if ! cargo +nightly --version >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

# Per-target libFuzzer options: inputs stay small where length buys nothing.
args_of() {
    case "$1" in
        json_escape | state_machine) echo "-max_len=2048" ;;
        endpoint) echo "-max_len=512" ;;
        *) echo "-max_len=4096" ;;
    esac
}

# The checked-in seeds are copied to a scratch corpus, so that they do not grow (one per run:
# two smoke runs in the same tree must not share it).
mkdir -p target
scratch=$(mktemp -d target/smoke-corpus.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
logs=target/smoke-logs
mkdir -p "$logs"

mapfile -t targets < <(cargo +nightly fuzz list)
echo "building ${#targets[@]} fuzz targets ($san): ${targets[*]}"
"${nice_cmd[@]}" cargo +nightly fuzz build "${build_flags[@]}"

failed=()
for t in "${targets[@]}"; do
    mkdir -p "$scratch/$t"
    if [ -d "corpus/$t" ]; then
        cp corpus/"$t"/* "$scratch/$t/"
    fi
    log="$logs/$t.log"
    printf '%-18s %4ss ... ' "$t" "$secs"
    # shellcheck disable=SC2046
    if "${nice_cmd[@]}" cargo +nightly fuzz run "${build_flags[@]}" "$t" "$scratch/$t" -- \
        -dict=runtime-api.dict -max_total_time="$secs" -timeout=10 $(args_of "$t") \
        -print_final_stats=1 >"$log" 2>&1; then
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
        cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n1)
        echo "ok (${execs:-?} execs, ${rate:-?}/s, ${cov:-?})"
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
