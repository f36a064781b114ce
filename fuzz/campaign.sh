#!/usr/bin/env bash
# A long local campaign: each fuzz target in turn (never two at once, at nice 19) for SECONDS
# (default 600), on a corpus kept in fuzz/target/campaign-corpus/<target> (seeded from the
# checked-in corpus, and kept between campaigns). Prints, per target, the total executions and
# executions per second from libFuzzer's final stats, and whether it found a crash.
#
#   fuzz/campaign.sh [SECONDS] [TARGET...]
set -uo pipefail
cd "$(dirname "$0")"
export CARGO_TERM_COLOR=never

secs="${1:-600}"
shift || true

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

corpus=target/campaign-corpus
logs=target/campaign-logs
mkdir -p "$corpus" "$logs"
nice -n 19 cargo +nightly fuzz build || exit 1

rows=()
status=0
for t in "${targets[@]}"; do
    mkdir -p "$corpus/$t"
    [ -d "corpus/$t" ] && cp -n corpus/"$t"/* "$corpus/$t/"
    log="$logs/$t.log"
    echo "$(date +%H:%M:%S) $t: ${secs}s" >&2
    start=$(date +%s)
    nice -n 19 cargo +nightly fuzz run "$t" "$corpus/$t" -- \
        -dict=runtime-api.dict -max_total_time="$secs" -timeout=10 \
        -print_final_stats=1 >"$log" 2>&1
    rc=$?
    elapsed=$(( $(date +%s) - start ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
    per_sec=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n1)
    units=$(ls "$corpus/$t" | wc -l)
    if [ "$rc" -eq 0 ]; then
        result="no crash"
    else
        result="CRASH: $(grep -m1 -oE 'Test unit written to .*' "$log" || echo "exit $rc, see $log")"
        status=1
    fi
    rows+=("$(printf '| %-16s | %6ss | %13s | %8s | %-20s | %6s | %s |' \
        "$t" "$elapsed" "${execs:-?}" "${per_sec:-?}" "${cov:-?}" "$units" "$result")")
done

echo
echo "| target           |   time  |   total execs |  execs/s | coverage             | corpus | result |"
echo "|------------------|---------|---------------|----------|----------------------|--------|--------|"
printf '%s\n' "${rows[@]}"
exit "$status"
