#!/usr/bin/env bash
# The boards' own architectures: builds the workspace for ARCH (armhf: the Odroid C1 and 32-bit
# images on 64-bit kernels; arm64: the C2, N2, C4 and the VIMs) at the glibc 2.17 floor
# (scripts/cross.sh), then runs its tests under qemu-user in a Debian 11 root of ARCH.
#   scripts/test-cross.sh ARCH [build|test|all]      (default all)
# `build` is the one build of ARCH that the tests and scripts/release.sh share. `test` runs the
# Rust tests (arm64: see below), the C
# contract compiled for ARCH on the software backend and on the emulated E, J and MM drivers, the
# libjpeg drop-in under a libjpeg program of ARCH (faults and a busy device included), the glibc
# floor of every file it ships, and the driver ABI against the host's.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/cross.sh
source scripts/cross.sh
cross_env "${1:?usage: scripts/test-cross.sh armhf|arm64|amd64 [build|test|all]}"
step=${2:-all}
# amd64's packages are built the same way; its tests are the host's own (scripts/test.sh).
[ -n "$qemu" ] || [ "$step" = build ] || { echo "test-cross.sh: $arch is the host's: build only" >&2; exit 1; }

# What runs where (the test command's budget has room for one Rust suite under qemu, and one
# more test build would cost it some three minutes of CPU): arm64, the C2 / N2 / C4 / VIM
# userspace, runs every Rust test, the emulated-hardware ones on its boards' J and media_modules
# drivers. armhf, the C1's, runs no Rust suite: its 32-bit library is tried through its C ABI,
# as its users call it: the C contract (some 900 checks of sizes, strides, formats and
# arguments on the software backend, 840 on each emulated driver) on all three drivers (armhf
# userspace on the J and media_modules kernels goes through their compat_ioctl), the libjpeg
# drop-in on the C1's E driver (every mode, faults, a busy device) and the driver ABI as the C
# compiler lays it out. Both run those.
case $arch in
arm64) rust_tests=(--workspace --exclude gst-plugin-amljpeg) gen=J ;;
armhf) rust_tests=() gen=E ;;
amd64) rust_tests=() ;;
esac
export AMLJPEG_TEST_GENERATIONS=J,MM

if [ "$step" = build ] || [ "$step" = all ]; then
    cross_tools
    cross_build_env
    cross_root
    "$RUSTC" --version
    cross_build ${rust_tests[@]+"${rust_tests[@]}"}
    cross_check_floor
fi
[ "$step" = test ] || [ "$step" = all ] || exit 0
cross_build_env

