#!/usr/bin/env bash
# Builds the workspace for the board's own target, armv7-unknown-linux-gnueabihf, with
# Debian's Rust 1.85 (the MSRV) and runs its tests under qemu-arm: the protocol, device
# session, emulator, C ABI and hardware backend, and a C test compiled with
# arm-linux-gnueabihf-gcc against the armhf library with the armhf emulator preloaded.
# Installs what it needs on a fresh Debian 12 machine.
set -euo pipefail
cd "$(dirname "$0")/.."
version=1.85.0+dfsg3-1~deb12u3
target=armv7-unknown-linux-gnueabihf
sysroot=/usr/arm-linux-gnueabihf
sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo

# Debian's Rust 1.85 (binaries in /usr/bin, called by full path so the rustup toolchain stays
# the default), the cross compiler and qemu-user.
if ! dpkg -s rustc-web 2>/dev/null | grep -q "^Version: $version" || ! command -v qemu-arm >/dev/null || ! command -v arm-linux-gnueabihf-gcc >/dev/null; then
    $sudo apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
        "rustc-web=$version" "cargo-web=$version" "libstd-rust-web-1.85=$version" "libstd-rust-web-dev=$version" \
        gcc-arm-linux-gnueabihf qemu-user cmake >/dev/null
fi
# The armv7 standard library: the armhf package, unpacked (installing it would drag in armhf
# dependencies that conflict with the amd64 ones). The armhf security index may fail to
# download while a mirror syncs; the 1.85 packages come from the main suite.
if [ ! -d /usr/lib/rustlib/$target/lib ]; then
    dpkg --print-foreign-architectures | grep -q armhf || $sudo dpkg --add-architecture armhf
    $sudo apt-get update -qq || true
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download "libstd-rust-web-dev:armhf=$version")
    $sudo dpkg -x "$tmp"/libstd-rust-web-dev_*_armhf.deb /
    rm -rf "$tmp"
fi

export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_LINKER=arm-linux-gnueabihf-gcc
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_RUNNER="qemu-arm -L $sysroot"
export CC_armv7_unknown_linux_gnueabihf=arm-linux-gnueabihf-gcc CXX_armv7_unknown_linux_gnueabihf=arm-linux-gnueabihf-g++
# Programs the tests spawn (children with the emulator preloaded, C clients) need qemu too.
export AMLJPEG_TEST_RUNNER="qemu-arm -L $sysroot"
export CC=arm-linux-gnueabihf-gcc
export CARGO_TARGET_DIR=target/armhf
# The GStreamer plugin links the host's GStreamer; this machine has no armhf GStreamer to link
# (on a board it builds natively).
cargo="/usr/bin/cargo"
"$cargo" --version
"$RUSTC" --version

"$cargo" build --release --workspace --exclude gst-plugin-amljpeg --target $target
out=$CARGO_TARGET_DIR/$target/release
export JPEGENC_EMU_LIB=$PWD/$out/libjpegenc_emu.so
# No binfmt_misc here: the emulator's encoder process could not be exec'd, so encode in-process.
export JPEGENC_EMU_HW=thread
# Everything runs some twenty times slower under qemu: stretch the tests' deadlines and the
# library's default device timeout to match.
export AMLJPEG_TEST_SLOWDOWN=20 AML_JPEG_TIMEOUT_MS=30000
log=$(mktemp)
"$cargo" test --release --workspace --exclude gst-plugin-amljpeg --target $target 2>&1 | tee "$log"
passed=$(grep -E '^test result: ok' "$log" | awk '{s += $4} END {print s + 0}')

# The C contract, compiled for armhf, against the armhf library: on the software backend and
# on the hardware backend with the armhf emulator preloaded. Its JPEG decoder is the armhf
# libjpeg, unpacked into a private sysroot (installing it would conflict like libstd above).
cbuild=$CARGO_TARGET_DIR/c-tests
jpeg=$CARGO_TARGET_DIR/sysroot
mkdir -p "$cbuild"
if [ ! -f "$jpeg/usr/include/jpeglib.h" ]; then
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download libjpeg62-turbo:armhf libjpeg62-turbo-dev:armhf)
    for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$jpeg"; done
    rm -rf "$tmp"
