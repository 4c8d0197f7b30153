#!/usr/bin/env bash
# Debian packages of one architecture from its build (scripts/test-cross.sh ARCH build, or
# scripts/release.sh for amd64), into DIST:
#   libamljpeg0          the shared library, the udev rule and the `jpegenc` system group
#   libamljpeg-dev       header, static library, the .so link, the pkg-config file
#   amljpeg-tools        the amljpeg command, the libjpeg drop-in and `amljpeg-preload PROGRAM`
#   gstreamer1.0-amljpeg the amljpegenc element
#   amljpeg-emulator     the emulated /dev/jpegenc for boardless CI: `jpegenc-emu PROGRAM`
#   scripts/package-deb.sh ARCH DIST
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/cross.sh
source scripts/cross.sh
# shellcheck source=scripts/install-files.sh
source scripts/install-files.sh
cross_env "${1:?usage: scripts/package-deb.sh armhf|arm64|amd64 DIST}"
dist=$(mkdir -p "${2:?DIST}" && cd "$2" && pwd)
for tool in dpkg-deb fakeroot; do
    command -v $tool >/dev/null || { echo "$tool is missing: install dpkg-dev and fakeroot (scripts/release.sh does)" >&2; exit 1; }
done
case $arch in
armhf) strip=arm-linux-gnueabihf-strip ;;
arm64) strip=aarch64-linux-gnu-strip ;;
amd64) strip=strip ;;
esac
command -v $strip >/dev/null || { echo "$strip is missing: install binutils-$multiarch" >&2; exit 1; }

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
debversion=$version-1
major=${version%%.*}
libdir=usr/lib/$multiarch
work=$CARGO_TARGET_DIR/deb
rm -rf "$work"
for f in libamljpeg.so libamljpeg.a libamljpeg_preload.so libgstamljpeg.so libjpegenc_emu.so amljpeg jpegenc-emu-hw; do
    [ -f "$out/$f" ] || { echo "$out/$f is not built: run scripts/test-cross.sh $arch build" >&2; exit 1; }
done
# What a Rust static library needs from the system when it is linked statically, as rustc says for
# every linux-gnu target.
static_libs="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"
date=$(git log -1 --format=%cD 2>/dev/null || date -R)

# The files of package $1 go under $work/$1; `doc` writes its copyright and changelog.
doc() {
    local pkg=$1 d=$work/$1/usr/share/doc/$1
    install -d "$d"
    {
        echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
        echo "Upstream-Name: amljpeg"
        echo
        echo "Files: *"
        echo "Copyright: 2026 the amljpeg developers"
        echo "License: MIT or Apache-2.0"
        echo " amljpeg is licensed under the MIT license or the Apache License 2.0, at your option."
        echo " The bundled libjpeg-turbo is under the IJG and BSD-3-Clause licenses."
        echo " On Debian systems the Apache License 2.0 is in /usr/share/common-licenses/Apache-2.0."
    } >"$d/copyright"
    printf 'amljpeg (%s) unstable; urgency=medium\n\n  * Release %s.\n\n -- %s  %s\n' \
        "$debversion" "$version" "$maintainer" "$date" | gzip -9n >"$d/changelog.Debian.gz"
}
# The maintainer: $DEBFULLNAME <$DEBEMAIL> where set (as Debian's tools take it), else the author
# of the commit the packages are built from.
if [ -n "${DEBEMAIL:-}" ]; then
    maintainer="${DEBFULLNAME:-$DEBEMAIL} <$DEBEMAIL>"
else
    maintainer=$(git log -1 --format='%an <%ae>')
fi

# control PKG SECTION MULTI-ARCH DEPENDS DESCRIPTION...
control() {
    local pkg=$1 section=$2 ma=$3 depends=$4
    shift 4
    install -d "$work/$pkg/DEBIAN"
    local size
    size=$(du -sk --exclude=DEBIAN "$work/$pkg" | cut -f1)
    {
        echo "Package: $pkg"
        echo "Source: amljpeg"
        echo "Version: $debversion"
        echo "Architecture: $arch"
        echo "Maintainer: $maintainer"
        echo "Installed-Size: $size"
        [ -z "$depends" ] || echo "Depends: $depends"
        echo "Section: $section"
        echo "Priority: optional"
        echo "Multi-Arch: $ma"
        echo "Description: $1"
        shift
        local line
        for line in "$@"; do echo " $line"; done
    } >"$work/$pkg/DEBIAN/control"
}

