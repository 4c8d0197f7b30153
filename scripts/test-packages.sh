#!/usr/bin/env bash
# Tries what scripts/release.sh put into DIST (default dist/) as a user would:
# - every ELF file of every package references glibc 2.17 at most; lintian finds no error;
# - arm64 and armhf: the packages unpacked over the Debian 11 root of their architecture, then
#   under qemu-user: a C program built through the installed pkg-config file by the Debian
#   cross gcc against that root, on the software backend and on the packaged emulator's E, J
#   and MM drivers; the amljpeg command encoding a photograph; cjpeg (Debian 11's) through the
#   amljpeg-preload wrapper on the emulated hardware;
# - amd64: installed with apt on this machine and used the same way, GStreamer finding the
#   element, reinstalled, then purged, leaving none of the files dpkg listed.
#   scripts/test-packages.sh [DIST]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/cross.sh
source scripts/cross.sh
dist=$(cd "${1:-dist}" && pwd)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)-1
packages=(libamljpeg0 libamljpeg-dev amljpeg-tools gstreamer1.0-amljpeg amljpeg-emulator)
scratch=$(mktemp -d)
cleanup() {
    [ -z "${lintian:-}" ] || kill "$lintian" 2>/dev/null || true
    rm -rf "$scratch"
    # Never leave the amd64 packages installed on this machine, whatever failed.
    dpkg -s libamljpeg0 >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "${packages[@]}" >/dev/null 2>&1
    return 0
}
trap cleanup EXIT
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo

# What the C contract expects of a driver generation: MM reads dma-bufs itself.
expect_for() {
    expect=(AMLJPEG_EXPECT_DEVICE=1)
    [ "$1" != MM ] || expect+=(AMLJPEG_EXPECT_DMABUF=1)
}
debs() { local a=$1 p; for p in "${packages[@]}"; do echo "$dist/${p}_${version}_$a.deb"; done; }

# Every ELF file in every package, at the glibc floor.
for arch in amd64 arm64 armhf; do
    mapfile -t files < <(debs $arch)
    for f in "${files[@]}"; do
        [ -f "$f" ] || { echo "no $f: run scripts/release.sh" >&2; exit 1; }
        dpkg-deb -x "$f" "$scratch/elf-$arch"
    done