fi
jlib=$jpeg/usr/lib/arm-linux-gnueabihf
arm-linux-gnueabihf-gcc -O2 -Wall -Wextra -Werror -std=c11 -D_DEFAULT_SOURCE -Iinclude -I"$jpeg/usr/include" \
    -I"$jpeg/usr/include/arm-linux-gnueabihf" c-tests/test_capi.c -o "$cbuild/test_capi" \
    -L"$out" -L"$jlib" -lamljpeg -l:libjpeg.so.62 -lpthread -lm
ln -sf "$PWD/$out/libamljpeg.so" "$cbuild/libamljpeg.so.0"
run_arm() { qemu-arm -L $sysroot -E LD_LIBRARY_PATH="$PWD/$cbuild:$PWD/$jlib" "$@"; }
run_arm "$cbuild/test_capi" 2
emu_state=$(mktemp -d)
run_arm -E LD_PRELOAD="$JPEGENC_EMU_LIB" -E JPEGENC_EMU_STATE_DIR="$emu_state" -E JPEGENC_EMU_HW=thread \
    -E AMLJPEG_EXPECT_DEVICE=1 "$cbuild/test_capi" 1
rm -rf "$emu_state"

# The driver ABI as each target's C compiler builds it: identical request numbers and sizes.
# The libjpeg drop-in on the board's own ABI: a libjpeg program built for armhf, with the
# drop-in and the emulator preloaded; the emulator must have encoded each image.
arm-linux-gnueabihf-gcc -O2 -Wall -Wextra -Werror -std=c11 -D_DEFAULT_SOURCE -I"$jpeg/usr/include" \
    -I"$jpeg/usr/include/arm-linux-gnueabihf" c-tests/dropin/client.c -o "$cbuild/dropin_client" \
    -L"$jlib" -l:libjpeg.so.62
python3 -c 'import sys; from PIL import Image; Image.open(sys.argv[1]).convert("RGB").save(sys.argv[2])' \
    ../shared/testdata/chelsea.png "$cbuild/chelsea.ppm"
for mode in mem raw420 raw422 suspend linear; do
    state=$(mktemp -d)
    run_arm -E LD_PRELOAD="$PWD/$out/libamljpeg_preload.so $JPEGENC_EMU_LIB" -E JPEGENC_EMU_STATE_DIR="$state" \
        -E JPEGENC_EMU_STATS="$state/stats.json" -E JPEGENC_EMU_HW=thread \
        -E AMLJPEG_PRELOAD_LOG=1 "$cbuild/dropin_client" $mode "$cbuild/chelsea.ppm" "$state/out.jpg" 85
    grep -q '"new_cmds": 1' "$state/stats.json" || { echo "armhf drop-in: $mode did not reach the hardware"; exit 1; }
    rm -rf "$state"
done
echo "armhf: the libjpeg drop-in sent every image to the (emulated) hardware"
# Device faults: the real libjpeg encodes the collected image (a missing EOI the library
# repairs itself); the client checks that its file decodes with its markers.
for fault in corrupt no-eoi overflow eperm:NEW_CMD; do
    state=$(mktemp -d)
    log=$(run_arm -E LD_PRELOAD="$PWD/$out/libamljpeg_preload.so $JPEGENC_EMU_LIB" -E JPEGENC_EMU_STATE_DIR="$state" \
        -E JPEGENC_EMU_HW=thread -E JPEGENC_EMU_FAULT=$fault -E AMLJPEG_PRELOAD_LOG=1 \
        "$cbuild/dropin_client" mem "$cbuild/chelsea.ppm" "$state/out.jpg" 85 2>&1)
    if [ "$fault" = no-eoi ]; then want="on the hardware"; else want="the real libjpeg encodes this image instead"; fi
    echo "$log" | grep -q "$want" || { echo "armhf drop-in, fault $fault: no '$want' in:"; echo "$log"; exit 1; }
    rm -rf "$state"