# libjpeg-turbo 3 is linked in (the software backend and the emulator's encoder need its
# TurboJPEG 3 API; Debian 11 and Ubuntu 18.04-22.04 ship 2.0/2.1/1.5): say so to lintian.
embeds_libjpeg() {
    local pkg=$1 file
    shift
    install -d "$work/$pkg/usr/share/lintian/overrides"
    {
        echo "# libjpeg-turbo 3.x is linked in statically: its TurboJPEG 3 API is newer than the"
        echo "# libjpeg-turbo of the distributions these boards run (1.5 to 2.1)."
        for file in "$@"; do echo "$pkg: embedded-library libjpeg [$file]"; done
    } >"$work/$pkg/usr/share/lintian/overrides/$pkg"
}

build() {
    local pkg=$1
    (cd "$work/$pkg" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0r md5sum >DEBIAN/md5sums)
    fakeroot dpkg-deb -Zxz --build "$work/$pkg" "$dist/${pkg}_${debversion}_$arch.deb" >/dev/null
    echo "$dist/${pkg}_${debversion}_$arch.deb"
}

# Every library and program references glibc 2.17 at most (scripts/check-glibc.sh checks).
libc="libc6 (>= $glibc_floor)"

# libamljpeg0
p=libamljpeg0
install -d "$work/$p/$libdir" "$work/$p/usr/lib/udev/rules.d"
install -m 0644 "$out/libamljpeg.so" "$work/$p/$libdir/libamljpeg.so.$version"
$strip --strip-unneeded --remove-section=.comment --remove-section=.note "$work/$p/$libdir/libamljpeg.so.$version"
ln -s "libamljpeg.so.$version" "$work/$p/$libdir/libamljpeg.so.$major"
install -m 0644 packaging/60-jpegenc.rules "$work/$p/usr/lib/udev/rules.d/60-jpegenc.rules"
doc $p
embeds_libjpeg $p "$libdir/libamljpeg.so.$version"
control $p libs same "$libc, adduser" "JPEG encoding on the Amlogic hardware JPEG encoder" \
    "A library with a C ABI that encodes JPEG on the hardware encoder of Amlogic" \
    "SoCs (/dev/jpegenc: Odroid C1, C2, N2, C4, Khadas VIM), with libjpeg-turbo" \
    "behind the same calls when there is no device. Members of the group jpegenc" \
    "may use the device."
echo "libamljpeg $major $p (>= $version)" >"$work/$p/DEBIAN/shlibs"
echo "activate-noawait ldconfig" >"$work/$p/DEBIAN/triggers"
cat >"$work/$p/DEBIAN/postinst" <<'EOF'
#!/bin/sh
# The device belongs to the group jpegenc (the udev rule): its driver trusts user pointers, so
# it is never open to everyone.
set -e
if [ "$1" = configure ]; then
    if ! getent group jpegenc >/dev/null; then
        addgroup --quiet --system jpegenc
    fi
    if [ -e /dev/jpegenc ] && command -v udevadm >/dev/null; then
        udevadm control --reload-rules >/dev/null 2>&1 || true
        udevadm trigger --subsystem-match=jpegenc >/dev/null 2>&1 || true
    fi
fi
EOF
chmod 0755 "$work/$p/DEBIAN/postinst"
build $p

# libamljpeg-dev
p=libamljpeg-dev
install -d "$work/$p/$libdir/pkgconfig" "$work/$p/usr/include"
install -m 0644 include/amljpeg.h "$work/$p/usr/include/amljpeg.h"
install -m 0644 "$out/libamljpeg.a" "$work/$p/$libdir/libamljpeg.a"
$strip --strip-debug "$work/$p/$libdir/libamljpeg.a"
ln -s "libamljpeg.so.$major" "$work/$p/$libdir/libamljpeg.so"
for pc in amljpeg amljpeg-static; do
    pc_file $pc /usr "lib/$multiarch" "$version" "$static_libs" >"$work/$p/$libdir/pkgconfig/$pc.pc"
