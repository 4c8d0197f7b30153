#!/usr/bin/env bash
# Runs every test of the project: formatting and lints; Rust (unit, integration, emulator, the
# libjpeg drop-in, `amljpeg bench`); the criterion benchmarks once; C; pkg-config install;
# Python; every block of the README and docs/ as written (scripts/test-docs.py: a fresh copy of
# the checkout, an install into /usr/local and out again); bounded fuzzing (scripts/fuzz.sh).
# Beside them, on the other core's spare time, the
# boards' architectures (scripts/test-boards.sh: arm64 and armhf built at the glibc 2.17 floor
# and tested under qemu-user in Debian 11 roots, then the release: Debian packages and wheels
# of amd64, arm64 and armhf); last, the packages tried as a user would (scripts/test-packages.sh).
# AMLJPEG_SKIP_BOARDS=1 leaves the boards out. Installs what a fresh machine lacks first.
# Prints each stage's time as it ends, and all of them at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/stage.sh
source scripts/stage.sh
boards=1
if [ "${AMLJPEG_SKIP_BOARDS:-0}" = 1 ]; then
    boards=0
    echo "== AMLJPEG_SKIP_BOARDS=1: the boards' stages and the packages are NOT tested in this run"
    times+=("boards and packages: not run (AMLJPEG_SKIP_BOARDS=1)")
fi
# The tests must leave the checkout as they found it (tracked files, and no untracked file that
# .gitignore does not name).
tree_state() { git status --porcelain -uall 2>/dev/null; git diff HEAD 2>/dev/null | sha256sum; }
tree_before=$(tree_state)
stage "setup" scripts/setup.sh
# No debug information in the test command's builds (the release profile keeps it for perf):
# nothing here reads it, and linking every test binary without it saves minutes.
export CARGO_PROFILE_RELEASE_DEBUG=0
if [ $boards = 1 ]; then
    stage "setup: cross tools" bash -c 'source scripts/cross.sh && cross_tools'
    # The boards' builds and tests run beside the host's stages, their output in a log shown when
    # they end (two cores: the cross builds fill the gaps the host's tests leave).
    mkdir -p target
    boards_log=target/test-boards.log
    # In a process group of its own: a failure here stops all of it (its builds, qemu).
    setsid scripts/test-boards.sh >"$boards_log" 2>&1 &
    boards_pid=$!
    trap 'kill -- -$boards_pid 2>/dev/null || true' EXIT
fi
# Everything in the release profile, so each crate (and the bundled libjpeg-turbo's CMake
# build) is compiled once: lints, the libraries the tests preload, then every test target.
stage "fmt" cargo fmt --all -- --check
stage "clippy" cargo clippy --release --workspace --all-targets -- -D warnings
stage "build" cargo build --release --workspace --all-targets
# --all-targets runs the criterion benchmarks once each too (criterion's test mode).
stage "Rust tests and benches (once)" cargo test --release --workspace --all-targets
stage "C tests, valgrind, install" scripts/test-c.sh
stage "Python package and tests" scripts/test-python.sh
stage "README and docs, every block as written" scripts/test-docs.py
stage "fuzzing" scripts/fuzz.sh
# The release's amd64 build (packaged as the ARM builds are), on this side, which ends first.
[ $boards = 0 ] || stage "amd64 build for the release" scripts/test-cross.sh amd64 build
if [ $boards = 1 ]; then
    start=$SECONDS
    status=0
    wait $boards_pid || status=$?
    trap - EXIT
    echo "== boards (scripts/test-boards.sh), its output:"
    cat "$boards_log"
    [ $status = 0 ] || { echo "== boards failed (exit $status)"; exit 1; }
    times+=("$(printf '%-40s %5d s' "waiting for the boards' stages" $((SECONDS - start)))")
    # Every stage of the boards' log, as its own `stage` printed it.
    while IFS='|' read -r name wall cpu; do
        times+=("$(stage_line "  boards: $name" "$wall" "$cpu")")
    done < <(sed -nE 's/^== (.*): ([0-9]+) s, ([0-9]+) s CPU$/\1|\2|\3/p' "$boards_log")
    stage "packages tried as a user would" scripts/test-packages.sh dist
fi
if [ "$(tree_state)" != "$tree_before" ]; then
    echo "== the tests changed the checkout (git status --porcelain):"
    git status --porcelain -uall
    exit 1
fi
echo "== stage times"
printf '%s\n' "${times[@]}"
children_cpu
stage_line "total" "$SECONDS" $((children_ticks / clock_ticks))
