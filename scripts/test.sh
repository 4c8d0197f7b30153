#!/usr/bin/env bash
# Runs every test of the project: formatting and lints; Rust (unit, integration, emulator, the
# libjpeg drop-in, `amljpeg bench`); the criterion benchmarks once; C; pkg-config install;
# Python; bounded fuzzing (scripts/fuzz.sh); then the same on the board's target, armhf, under
# qemu-arm (scripts/test-armhf.sh; AMLJPEG_SKIP_ARMHF=1 skips it). Installs what a fresh
# machine lacks first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build --release --workspace
cargo test --workspace
# The criterion benchmarks, each run once (criterion's test mode): they build and work.
cargo bench --bench encode -- --test
scripts/test-c.sh
python3 -m pytest -q python/tests
scripts/fuzz.sh
if [ "${AMLJPEG_SKIP_ARMHF:-0}" != 1 ]; then
    scripts/test-armhf.sh
fi

