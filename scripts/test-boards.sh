#!/usr/bin/env bash
# The boards' part of the test command (scripts/test.sh runs it beside the host's stages): arm64
# and armhf built once each at the glibc 2.17 floor and tested under qemu-user in Debian 11 roots
# (scripts/test-cross.sh), arm64's tests running while armhf builds and armhf's while
# scripts/release.sh, which packages both builds and amd64's (which scripts/test.sh builds on
# the host's side when its own stages are done) into dist/. Prints each stage's time.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/stage.sh
source scripts/stage.sh
# `beside NAME COMMAND…`: a stage in the background, its output in a log under target/;
# `joined NAME` waits for it, prints that output and fails if it failed.
declare -A pids
beside() {
    local name=$1
    shift
    (stage "$name" "$@") >"target/${name// /-}.log" 2>&1 &
    pids[$name]=$!
}
joined() {
    local status=0
    wait "${pids[$1]}" || status=$?
    cat "target/${1// /-}.log"
    [ $status = 0 ] || { echo "$1 failed (exit $status)"; exit 1; }
}
# The roots download while the host's first stages compile.
stage "Debian 11 roots" bash -c 'source scripts/cross.sh && for a in arm64 armhf amd64; do cross_env $a && cross_root; done'
stage "arm64 build" scripts/test-cross.sh arm64 build
beside "arm64 tests under qemu-aarch64" scripts/test-cross.sh arm64 test
stage "armhf build" scripts/test-cross.sh armhf build
joined "arm64 tests under qemu-aarch64"
# armhf's tests spend most of their time waiting on qemu and the emulator's pace: they run beside
# the release, which packages the builds as they are.
beside "armhf tests under qemu-arm" scripts/test-cross.sh armhf test
stage "release: packages, wheels" scripts/release.sh --tested-builds
joined "armhf tests under qemu-arm"
