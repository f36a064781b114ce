#!/usr/bin/env bash
# lamina against cargo-lambda's Runtime API emulator, as users run it daily: starts
# `cargo lambda watch --only-lambda-apis` (the emulator alone, on loopback), reads the
# environment it prints (AWS_LAMBDA_RUNTIME_API=http://127.0.0.1:PORT/.rt ...), runs lamina's
# `hello`, `echo` and `context` bootstraps against it (and the tokio example's `hello` when it
# was built), invokes them with `cargo lambda invoke` and checks the answers. Skips (exit 0,
# with the reason) when cargo-lambda is not installed (scripts/install-tools.sh installs it),
# unless LAMINA_REQUIRE_CARGO_LAMBDA=1 (as .ci/run sets): then a missing cargo-lambda fails.
# Loopback only; every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! version=$(cargo lambda --version 2>/dev/null); then
  if [ "${LAMINA_REQUIRE_CARGO_LAMBDA:-0}" = 1 ]; then
    echo "FAIL cargo-lambda test: cargo-lambda is not installed (scripts/install-tools.sh: pip install cargo-lambda)" >&2
    exit 1
  fi
  echo "SKIP cargo-lambda test: cargo-lambda is not installed (scripts/install-tools.sh)"
  exit 0
fi
echo "using $version"
target=${CARGO_TARGET_DIR:-target}

step() { printf -- '--- %s\n' "$*"; }
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

step "build: the example bootstraps (release)"
timeout 1800 nice -n 19 cargo build --release -p lamina-examples --bin hello --bin echo --bin context

work=$(mktemp -d)
watch_pid=""
boot_pid=""
cleanup() {
  for pid in $boot_pid $watch_pid; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in $boot_pid $watch_pid; do
    # Bounded: SIGKILL if it has not gone after 5 s.
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# free_port ADDR: a port nothing listens on, on loopback address ADDR (127.0.0.1 or ::1).
free_port() {
  python3 -c 'import socket, sys
a = sys.argv[1]
s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET)
s.bind((a, 0))
print(s.getsockname()[1])' "$1"
}

# can_connect ADDR PORT: whether something accepts connections there (1 s at most).
can_connect() {
  python3 -c 'import socket, sys
socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()' "$1" "$2" 2>/dev/null
}

# start_emulator [ADDR]: starts the emulator on loopback ADDR (default 127.0.0.1) and a free
# port, and waits (up to 60 s) for the environment it prints.
start_emulator() {
  addr=${1:-127.0.0.1}
  port=$(free_port "$addr")
  log=$work/watch-$port.log
  NO_COLOR=1 CARGO_TERM_COLOR=never cargo lambda watch --only-lambda-apis \
    --invoke-address "$addr" --invoke-port "$port" >"$log" 2>&1 &
  watch_pid=$!
  for _ in $(seq 600); do
    if grep -q 'AWS_LAMBDA_RUNTIME_API=' "$log" && grep -q 'starting Runtime server' "$log"; then
      break
    fi
    kill -0 "$watch_pid" 2>/dev/null || { cat "$log" >&2; fail "cargo lambda watch exited"; }
    sleep 0.1
  done
  # The variables it says a runtime must be given, ANSI colours stripped.
  env_vars=()
  for var in AWS_LAMBDA_RUNTIME_API AWS_LAMBDA_FUNCTION_NAME AWS_LAMBDA_FUNCTION_VERSION \
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE; do
    line=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -o "$var=[^ ]*" | tail -1 || true)
    [ -n "$line" ] || { cat "$log" >&2; fail "cargo lambda watch did not print $var"; }
    env_vars+=("$line")
  done
  echo "emulator on $addr port $port; it says: ${env_vars[*]}"
  local authority=$addr
  [[ $addr == *:* ]] && authority="[$addr]"
  case "${env_vars[0]}" in
    "AWS_LAMBDA_RUNTIME_API=http://$authority:$port/"*) ;;
    *) fail "unexpected ${env_vars[0]} (expected http://$authority:$port/...)" ;;
  esac
  # Ready: the port accepts connections (bounded).
  for _ in $(seq 50); do
    can_connect "$addr" "$port" && return 0
    sleep 0.1
  done
  fail "the emulator never listened on $addr port $port"
}