done
scripts/check-glibc.sh "$glibc_floor" "$scratch"/elf-*
# lintian (a minute of one core) runs beside the rest; its verdict comes at the end.
lintian --fail-on error "$dist"/*.deb >"$scratch/lintian" 2>&1 &
lintian=$!

# The wheels: each carries its architecture's library at the floor; the x86_64 one is installed
# into a fresh virtualenv and the package's tests run against it.
for w in x86_64:62 aarch64:183 armv7l:40; do
    wheel=$(ls "$dist"/amljpeg-*-py3-none-manylinux2014_"${w%%:*}".whl)
    mkdir -p "$scratch/wheel-${w%%:*}"
    python3 -m zipfile -e "$wheel" "$scratch/wheel-${w%%:*}"
    lib=$scratch/wheel-${w%%:*}/amljpeg/libamljpeg.so
    [ "$(od -An -t u2 -j 18 -N 2 "$lib" | tr -d ' ')" = "${w#*:}" ] || { echo "$wheel: not a ${w%%:*} library" >&2; exit 1; }
done
scripts/check-glibc.sh "$glibc_floor" "$scratch"/wheel-*
venv=$scratch/venv
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check "$dist"/amljpeg-*-manylinux2014_x86_64.whl \
    pytest numpy pillow "PyTurboJPEG<2" simplejpeg
(cd "$scratch" && "$venv/bin/python" -c 'import amljpeg._native as n; p = n.library()._name; assert "site-packages" in p, p; print("the wheel loads", p)')
(cd "$scratch" && "$venv/bin/python" -m pytest -q -p no:cacheprovider "$OLDPWD/python/tests")

python3 -c 'import sys; from PIL import Image; Image.open(sys.argv[1]).convert("RGB").save(sys.argv[2])' \
    testdata/chelsea.png "$scratch/chelsea.ppm"
decodes() { djpeg "$1" >/dev/null || { echo "$1 does not decode" >&2; exit 1; }; }

# arm64 and armhf, over their Debian 11 roots.
for arch in arm64 armhf; do
    cross_env $arch
    cross_root
    mapfile -t files < <(debs $arch)
    for f in "${files[@]}"; do dpkg-deb -x "$f" "$root"; done
    # pkg-config as the board's, looking into the root.
    pc() { PKG_CONFIG_SYSROOT_DIR=$root PKG_CONFIG_LIBDIR=$root/usr/lib/$multiarch/pkgconfig:$root/usr/share/pkgconfig pkg-config "$@"; }
    # shellcheck disable=SC2046
    cross_gcc -O2 -Wall -Werror -std=c11 -D_DEFAULT_SOURCE c-tests/test_capi.c \
        -o "$scratch/capi-$arch" $(pc --cflags --libs amljpeg libjpeg) -lpthread -lm
    $runner "$scratch/capi-$arch" 2
    for g in E J MM; do
        expect_for $g
        state=$(mktemp -d -p "$scratch")
        # The packaged wrapper sets LD_PRELOAD for the program qemu runs (the host's loader
        # cannot use the target's library and says so: that line is dropped). MM reads dma-bufs.
        env "${expect[@]}" JPEGENC_EMU_GEN=$g JPEGENC_EMU_STATE_DIR=$state JPEGENC_EMU_HW=thread sh "$root/usr/bin/jpegenc-emu" $runner "$scratch/capi-$arch" 1 2> >(grep -v "cannot be preloaded" >&2)
    done
    # The command, in software and on the emulated hardware.
    $runner "$root/usr/bin/amljpeg" encode testdata/chelsea.png "$scratch/cli-$arch.jpg" -q 85
    decodes "$scratch/cli-$arch.jpg"
    state=$(mktemp -d -p "$scratch")
    JPEGENC_EMU_STATE_DIR=$state JPEGENC_EMU_HW=thread JPEGENC_EMU_STATS=$state/stats.json \
        sh "$root/usr/bin/jpegenc-emu" $runner "$root/usr/bin/amljpeg" encode testdata/chelsea.png \
        "$scratch/cli-hw-$arch.jpg" --backend hardware 2> >(grep -v "cannot be preloaded" >&2)
    decodes "$scratch/cli-hw-$arch.jpg"
    grep -q '"new_cmds": 1' "$state/stats.json" || { echo "$arch: amljpeg encode did not reach the hardware" >&2; exit 1; }
    # Debian 11's cjpeg through the wrapper, on the emulated hardware.
    state=$(mktemp -d -p "$scratch")
    log=$(JPEGENC_EMU_STATE_DIR=$state JPEGENC_EMU_HW=thread AMLJPEG_PRELOAD_LOG=1 \
        sh "$root/usr/bin/amljpeg-preload" sh "$root/usr/bin/jpegenc-emu" $runner "$root/usr/bin/cjpeg" -quality 85 \
        -outfile "$scratch/cjpeg-$arch.jpg" "$scratch/chelsea.ppm" 2>&1 | grep -v "cannot be preloaded")
    echo "$log" | grep -q "on the hardware" || { echo "$arch: cjpeg under amljpeg-preload did not use the hardware:"; echo "$log"; exit 1; } >&2
    decodes "$scratch/cjpeg-$arch.jpg"
    echo "$arch: packages over Debian 11 ($root): C through pkg-config on software, E, J and MM; amljpeg encode; amljpeg-preload cjpeg on the hardware"
done

# amd64, installed with apt on this machine.
mapfile -t files < <(debs amd64)
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${files[@]}" >/dev/null
getent group jpegenc >/dev/null || { echo "amd64: postinst made no jpegenc group" >&2; exit 1; }
listed=$scratch/dpkg-L
for p in "${packages[@]}"; do dpkg -L "$p"; done | sort -u >"$listed"
GST_REGISTRY=$scratch/registry.bin gst-inspect-1.0 amljpegenc | grep "lib/x86_64-linux-gnu/gstreamer-1.0/libgstamljpeg.so" >/dev/null \
    || { echo "amd64: gst-inspect-1.0 does not find the packaged amljpegenc" >&2; exit 1; }
# shellcheck disable=SC2046
cc -O2 -Wall -Werror -std=c11 -D_DEFAULT_SOURCE c-tests/test_capi.c -o "$scratch/capi-amd64" $(pkg-config --cflags --libs amljpeg libjpeg) -lpthread -lm
# (/lib is /usr/lib on a merged-/usr system; grep without -q: an early exit kills ldd with SIGPIPE)
ldd "$scratch/capi-amd64" | grep "lib/x86_64-linux-gnu/libamljpeg.so.0" >/dev/null \
    || { echo "amd64: the program does not load the packaged libamljpeg.so.0" >&2; exit 1; }
"$scratch/capi-amd64" 2
for g in E J MM; do
    expect_for $g
    state=$(mktemp -d -p "$scratch")
    env "${expect[@]}" JPEGENC_EMU_GEN=$g JPEGENC_EMU_STATE_DIR=$state \
        jpegenc-emu "$scratch/capi-amd64" 1
done
# The static library through its pkg-config file: libamljpeg linked in.
# shellcheck disable=SC2046
cc -O2 -std=c11 c-tests/pkgconfig_smoke.c -o "$scratch/smoke-static" $(pkg-config --cflags --libs amljpeg-static)
"$scratch/smoke-static"
if ldd "$scratch/smoke-static" | grep libamljpeg >/dev/null; then echo "amd64: amljpeg-static links libamljpeg dynamically" >&2; exit 1; fi
state=$(mktemp -d -p "$scratch")
log=$(JPEGENC_EMU_STATE_DIR=$state AMLJPEG_PRELOAD_LOG=1 amljpeg-preload jpegenc-emu cjpeg -quality 85 \
    -outfile "$scratch/cjpeg-amd64.jpg" "$scratch/chelsea.ppm" 2>&1)
echo "$log" | grep -q "on the hardware" || { echo "amd64: cjpeg under amljpeg-preload did not use the hardware:"; echo "$log"; exit 1; } >&2
decodes "$scratch/cjpeg-amd64.jpg"
amljpeg encode testdata/chelsea.png "$scratch/cli-amd64.jpg"
decodes "$scratch/cli-amd64.jpg"
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --reinstall "${files[@]}" >/dev/null
# An upgrade: the same packages as a later Debian revision (-1 -> -2), over the installed ones.
mkdir -p "$scratch/upgrade"
for f in "${files[@]}"; do
    dir=$scratch/upgrade/$(basename "$f" .deb)
    dpkg-deb -R "$f" "$dir"
    sed -i "s/^Version: .*/Version: ${version%-1}-2/; s/(= ${version})/(= ${version%-1}-2)/" "$dir/DEBIAN/control"
    fakeroot dpkg-deb -Zxz --build "$dir" "$dir.deb" >/dev/null
done
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$scratch"/upgrade/*.deb >/dev/null
[ "$(dpkg-query -W -f '${Version}' libamljpeg0)" = "${version%-1}-2" ] || { echo "amd64: the upgrade did not take" >&2; exit 1; }
getent group jpegenc >/dev/null || { echo "amd64: the upgrade lost the jpegenc group" >&2; exit 1; }
DEBIAN_FRONTEND=noninteractive $sudo apt-get purge -y -qq "${packages[@]}" >/dev/null
left=$(while read -r f; do if [ -f "$f" ] || [ -L "$f" ]; then echo "$f"; fi; done <"$listed")
[ -z "$left" ] || { echo "amd64: purge left files behind:"; echo "$left"; exit 1; } >&2
echo "amd64: installed with apt, used (C through pkg-config on E, J and MM, static too; gst-inspect; amljpeg-preload cjpeg; amljpeg encode), reinstalled, upgraded and purged without a file left"

status=0
wait $lintian || status=$?
grep -v "^running with root" "$scratch/lintian" | sort -u || true
[ $status = 0 ] || { echo "lintian reports errors" >&2; exit 1; }
echo "lintian: no errors in $(ls "$dist"/*.deb | wc -l) packages"