done
# A device held by another program: the real libjpeg's file, byte for byte.
arm-linux-gnueabihf-gcc -O2 -Wall -Wextra -Werror -std=c11 -Iinclude c-tests/hold.c -o "$cbuild/hold" -L"$out" -lamljpeg
state=$(mktemp -d)
run_arm "$cbuild/dropin_client" mem "$cbuild/chelsea.ppm" "$state/alone.jpg" 85 >/dev/null
fifo=$state/holding; mkfifo "$fifo"
run_arm -E LD_PRELOAD="$JPEGENC_EMU_LIB" -E JPEGENC_EMU_STATE_DIR="$state" -E JPEGENC_EMU_HW=thread \
    "$cbuild/hold" 600 >"$fifo" &
holder=$!
read -r line <"$fifo"
[ "$line" = holding ] || { echo "armhf: the holder did not get the device"; exit 1; }
log=$(run_arm -E LD_PRELOAD="$PWD/$out/libamljpeg_preload.so $JPEGENC_EMU_LIB" -E JPEGENC_EMU_STATE_DIR="$state" \
    -E JPEGENC_EMU_HW=thread -E AMLJPEG_PRELOAD_LOG=1 \
    "$cbuild/dropin_client" mem "$cbuild/chelsea.ppm" "$state/busy.jpg" 85 2>&1)
kill "$holder"; wait "$holder" 2>/dev/null || true
echo "$log" | grep -q "the real libjpeg encodes this image" || { echo "armhf drop-in, busy device:"; echo "$log"; exit 1; }
cmp "$state/alone.jpg" "$state/busy.jpg" || { echo "armhf drop-in, busy device: not the real libjpeg's file"; exit 1; }
rm -rf "$state"
echo "armhf: device faults and a busy device leave good files (the real libjpeg's where it must)"

arm-linux-gnueabihf-gcc -O2 -Wall -Wextra -Werror -std=c11 -Iinclude c-tests/abi_dump.c -o "$cbuild/abi_dump"
cc -O2 -Wall -Wextra -Werror -std=c11 -Iinclude c-tests/abi_dump.c -o "$cbuild/abi_dump_host"
run_arm "$cbuild/abi_dump" > "$cbuild/abi-armhf.txt"
"$cbuild/abi_dump_host" > "$cbuild/abi-x86_64.txt"
diff <(grep -v '^pointer' "$cbuild/abi-x86_64.txt") <(grep -v '^pointer' "$cbuild/abi-armhf.txt")
echo "ioctl numbers and argument sizes are identical on x86_64 and armhf:"
cat "$cbuild/abi-armhf.txt"
# The Python wheel a board installs, cross-built as the README says: tagged linux_armv7l and
# carrying the armhf library tested above.
wheels=$PWD/$CARGO_TARGET_DIR/python-wheels
rm -rf "$wheels"
python=$(command -v python3) # the machine's Python, before Debian's cargo goes first on PATH
PATH=/usr/bin:$PATH CARGO=/usr/bin/cargo CARGO_BUILD_TARGET=$target _PYTHON_HOST_PLATFORM=linux-armv7l \
    CARGO_TARGET_DIR=$PWD/$CARGO_TARGET_DIR "$python" -m pip --disable-pip-version-check -q wheel --no-deps -w "$wheels" ./python
python3 - "$wheels"/amljpeg-*-py3-none-linux_armv7l.whl <<'PY'
import sys, zipfile
wheel = zipfile.ZipFile(sys.argv[1])
library = [n for n in wheel.namelist() if n.startswith("amljpeg/libamljpeg")]
elf = wheel.read(library[0])
assert elf[:4] == b"\x7fELF" and elf[4] == 1 and int.from_bytes(elf[18:20], "little") == 40, "not 32-bit ARM"
print("armhf wheel:", sys.argv[1].rsplit("/", 1)[1], "carries a 32-bit ARM", library[0].rsplit("/", 1)[1])
PY
echo "The C contract passed on armhf on the software and hardware backends; Rust tests under qemu-arm:"
echo "armhf: $passed passed, 0 failed"

