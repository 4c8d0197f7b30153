#!/usr/bin/env bash
# Builds everything that is shipped into dist/, from a fresh Debian 12 machine (it installs what
# it needs): per architecture (amd64, arm64, armhf) the Debian packages libamljpeg0,
# libamljpeg-dev, amljpeg-tools, gstreamer1.0-amljpeg and amljpeg-emulator; the Python wheels
# (manylinux2014: x86_64, aarch64, armv7l); and SHA256SUMS. Every ELF file references glibc 2.17
# at most, so the packages and wheels load on every vendor image of the boards (Ubuntu 16.04 on).
# The ARM builds are the ones scripts/test-cross.sh tests: with --tested-builds (the test
# command's way) the arm64 and armhf files it has just tested are packaged as they are.
#   scripts/release.sh [--tested-builds]
set -euo pipefail
cd "$(dirname "$0")/.."
reuse=0
[ "${1:-}" != --tested-builds ] || reuse=1
# shellcheck source=scripts/cross.sh
source scripts/cross.sh
cross_tools
dist=$PWD/dist
rm -rf "$dist"
mkdir -p "$dist"
[ $reuse = 1 ] || for arch in arm64 armhf; do scripts/test-cross.sh $arch build; done
# amd64 the same way: Debian's Rust 1.85, zig at the glibc floor, GStreamer of the Debian 11 root
# (the test command has built it already: then this finds it up to date).
scripts/test-cross.sh amd64 build
for arch in amd64 arm64 armhf; do
    scripts/package-deb.sh $arch "$dist" >/dev/null
done
scripts/python-wheels.sh "$dist"
(cd "$dist" && sha256sum -- *.deb *.whl >SHA256SUMS)
echo "dist/:"
ls -l "$dist"
