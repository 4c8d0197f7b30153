#!/usr/bin/env bash
# The boards' part of the test command (scripts/test.sh runs it beside the host's stages): arm64
# and armhf built once each at the glibc 2.17 floor and tested under qemu-user in Debian 11 roots
# (scripts/test-cross.sh), arm64's tests running while armhf builds and armhf's while
# scripts/release.sh, which reuses both builds, builds amd64 and makes dist/. Prints each
# stage's time.
set -euo pipefail
cd "$(dirname "$0")/.."
stage() {
    local name=$1 start=$SECONDS
    shift
    echo "== $name"
    "$@"
    echo "== $name: $((SECONDS - start)) s"
}
stage "arm64 build" scripts/test-cross.sh arm64 build
start=$SECONDS
echo "== arm64 tests under qemu-aarch64, beside the armhf build"
scripts/test-cross.sh arm64 test >target/test-arm64.log 2>&1 &
arm64=$!
stage "armhf build" scripts/test-cross.sh armhf build
status=0
wait $arm64 || status=$?
cat target/test-arm64.log
[ $status = 0 ] || { echo "arm64 tests failed (exit $status)"; exit 1; }
echo "== arm64 tests under qemu-aarch64, beside the armhf build: $((SECONDS - start)) s"
# armhf's tests spend most of their time waiting on qemu and the emulator's pace: they run beside
# the amd64 build of the release, which packages them as they are.
start=$SECONDS
echo "== armhf tests under qemu-arm, beside the release"
scripts/test-cross.sh armhf test >target/test-armhf.log 2>&1 &
armhf=$!
stage "release: amd64 build, packages, wheels" scripts/release.sh --tested-builds
status=0
wait $armhf || status=$?
cat target/test-armhf.log
[ $status = 0 ] || { echo "armhf tests failed (exit $status)"; exit 1; }
echo "== armhf tests under qemu-arm, beside the release: $((SECONDS - start)) s"
