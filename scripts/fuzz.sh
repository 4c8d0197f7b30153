#!/usr/bin/env bash
# Fuzzes, with AddressSanitizer, the C ABI's argument checking and the parser of the driver's
# output, for a bounded time each (FUZZ_SECONDS, default 20). Fails on any crash, hang,
# sanitizer report or assertion.
#
# Built by cargo itself with the flags `cargo fuzz build -O` passes (libFuzzer's coverage
# instrumentation and ASan, for the target crates only), so a fresh machine does not compile
# cargo-fuzz first; `cargo fuzz run output` works on the same targets for anyone who has it.
# The machine has only a stable toolchain: the sanitizer flag is unstable, so RUSTC_BOOTSTRAP=1
# lets stable rustc take it. --locked: fuzz/Cargo.lock is tracked and must be current.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${FUZZ_SECONDS:-20}
triple=$(rustc -vV | sed -n 's/^host: //p')
flags=(-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table
    -Cllvm-args=-sanitizer-coverage-trace-compares -Cllvm-args=-sanitizer-coverage-stack-depth
    -Cllvm-args=-simplifycfg-branch-fold-threshold=0 --cfg fuzzing -Zsanitizer=address)
# The libjpeg-turbo the host's release build made (scripts/test.sh builds it first), not a second
# CMake build of it; standing alone, turbojpeg-sys builds its own.
lib=$(ls -t "$PWD"/../target/release/build/turbojpeg-sys-*/out/lib/libturbojpeg.a 2>/dev/null | head -n 1)
if [ -n "$lib" ]; then
    export TURBOJPEG_SOURCE=explicit TURBOJPEG_STATIC=1 TURBOJPEG_LIB_DIR=${lib%/*} \
        TURBOJPEG_INCLUDE_DIR=${lib%/lib/*}/include
fi
# --target: the flags reach the fuzzed crates but not build scripts and proc-macros.
RUSTC_BOOTSTRAP=1 RUSTFLAGS="${flags[*]}" cargo build --locked --release --bins --target "$triple"
total=0
for target in output capi; do
    corpus=corpus/$target artifacts=artifacts/$target
    mkdir -p "$corpus" "$artifacts"
    log=$(mktemp)
    "target/$triple/release/$target" -artifact_prefix="$artifacts/" -max_total_time="$seconds" \
        -rss_limit_mb=4096 -timeout=10 "$corpus" >"$log" 2>&1 || {
        tail -40 "$log"; echo "fuzz target $target failed (its input is in fuzz/$artifacts)" >&2; exit 1; }
    runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
    [ -n "$runs" ] || { tail -40 "$log"; echo "fuzz target $target: libFuzzer did not report its runs" >&2; exit 1; }
    echo "fuzz $target: $runs runs in ${seconds}s, no crash, no sanitizer report"
    total=$((total + runs))
    rm -f "$log"
done
echo "fuzz: $total executions"
