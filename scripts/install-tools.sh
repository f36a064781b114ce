#!/usr/bin/env bash
# Installs the tools the ecosystem checks use (issue 9), each step on its own: a step that fails
# prints why and the others still run. Always exits 0; the test scripts skip (with a reason)
# whatever is missing.
#
#   scripts/install-tools.sh            everything
#   scripts/install-tools.sh --quick    the same (kept for callers; cargo-lambda is no longer a
#                                       long compile, so nothing is left out)
#
# What it installs, from the package registries only:
#   cargo-lambda      PyPI (`pip install cargo-lambda`: a prebuilt binary with zig, seconds);
#                     crates.io (`cargo install cargo-lambda --locked`, niced, ~20 min) only if
#                     PyPI fails
#   cfn-lint          PyPI
#   arm64 builds      `rustup target add aarch64-unknown-linux-gnu` (needs the Rust dist server,
#                     which may be unreachable: then the nightly toolchain's rust-src, if present,
#                     builds std for aarch64 with -Z build-std), PyPI `ziglang cargo-zigbuild`
#                     (the linker), Debian `qemu-user libc6-arm64-cross` (to run what was built)
set -uo pipefail

for arg in "$@"; do
  case "$arg" in
    --quick) ;;
    *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
  esac
done

ok=()
failed=()
step() { printf '\n--- %s\n' "$*"; }
pass() { ok+=("$1"); echo "ok: $1"; }
fail() { failed+=("$1: $2"); echo "FAILED: $1: $2" >&2; }

step "cfn-lint (PyPI)"
if command -v cfn-lint >/dev/null && cfn-lint --version >/dev/null 2>&1; then
  pass "cfn-lint $(cfn-lint --version 2>&1 | tail -1) (already installed)"
elif timeout 600 python3 -m pip install --quiet cfn-lint; then
  pass "cfn-lint $(cfn-lint --version 2>&1 | tail -1)"
else
  fail cfn-lint "pip install cfn-lint failed (is PyPI reachable?)"
fi

step "ziglang + cargo-zigbuild (PyPI): the aarch64 linker"
if command -v cargo-zigbuild >/dev/null && python3 -m ziglang version >/dev/null 2>&1; then
  pass "cargo-zigbuild $(cargo-zigbuild --version 2>&1 | tail -1), zig $(python3 -m ziglang version) (already installed)"
elif timeout 900 python3 -m pip install --quiet ziglang cargo-zigbuild; then
  pass "cargo-zigbuild $(cargo-zigbuild --version 2>&1 | tail -1), zig $(python3 -m ziglang version 2>&1)"
else
  fail cargo-zigbuild "pip install ziglang cargo-zigbuild failed (is PyPI reachable?)"
fi

step "qemu-user + libc6-arm64-cross (Debian): run aarch64 binaries here"
if command -v qemu-aarch64 >/dev/null && [ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ]; then
  pass "qemu-aarch64 + /usr/aarch64-linux-gnu (already installed)"
elif ! command -v apt-get >/dev/null; then
  fail qemu "no apt-get on this machine"
elif [ "$(id -u)" != 0 ]; then
  fail qemu "apt-get install needs root"
elif timeout 600 apt-get update -qq >/dev/null &&
  DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq qemu-user libc6-arm64-cross >/dev/null; then
  pass "qemu-aarch64 ($(qemu-aarch64 --version | head -1))"
else
  fail qemu "apt-get install qemu-user libc6-arm64-cross failed"
fi

step "Rust std for aarch64-unknown-linux-gnu"
if rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
  pass "rustup target aarch64-unknown-linux-gnu (already installed)"
elif timeout 300 rustup target add aarch64-unknown-linux-gnu; then
  pass "rustup target aarch64-unknown-linux-gnu"
else
  reason="rustup target add failed (the Rust dist server is not a package registry and may be unreachable)"
  if [ -d "$(rustc +nightly --print sysroot 2>/dev/null)/lib/rustlib/src/rust/library" ]; then
    pass "no prebuilt aarch64 std, but nightly has rust-src: scripts/arm64-test.sh builds std with -Z build-std"
    echo "note: $reason"
  else
    fail aarch64-std "$reason, and no nightly toolchain with rust-src to build std from"
  fi
fi

step "cargo-lambda (PyPI; crates.io if that fails)"
if cargo lambda --version >/dev/null 2>&1; then
  pass "$(cargo lambda --version) (already installed)"
elif timeout 600 python3 -m pip install --quiet cargo-lambda && cargo lambda --version >/dev/null 2>&1; then
  pass "$(cargo lambda --version) (PyPI)"
else
  echo "pip install cargo-lambda failed; compiling it from crates.io, niced (about 15-25 min on 2 cores)"
  start=$(date +%s)
  if timeout 3600 nice -n 19 cargo install cargo-lambda --locked; then
    pass "$(cargo lambda --version) in $(($(date +%s) - start)) s"
  else
    fail cargo-lambda "pip install cargo-lambda and cargo install cargo-lambda --locked both failed"
  fi
fi

printf '\n=== install-tools: %d ok, %d failed\n' "${#ok[@]}" "${#failed[@]}"
for f in "${failed[@]}"; do echo "  failed: $f"; done
exit 0
