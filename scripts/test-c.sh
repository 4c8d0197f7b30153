#!/usr/bin/env bash
# Builds and runs the C tests against target/release, then installs amljpeg into a temporary
# prefix and builds a program through pkg-config alone (shared and static).
set -euo pipefail
cd "$(dirname "$0")/.."
out=c-tests/build
mkdir -p "$out"
cflags=(-O2 -g -Wall -Wextra -Werror -std=c11 -D_DEFAULT_SOURCE -Iinclude)
cc "${cflags[@]}" c-tests/test_capi.c -o "$out/test_capi" -Ltarget/release -lamljpeg -ljpeg -lpthread -lm
# The library's SONAME is libamljpeg.so.0; cargo leaves only libamljpeg.so.
ln -sf "$PWD/target/release/libamljpeg.so" "$out/libamljpeg.so.0"
export LD_LIBRARY_PATH="$PWD/$out"
"$out/test_capi" 2
"$out/test_capi" 0
# The same contract on the hardware backend, against the emulated /dev/jpegenc.
emu_state=$(mktemp -d)
emu() { LD_PRELOAD="$PWD/target/release/libjpegenc_emu.so" JPEGENC_EMU_STATE_DIR="$emu_state" AMLJPEG_EXPECT_DEVICE=1 "$@"; }
emu "$out/test_capi" 1
emu "$out/test_capi" 0
JPEGENC_EMU_GEN=J emu "$out/test_capi" 1
# The media_modules driver: NEW_CMD2, and dma-bufs the device reads itself.
JPEGENC_EMU_GEN=MM AMLJPEG_EXPECT_DMABUF=1 emu "$out/test_capi" 1

# Under valgrind everything in the process, the emulator's completion thread included, runs
# some 30 times slower and one thread at a time: frames get a generous deadline.
AML_JPEG_TIMEOUT_MS=10000 emu valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=9 \
    "$out/test_capi" 1 >/dev/null

# Zero leaks, no invalid accesses (valgrind fails the run on any).
valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
    --error-exitcode=9 "$out/test_capi" 2 >/dev/null

prefix=$(mktemp -d)
trap 'rm -rf "$prefix" "$emu_state"' EXIT
scripts/install.sh "$prefix" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
# shellcheck disable=SC2046
cc c-tests/pkgconfig_smoke.c -o "$out/smoke_shared" $(pkg-config --cflags --libs amljpeg)
export LD_LIBRARY_PATH="$prefix/lib"
# (grep without -q: an early exit would kill ldd with SIGPIPE and, with pipefail, the script)
ldd "$out/smoke_shared" | grep "$prefix/lib/libamljpeg.so.0" >/dev/null
"$out/smoke_shared"
# shellcheck disable=SC2046
cc c-tests/pkgconfig_smoke.c -o "$out/smoke_static" $(pkg-config --cflags --libs amljpeg-static)
"$out/smoke_static"
if ldd "$out/smoke_static" | grep libamljpeg >/dev/null; then echo "static build links libamljpeg dynamically" >&2; exit 1; fi

# The installed GStreamer plugin: gst-inspect-1.0 finds and documents it under the prefix.
GST_PLUGIN_PATH="$prefix/lib/gstreamer-1.0" GST_REGISTRY="$prefix/gst-registry.bin" \
    gst-inspect-1.0 amljpegenc | grep "$prefix/lib/gstreamer-1.0/libgstamljpeg.so" >/dev/null

# The installed drop-in finds the installed libamljpeg.so.0 beside it and reaches the device.
unset LD_LIBRARY_PATH
command -v cjpeg >/dev/null || { echo "cjpeg is missing: install libjpeg-turbo-progs (scripts/setup.sh does)" >&2; exit 1; }
{
    python3 -c 'import sys; from PIL import Image; Image.open(sys.argv[1]).convert("RGB").save(sys.argv[2])' \
        testdata/chelsea.png "$out/chelsea.ppm"
    log=$(LD_PRELOAD="$PWD/target/release/libjpegenc_emu.so" JPEGENC_EMU_STATE_DIR="$emu_state" \
        AMLJPEG_PRELOAD_LOG=1 "$prefix/bin/amljpeg-preload" \
        cjpeg -quality 85 -outfile "$out/dropin.jpg" "$out/chelsea.ppm" 2>&1)
    echo "$log" | grep "$prefix/lib/libamljpeg.so.0 opened the device" >/dev/null
    echo "$log" | grep "on the hardware" >/dev/null
    djpeg "$out/dropin.jpg" >/dev/null
}

# Uninstalling leaves the prefix as it was (the registry above is the test's own file).
rm -f "$prefix/gst-registry.bin"
scripts/install.sh --uninstall "$prefix" >/dev/null
left=$(find "$prefix" -mindepth 1)
[ -z "$left" ] || { echo "scripts/install.sh --uninstall left:"; echo "$left"; exit 1; } >&2

# Into the system's own prefix, /usr (the README's install into /usr/local runs in
# scripts/test-docs.py): the library registered with the loader, the element in GStreamer's
# own directory, found without GST_PLUGIN_PATH; then out again, leaving nothing.
unset PKG_CONFIG_PATH
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
before=$(mktemp)
find /usr -xdev | sort >"$before"
# (a failure below must not leave the system with the install)
trap '$sudo scripts/install.sh --uninstall /usr >/dev/null 2>&1 || true; rm -rf "$prefix" "$emu_state"' EXIT
$sudo env "PATH=$PATH" CARGO_PROFILE_RELEASE_DEBUG="${CARGO_PROFILE_RELEASE_DEBUG:-}" scripts/install.sh /usr
cc c-tests/pkgconfig_smoke.c -o "$out/smoke_usr" $(pkg-config --cflags --libs amljpeg)
"$out/smoke_usr"
plugin=$(realpath "$(pkg-config --variable=pluginsdir gstreamer-1.0)/libgstamljpeg.so")
found=$(GST_REGISTRY="$emu_state/gst-registry-usr.bin" gst-inspect-1.0 amljpegenc | sed -n 's/^ *Filename *//p')
[ -n "$found" ] && [ "$(realpath "$found")" = "$plugin" ] \
    || { echo "gst-inspect-1.0 does not find amljpegenc installed into /usr ($plugin): '$found'" >&2; exit 1; }
$sudo scripts/install.sh --uninstall /usr >/dev/null
trap 'rm -rf "$prefix" "$emu_state"' EXIT
left=$(find /usr -xdev | sort | comm -13 "$before" -)
rm -f "$before"
[ -z "$left" ] || { echo "scripts/install.sh --uninstall /usr left:"; echo "$left"; exit 1; } >&2

echo "C tests and pkg-config install (a scratch prefix and /usr): ok"