done
doc $p
control $p libdevel same "libamljpeg0 (= $debversion)" "JPEG encoding on the Amlogic hardware JPEG encoder - development files" \
    "The header amljpeg.h, the static library and the pkg-config files for" \
    "programs that use libamljpeg (amljpeg; amljpeg-static links it in)."
build $p

# amljpeg-tools
p=amljpeg-tools
install -d "$work/$p/usr/bin" "$work/$p/$libdir/amljpeg"
install -m 0755 "$out/amljpeg" "$work/$p/usr/bin/amljpeg"
install -m 0644 "$out/libamljpeg_preload.so" "$work/$p/$libdir/amljpeg/libamljpeg_preload.so"
$strip --strip-unneeded --remove-section=.comment --remove-section=.note "$work/$p/usr/bin/amljpeg" \
    "$work/$p/$libdir/amljpeg/libamljpeg_preload.so"
preload_wrapper "$work/$p/usr/bin/amljpeg-preload" "/$libdir/amljpeg/libamljpeg_preload.so"
doc $p
embeds_libjpeg $p usr/bin/amljpeg
control $p graphics foreign "$libc, libamljpeg0 (= $debversion)" "JPEG encoding on the Amlogic hardware JPEG encoder - tools" \
    "amljpeg encodes PNG, PPM and raw frames and tells what the device offers" \
    "(amljpeg info). amljpeg-preload runs an unmodified libjpeg program (cjpeg," \
    "Pillow, OpenCV, motion) with its compression on the hardware encoder."
build $p

# gstreamer1.0-amljpeg
p=gstreamer1.0-amljpeg
install -d "$work/$p/$libdir/gstreamer-1.0"
install -m 0644 "$out/libgstamljpeg.so" "$work/$p/$libdir/gstreamer-1.0/libgstamljpeg.so"
$strip --strip-unneeded --remove-section=.comment --remove-section=.note "$work/$p/$libdir/gstreamer-1.0/libgstamljpeg.so"
doc $p
embeds_libjpeg $p "$libdir/gstreamer-1.0/libgstamljpeg.so"
control $p video same "$libc, libglib2.0-0 (>= 2.56), libgstreamer1.0-0 (>= 1.14), libgstreamer-plugins-base1.0-0 (>= 1.14)" \
    "GStreamer element amljpegenc: JPEG on the Amlogic hardware encoder" \
    "amljpegenc encodes raw video (NV12, I420, YUY2, RGB and more, dma-buf too) to" \
    "JPEG on the hardware encoder, and with libjpeg-turbo where there is no device."
build $p

# amljpeg-emulator
p=amljpeg-emulator
install -d "$work/$p/usr/bin" "$work/$p/$libdir/amljpeg-emulator"
install -m 0644 "$out/libjpegenc_emu.so" "$work/$p/$libdir/amljpeg-emulator/libjpegenc_emu.so"
install -m 0755 "$out/jpegenc-emu-hw" "$work/$p/$libdir/amljpeg-emulator/jpegenc-emu-hw"
$strip --strip-unneeded --remove-section=.comment --remove-section=.note \
    "$work/$p/$libdir/amljpeg-emulator/libjpegenc_emu.so" "$work/$p/$libdir/amljpeg-emulator/jpegenc-emu-hw"
wrapper "$work/$p/usr/bin/jpegenc-emu" "jpegenc-emu PROGRAM [ARGUMENT...]   (JPEGENC_EMU_GEN=E|J|MM picks the driver)" \
    '${LD_PRELOAD:+$LD_PRELOAD }'"/$libdir/amljpeg-emulator/libjpegenc_emu.so" \
    "Runs a program with an emulated /dev/jpegenc (driver and encoder), for tests without a board." \
    "The JPEGENC_EMU_* environment chooses the driver (JPEGENC_EMU_GEN=E, J or MM), faults and pace."
doc $p
embeds_libjpeg $p "$libdir/amljpeg-emulator/libjpegenc_emu.so" "$libdir/amljpeg-emulator/jpegenc-emu-hw"
control $p devel foreign "$libc" "Emulated Amlogic /dev/jpegenc for testing without a board" \
    "A model of the /dev/jpegenc kernel drivers (E, J and media_modules generations)" \
    "and of the encoder, preloaded into a program by jpegenc-emu, so that software" \
    "written for these boards can be tested in CI on any machine."
build $p
