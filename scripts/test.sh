#!/usr/bin/env bash
# Runs every test of the project: formatting and lints; Rust (unit, integration, emulator, the
# libjpeg drop-in, `amljpeg bench`); the criterion benchmarks once; C; pkg-config install;
# Python; bounded fuzzing (scripts/fuzz.sh); then the same on the board's target, armhf, under
# qemu-arm (scripts/test-armhf.sh; AMLJPEG_SKIP_ARMHF=1 skips it). Installs what a fresh
# machine lacks first. Prints each stage's time as it ends, and all of them at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
times=()
stage() {
    local name=$1 start=$SECONDS
    shift
    echo "== $name"
    "$@"
    times+=("$(printf '%-34s %5d s' "$name" $((SECONDS - start)))")
    echo "== $name: $((SECONDS - start)) s"
}
stage "setup" scripts/setup.sh
# Everything in the release profile, so each crate (and the bundled libjpeg-turbo's CMake
# build) is compiled once: lints, the libraries the tests preload, then every test target.
stage "fmt" cargo fmt --all -- --check
stage "clippy" cargo clippy --release --workspace --all-targets -- -D warnings
stage "build" cargo build --release --workspace
# --all-targets runs the criterion benchmarks once each too (criterion's test mode).
stage "Rust tests and benches (once)" cargo test --release --workspace --all-targets
stage "C tests, valgrind, install" scripts/test-c.sh
stage "Python package and tests" scripts/test-python.sh
stage "fuzzing" scripts/fuzz.sh
if [ "${AMLJPEG_SKIP_ARMHF:-0}" != 1 ]; then
    stage "armhf under qemu-arm" scripts/test-armhf.sh
fi
echo "== stage times"
printf '%s\n' "${times[@]}"
printf '%-34s %5d s\n' "total" "$SECONDS"
