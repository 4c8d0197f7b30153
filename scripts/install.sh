#!/usr/bin/env bash
# Builds and installs amljpeg: library (shared + static), header, pkg-config file, CLI, the
# libjpeg drop-in (libamljpeg_preload.so, next to libamljpeg.so.0, which it loads) and the
# GStreamer plugin (libgstamljpeg.so, into <libdir>/gstreamer-1.0).
#   scripts/install.sh [PREFIX]          (default /usr/local; DESTDIR is honoured)
# Afterwards: pkg-config --cflags --libs amljpeg
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-/usr/local}
libdir=${LIBDIR:-lib}
dest=${DESTDIR:-}
cargo build --release -p amljpeg -p amljpeg-cli -p amljpeg-preload -p gst-plugin-amljpeg
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
major=${version%%.*}
# The static library's own system dependencies, as rustc reports them.
private=$(cargo rustc --release -p amljpeg --lib --crate-type staticlib -- --print native-static-libs 2>&1 \
    | sed -n 's/.*native-static-libs: //p' | tail -n 1)
install -d "$dest$prefix/$libdir/pkgconfig" "$dest$prefix/include" "$dest$prefix/bin"
install -m 0755 target/release/libamljpeg.so "$dest$prefix/$libdir/libamljpeg.so.$version"
ln -sf "libamljpeg.so.$version" "$dest$prefix/$libdir/libamljpeg.so.$major"
ln -sf "libamljpeg.so.$major" "$dest$prefix/$libdir/libamljpeg.so"
install -m 0755 target/release/libamljpeg_preload.so "$dest$prefix/$libdir/libamljpeg_preload.so"
install -m 0644 target/release/libamljpeg.a "$dest$prefix/$libdir/libamljpeg.a"
install -m 0644 include/amljpeg.h "$dest$prefix/include/amljpeg.h"
install -m 0755 target/release/amljpeg "$dest$prefix/bin/amljpeg"
install -d "$dest$prefix/$libdir/gstreamer-1.0"
install -m 0755 target/release/libgstamljpeg.so "$dest$prefix/$libdir/gstreamer-1.0/libgstamljpeg.so"
sed -e "s|@PREFIX@|$prefix|" -e "s|@LIBDIR@|$libdir|" -e "s|@VERSION@|$version|" \
    -e "s|@PRIVATE_LIBS@|$private|" pkgconfig/amljpeg.pc.in > "$dest$prefix/$libdir/pkgconfig/amljpeg.pc"
echo "installed amljpeg $version into $dest$prefix"