runner_var=CARGO_TARGET_${triple//-/_}_RUNNER
export "${runner_var^^}=$runner"
# Programs the tests start (children with the emulator preloaded, C clients) run under qemu too.
export AMLJPEG_TEST_RUNNER=$runner CC=$cc
export JPEGENC_EMU_LIB=$out/libjpegenc_emu.so
# No binfmt_misc here: the emulator's encoder process could not be exec'd, so encode in-process.
export JPEGENC_EMU_HW=thread
# Everything runs some twenty times slower under qemu: stretch the tests' deadlines and the
# library's default device timeout to match.
export AMLJPEG_TEST_SLOWDOWN=20 AML_JPEG_TIMEOUT_MS=30000
passed=0
if [ ${#rust_tests[@]} -gt 0 ]; then
    log=$(mktemp)
    "$zigbuild" test --release "${rust_tests[@]}" --target "$triple.$glibc_floor" 2>&1 | tee "$log"
    if grep -q "Compiling" "$log"; then
        echo "$arch: the tests compiled something the build had not: they would not run the packaged files" >&2
        exit 1
    fi
    passed=$(grep -E '^test result: ok' "$log" | awk '{s += $4} END {print s + 0}')
    rm -f "$log"
fi

# The C contract, compiled for ARCH against the library by Debian's cross gcc against the Debian
# 11 root (cross_gcc; the root's libjpeg is its decoder).
cbuild=$CARGO_TARGET_DIR/c-tests
mkdir -p "$cbuild"
cflags=(-O2 -Wall -Wextra -Werror -std=c11 -D_DEFAULT_SOURCE -Iinclude)
cross_gcc "${cflags[@]}" c-tests/test_capi.c -o "$cbuild/test_capi" -L"$out" -lamljpeg -l:libjpeg.so.62 -lpthread -lm
ln -sf "$out/libamljpeg.so" "$cbuild/libamljpeg.so.0"
run() { $runner -E LD_LIBRARY_PATH="$cbuild" "$@"; }
run "$cbuild/test_capi" 2
for g in E J MM; do
    state=$(mktemp -d)
    expect=(-E AMLJPEG_EXPECT_DEVICE=1)
    [ "$g" != MM ] || expect+=(-E AMLJPEG_EXPECT_DMABUF=1)
    run -E LD_PRELOAD="$JPEGENC_EMU_LIB" -E JPEGENC_EMU_STATE_DIR="$state" -E JPEGENC_EMU_HW=thread \
        -E JPEGENC_EMU_GEN="$g" "${expect[@]}" "$cbuild/test_capi" 1
    rm -rf "$state"
done
echo "$arch: the C contract passed on the software backend and on the emulated E, J and MM drivers"

# The libjpeg drop-in on the board's own ABI: a libjpeg program built for ARCH, with the drop-in
# and the emulator preloaded (on the driver of ARCH's first board: the C1's E, the C2's J); the
# emulator must have encoded each image.
cross_gcc "${cflags[@]}" c-tests/dropin/client.c -o "$cbuild/dropin_client" -l:libjpeg.so.62
"$cross_python" -c 'import sys; from PIL import Image; Image.open(sys.argv[1]).convert("RGB").save(sys.argv[2])' \
    testdata/chelsea.png "$cbuild/chelsea.ppm"
dropin() {
    local state=$1
    shift
    $runner -E LD_PRELOAD="$out/libamljpeg_preload.so $JPEGENC_EMU_LIB" -E JPEGENC_EMU_STATE_DIR="$state" \
        -E JPEGENC_EMU_HW=thread -E JPEGENC_EMU_GEN="$gen" -E AMLJPEG_PRELOAD_LOG=1 "$@"
}
for mode in mem raw420 raw422 suspend linear; do
    [ "$mode" != linear ] || [ "$gen" = E ] || continue # other tables: the E driver's external table only
    state=$(mktemp -d)
    dropin "$state" -E JPEGENC_EMU_STATS="$state/stats.json" "$cbuild/dropin_client" $mode "$cbuild/chelsea.ppm" "$state/out.jpg" 85
    grep -q '"new_cmds": 1' "$state/stats.json" || { echo "$arch drop-in: $mode did not reach the hardware"; exit 1; }
    rm -rf "$state"
done
echo "$arch: the libjpeg drop-in sent every image to the (emulated) $gen hardware"
# Device faults: the real libjpeg encodes the collected image (a missing EOI the library
# repairs itself); the client checks that its file decodes with its markers.
for fault in corrupt no-eoi overflow eperm:NEW_CMD; do
    state=$(mktemp -d)
    log=$(dropin "$state" -E JPEGENC_EMU_FAULT=$fault "$cbuild/dropin_client" mem "$cbuild/chelsea.ppm" "$state/out.jpg" 85 2>&1)
    if [ "$fault" = no-eoi ]; then want="on the hardware"; else want="the real libjpeg encodes this image instead"; fi
    echo "$log" | grep -q "$want" || { echo "$arch drop-in, fault $fault: no '$want' in:"; echo "$log"; exit 1; }
    rm -rf "$state"
done
# A device held by another program: the real libjpeg's file, byte for byte.
cross_gcc "${cflags[@]}" c-tests/hold.c -o "$cbuild/hold" -L"$out" -lamljpeg
state=$(mktemp -d)
run "$cbuild/dropin_client" mem "$cbuild/chelsea.ppm" "$state/alone.jpg" 85 >/dev/null
fifo=$state/holding
mkfifo "$fifo"
run -E LD_PRELOAD="$JPEGENC_EMU_LIB" -E JPEGENC_EMU_STATE_DIR="$state" -E JPEGENC_EMU_HW=thread \
    -E JPEGENC_EMU_GEN="$gen" "$cbuild/hold" 600 >"$fifo" &
holder=$!
read -r line <"$fifo"
[ "$line" = holding ] || { echo "$arch: the holder did not get the device"; exit 1; }
log=$(dropin "$state" "$cbuild/dropin_client" mem "$cbuild/chelsea.ppm" "$state/busy.jpg" 85 2>&1)
kill "$holder"
wait "$holder" 2>/dev/null || true
echo "$log" | grep -q "the real libjpeg encodes this image" || { echo "$arch drop-in, busy device:"; echo "$log"; exit 1; }
cmp "$state/alone.jpg" "$state/busy.jpg" || { echo "$arch drop-in, busy device: not the real libjpeg's file"; exit 1; }
rm -rf "$state"
echo "$arch: device faults and a busy device leave good files (the real libjpeg's where it must)"

# The driver ABI as each target's C compiler builds it: identical request numbers and sizes.
cross_gcc "${cflags[@]}" c-tests/abi_dump.c -o "$cbuild/abi_dump"
cc -O2 -Wall -Wextra -Werror -std=c11 -Iinclude c-tests/abi_dump.c -o "$cbuild/abi_dump_host"
run "$cbuild/abi_dump" >"$cbuild/abi-$arch.txt"
"$cbuild/abi_dump_host" >"$cbuild/abi-x86_64.txt"
diff <(grep -v '^pointer' "$cbuild/abi-x86_64.txt") <(grep -v '^pointer' "$cbuild/abi-$arch.txt")
echo "ioctl numbers and argument sizes are identical on x86_64 and $arch:"
cat "$cbuild/abi-$arch.txt"
if [ ${#rust_tests[@]} -gt 0 ]; then
    echo "$arch (Debian 11 root, glibc $glibc_floor floor): Rust tests (${rust_tests[*]}) under $qemu:"
    echo "$arch: $passed passed, 0 failed"
fi
