#!/usr/bin/env bash
# Fuzzes, with AddressSanitizer, the C ABI's argument checking and the parser of the driver's
# output, for a bounded time each (FUZZ_SECONDS, default 20). Fails on any crash, hang,
# sanitizer report or assertion. The machine has only a stable toolchain: cargo-fuzz's
# sanitizer flags are unstable, so RUSTC_BOOTSTRAP=1 lets stable rustc take them.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-20}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --quiet
export RUSTC_BOOTSTRAP=1
cd fuzz
total=0
for target in output capi; do
    log=$(mktemp)
    cargo fuzz run -O "$target" -- -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=10 >"$log" 2>&1 || {
        tail -40 "$log"; echo "fuzz target $target failed" >&2; exit 1; }
    runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
    echo "fuzz $target: ${runs:-0} runs in ${seconds}s, no crash, no sanitizer report"
    total=$((total + ${runs:-0}))
    rm -f "$log"
done
echo "fuzz: $total executions"
