#!/usr/bin/env bash
# Both architectures: builds the mio `hello` bootstrap for arm64 (aarch64-unknown-linux-gnu,
# release-size profile), runs it under qemu-user against lamina-server and checks the answers;
# prints the x86_64 and arm64 bootstrap sizes. Skips (exit 0, with the reason) when a tool is
# missing; scripts/install-tools.sh installs them all. Every step is bounded by a timeout.
#
#   ARM64_BUILDER=zigbuild|cargo-lambda|gcc   force one way of building (default: the first
#                                             available of zigbuild, cargo-lambda, gcc)
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=aarch64-unknown-linux-gnu
PROFILE=release-size
SYSROOT=/usr/aarch64-linux-gnu
target=${CARGO_TARGET_DIR:-target}
skip() {
  echo "SKIP arm64 test: $*"
  exit 0
}
step() { printf -- '--- %s\n' "$*"; }

command -v qemu-aarch64 >/dev/null || skip "qemu-aarch64 is not installed (Debian qemu-user)"
[ -e "$SYSROOT/lib/ld-linux-aarch64.so.1" ] ||
  skip "no aarch64 glibc in $SYSROOT (Debian libc6-arm64-cross)"

# The Rust standard library for the target: prebuilt (rustup target add), or built from the
# nightly toolchain's rust-src.
toolchain=()
build_std=()
if rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
  :
elif [ -d "$(rustc +nightly --print sysroot 2>/dev/null)/lib/rustlib/src/rust/library" ]; then
  echo "no prebuilt std for $TARGET: building it from nightly's rust-src (-Z build-std)"
  toolchain=(+nightly)
  build_std=(-Z "build-std=std,panic_abort")
else
  skip "no Rust std for $TARGET (rustup target add $TARGET, or a nightly with rust-src)"
fi

have_zigbuild() { command -v cargo-zigbuild >/dev/null && python3 -m ziglang version >/dev/null 2>&1; }
have_lambda() { cargo lambda --version >/dev/null 2>&1 && [ ${#build_std[@]} = 0 ]; }
have_gcc() { command -v aarch64-linux-gnu-gcc >/dev/null; }
builder=${ARM64_BUILDER:-}
if [ -z "$builder" ]; then
  if have_zigbuild; then builder=zigbuild
  elif have_lambda; then builder=cargo-lambda
  elif have_gcc; then builder=gcc
  else skip "no aarch64 linker: PyPI ziglang + cargo-zigbuild, cargo-lambda, or Debian gcc-aarch64-linux-gnu"
  fi
fi

step "build: hello for $TARGET, profile $PROFILE, with $builder"
start=$(date +%s)
case "$builder" in
  zigbuild)
    # cargo-zigbuild links with zig; glibc 2.17 is what Lambda's provided.al2023 more than covers.
    timeout 1800 nice -n 19 cargo "${toolchain[@]}" zigbuild "${build_std[@]}" \
      --profile "$PROFILE" --target "$TARGET.2.17" -p lamina-examples --bin hello
    arm=$target/$TARGET/$PROFILE/hello
    ;;
  cargo-lambda)
    timeout 1800 nice -n 19 cargo lambda build --profile "$PROFILE" --arm64 \
      -p lamina-examples --bin hello
    arm=$target/lambda/hello/bootstrap
    ;;
  gcc)
    have_gcc || skip "aarch64-linux-gnu-gcc is not installed"
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
      timeout 1800 nice -n 19 cargo "${toolchain[@]}" build "${build_std[@]}" \
      --profile "$PROFILE" --target "$TARGET" -p lamina-examples --bin hello
    arm=$target/$TARGET/$PROFILE/hello
    ;;
  *) echo "unknown ARM64_BUILDER=$builder" >&2; exit 2 ;;
esac
echo "built in $(($(date +%s) - start)) s: $arm"

# ELF e_machine (bytes 18-19, little endian) must be 0xb7: EM_AARCH64.
machine=$(od -An -tx1 -j18 -N2 "$arm" | tr -d ' \n')
if [ "$machine" != "b700" ]; then
  echo "FAIL: $arm is not an aarch64 ELF (e_machine $machine)" >&2
  exit 1
fi

step "build: hello for x86_64 (same profile) and lamina-server"
timeout 1800 nice -n 19 cargo build --profile "$PROFILE" -p lamina-examples --bin hello
timeout 1800 nice -n 19 cargo build --release -p lamina-server

step "run: the arm64 hello under qemu-aarch64 against lamina-server"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat >"$dir/bootstrap" <<WRAP
#!/bin/sh
exec qemu-aarch64 -L $SYSROOT "$(realpath "$arm")" "\$@"
WRAP
chmod +x "$dir/bootstrap"
out=$(timeout 60 "$target/release/lamina-server" --bootstrap "$dir/bootstrap" --timeout 10 \
  --event '{"name":"World"}' --event '{"name":"arm64"}')
want=$'"Hello World!"\n"Hello arm64!"'
if [ "$out" != "$want" ]; then
  printf 'FAIL: the arm64 hello answered %q, expected %q\n' "$out" "$want" >&2
  exit 1
fi
echo "ok: the arm64 hello answered $(echo "$out" | tr '\n' ' ')"

x86=$target/$PROFILE/hello
printf 'bootstrap size (%s, default features): x86_64 %d bytes, arm64 %d bytes\n' \
  "$PROFILE" "$(stat -c %s "$x86")" "$(stat -c %s "$arm")"
