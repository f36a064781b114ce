#!/usr/bin/env bash
# A long local campaign: each fuzz target in turn (never two at once, at nice 19) for SECONDS
# (default 600), on a corpus kept in fuzz/target/campaign-corpus/<target> (seeded from the
# checked-in corpus, and kept between campaigns). Prints, per target, the executions and
# executions per second from libFuzzer's stats and whether it found a crash, and adds the
# executions to fuzz/campaign-ledger.tsv, so that totals add up across campaigns (the goal:
# 100 million executions per parser target, 10 million state-machine programs).
#
#   fuzz/campaign.sh [SECONDS] [TARGET...]          one run of SECONDS per target
#   fuzz/campaign.sh --to-goal [SECONDS] [TARGET...] runs of SECONDS until each target's
#                                                   ledger total reaches its goal
#
# FUZZ_SANITIZER=none builds without AddressSanitizer (about twice the speed; the default is
# cargo-fuzz's, address). The ledger records which.
# FUZZ_TRACE_COMPARES=0 builds without libFuzzer's comparison tracing (cargo fuzz
# --no-trace-compares): once coverage has levelled off, the per-byte decoders spend ~3/4 of each
# execution in its callbacks, so depth runs go ~3x faster without it. The ledger records it too. A run that is killed still counts the
# executions its log had reached. To end campaigns without losing a run's count, create
# fuzz/target/campaign.stop and kill the fuzzer processes (not the script): each campaign records
# the run and stops.
set -uo pipefail
cd "$(dirname "$0")"
export CARGO_TERM_COLOR=never

to_goal=0
if [ "${1:-}" = "--to-goal" ]; then
    to_goal=1
    shift
fi
secs="${1:-600}"
shift || true

san="${FUZZ_SANITIZER:-address}"
build_flags=(-s "$san")
mode="$san"
if [ "${FUZZ_TRACE_COMPARES:-1}" = "0" ]; then
    build_flags+=(--no-trace-compares)
    mode="$san,no-trace-compares"
fi
if [ "$mode" != "address" ]; then
    build_flags+=(--target-dir "target/${mode//,/-}")
fi

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
ledger=campaign-ledger.tsv
mkdir -p "$corpus" "$logs"
nice -n 19 cargo +nightly fuzz build "${build_flags[@]}" || exit 1

goal_of() {
    case "$1" in
        state_machine) echo 10000000 ;;
        *) echo 100000000 ;;
    esac
}

# Per-target libFuzzer options: inputs stay small where length buys nothing.
args_of() {
    case "$1" in
        json_escape | state_machine) echo "-max_len=2048" ;;
        endpoint) echo "-max_len=512" ;;
        *) echo "-max_len=4096" ;;
    esac
}

ledger_get() { # target column(3=execs 4=seconds 5=runs)
    awk -F'\t' -v t="$1" -v c="$2" '$1 == t { print $c; found = 1 } END { if (!found) print 0 }' \
        "$ledger" 2>/dev/null || echo 0
}

ledger_add() { # target execs seconds
    # Two campaigns may run at once: one read-modify-write of the ledger at a time.
    exec 9>"target/campaign-ledger.lock"
    flock 9
    local t="$1" execs="$2" elapsed="$3" tmp
    [ -f "$ledger" ] || printf 'target\tgoal\texecs\tseconds\truns\tlast_run\n' >"$ledger"
    tmp=$(mktemp)
    # %.0f: mawk would print sums past 2^31 as 1.2e+11.
    awk -F'\t' -v t="$t" -v g="$(goal_of "$t")" -v e="$execs" -v s="$elapsed" \
        -v d="$(date -u +%Y-%m-%dT%H:%MZ) $mode" '
        NR == 1 { print; next }
        $1 == t { printf "%s\t%s\t%.0f\t%.0f\t%d\t%s\n", $1, $2, $3 + e, $4 + s, $5 + 1, d; found = 1; next }
        { print }
        END { if (!found) printf "%s\t%s\t%.0f\t%.0f\t%d\t%s\n", t, g, e, s, 1, d }' \
        "$ledger" >"$tmp" && mv "$tmp" "$ledger"
    exec 9>&-
}

rows=()
status=0
for t in "${targets[@]}"; do
    mkdir -p "$corpus/$t"
    [ -d "corpus/$t" ] && cp -n corpus/"$t"/* "$corpus/$t/"
    goal=$(goal_of "$t")
    while :; do
        if [ -e target/campaign.stop ]; then
            echo "$(date +%H:%M:%S) $t: target/campaign.stop exists: stopping" >&2
            break 2
        fi
        if [ "$to_goal" -eq 1 ] && [ "$(ledger_get "$t" 3)" -ge "$goal" ]; then
            echo "$(date +%H:%M:%S) $t: goal of $goal executions reached" >&2
            break
        fi
        log="$logs/$t.log"
        echo "$(date +%H:%M:%S) $t: ${secs}s ($mode)" >&2
        start=$(date +%s)
        # shellcheck disable=SC2046
        nice -n 19 cargo +nightly fuzz run "${build_flags[@]}" "$t" "$corpus/$t" -- \
            -dict=runtime-api.dict -max_total_time="$secs" -timeout=10 $(args_of "$t") \
            -print_final_stats=1 >"$log" 2>&1
        rc=$?
        elapsed=$(($(date +%s) - start))
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
        if [ -z "$execs" ]; then
            # Killed or crashed before the final stats: the last progress line counts.
            execs=$(grep -oE '^#[0-9]+' "$log" | tail -n1 | tr -d '#')
        fi
        execs=${execs:-0}
        per_sec=$((execs / (elapsed > 0 ? elapsed : 1)))
        cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n1)
        units=$(find "$corpus/$t" -type f | wc -l)
        ledger_add "$t" "$execs" "$elapsed"
        total=$(ledger_get "$t" 3)
        if [ "$rc" -eq 0 ]; then
            result="no crash"
        else
            result="CRASH: $(grep -m1 -oE 'Test unit written to .*' "$log" || echo "exit $rc, see fuzz/$log")"
            status=1
        fi
        rows+=("$(printf '| %-16s | %6ss | %13s | %8s | %-20s | %6s | %13s / %s | %s |' \
            "$t" "$elapsed" "$execs" "$per_sec" "${cov:-?}" "$units" "$total" "$goal" "$result")")
        echo "${rows[-1]}" >&2
        if [ "$rc" -ne 0 ] || [ "$to_goal" -eq 0 ]; then
            break
        fi
    done
done

echo
echo "| target           |   time  |         execs |  execs/s | coverage             | corpus | ledger total / goal | result |"
echo "|------------------|---------|---------------|----------|----------------------|--------|---------------------|--------|"
printf '%s\n' "${rows[@]}"
exit "$status"