stop() {
  for pid in $boot_pid $watch_pid; do kill "$pid" 2>/dev/null || true; done
  for pid in $boot_pid $watch_pid; do wait "$pid" 2>/dev/null || true; done
  boot_pid=""
  watch_pid=""
}

start_bootstrap() {
  boot_log=$work/$1.log
  env -u AWS_LAMBDA_MAX_CONCURRENCY -u _X_AMZN_TRACE_ID "${env_vars[@]}" \
    "$target/release/$1" >"$boot_log" 2>&1 &
  boot_pid=$!
}

# invoke NAME EXPECTED ARGS...: `cargo lambda invoke`, checks the answer is exactly EXPECTED.
invoke() {
  local name=$1 want=$2
  shift 2
  local got
  if ! got=$(timeout 30 cargo lambda invoke --invoke-address "$addr" --invoke-port "$port" \
    "$@" 2>"$work/invoke.err"); then
    cat "$work/invoke.err" "$boot_log" >&2
    fail "$name: cargo lambda invoke failed"
  fi
  if [ "$got" != "$want" ]; then
    echo "bootstrap log:" >&2
    cat "$boot_log" >&2
    fail "$name: got $got, expected $want"
  fi
  echo "ok: $name: $got"
}

step "hello against cargo lambda watch --only-lambda-apis"
start_emulator
start_bootstrap hello
invoke hello '"Hello world!"' --data-ascii '{"name":"world"}'
invoke "hello (again, same process)" '"Hello lamina!"' --data-ascii '{"name":"lamina"}'
kill -0 "$boot_pid" 2>/dev/null || fail "hello exited: $(cat "$boot_log")"
stop

step "echo against cargo lambda watch --only-lambda-apis"
start_emulator
start_bootstrap echo
invoke echo '{"echo":[1,2,3],"text":"héllo"}' --data-ascii '{"echo":[1,2,3],"text":"héllo"}'
stop

step "context against cargo lambda watch (its base64 client context, its 1970 deadline)"
start_emulator
start_bootstrap context
got=$(timeout 30 cargo lambda invoke --invoke-address "$addr" --invoke-port "$port" \
  --data-ascii '{}' --client-context-ascii '{"custom":{"team":"lamina"},"env":{"k":"v"}}' \
  2>"$work/invoke.err") || { cat "$work/invoke.err" "$boot_log" >&2; fail "context: invoke failed"; }
echo "context answered: $got"
python3 - "$got" <<'PY' || fail "context: unexpected answer (see above)"
import json, sys
v = json.loads(sys.argv[1])
cc = v.get("client_context") or {}
assert cc.get("custom") == {"team": "lamina"}, f"client context custom: {cc}"
assert cc.get("env") == {"k": "v"}, f"client context env: {cc}"
assert v.get("request_id"), "no request id"
assert v.get("function_name") == "_", f"function name {v.get('function_name')!r}"
print(f"deadline_ms as the emulator sent it: {v.get('deadline_ms')}")
PY
echo "ok: context: the client context arrived"
stop

tokio_hello=examples/tokio-transport/target/debug/hello
if [ -x "$tokio_hello" ]; then
  step "the tokio transport's hello (examples/tokio-transport, built by its tests)"
  start_emulator
  boot_log=$work/tokio-hello.log
  env "${env_vars[@]}" "$tokio_hello" >"$boot_log" 2>&1 &
  boot_pid=$!
  invoke "tokio hello" '"Hello world!"' --data-ascii '{"name":"world"}'
  stop
else
  echo "(examples/tokio-transport not built: its hello is not run here)"
fi

if free_port ::1 >/dev/null 2>&1; then
  step "hello against the emulator on IPv6 loopback (AWS_LAMBDA_RUNTIME_API=http://[::1]:PORT/.rt)"
  start_emulator ::1
  start_bootstrap hello
  invoke "hello over IPv6" '"Hello world!"' --data-ascii '{"name":"world"}'
  stop
else
  echo "(no IPv6 loopback here: the [::1] case is skipped)"
fi

echo "cargo-lambda test: all passed"
