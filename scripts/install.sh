#!/usr/bin/env bash
# Builds and installs amljpeg from the checkout: the library (shared, with its soname links, and
# static), the header, the pkg-config files `amljpeg` and `amljpeg-static`, the `amljpeg`
# command, the libjpeg drop-in (libamljpeg_preload.so, next to libamljpeg.so.0, which it loads)
# with its `amljpeg-preload` wrapper, and the GStreamer element.
#   scripts/install.sh [PREFIX]                (default /usr/local)
#   scripts/install.sh --uninstall [PREFIX]    removes what an install into PREFIX put there
# LIBDIR (default lib; e.g. lib/x86_64-linux-gnu) is the library directory under PREFIX.
# DESTDIR stages the files (for a package): then nothing is registered with the system.
# Into the system (no DESTDIR): `ldconfig` runs, and the element goes where the system's
# GStreamer looks when PREFIX is /usr; for another prefix the script says which
# GST_PLUGIN_PATH to set. The list of installed files is kept in
# PREFIX/share/amljpeg/install-manifest, which --uninstall reads.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/install-files.sh
source scripts/install-files.sh
uninstall=0
if [ "${1:-}" = --uninstall ]; then
    uninstall=1
    shift
fi
prefix=${1:-/usr/local}
libdir=${LIBDIR:-lib}
dest=${DESTDIR:-}
manifest=$dest$prefix/share/amljpeg/install-manifest
system=0
[ -n "$dest" ] || system=1
register() {
    [ $system = 1 ] || return 0
    if [ "$(id -u)" = 0 ]; then ldconfig; else echo "run ldconfig as root to register the library"; fi
}

if [ $uninstall = 1 ]; then
    [ -f "$manifest" ] || { echo "no amljpeg install in $dest$prefix ($manifest)" >&2; exit 1; }
    mapfile -t files <"$manifest"
    files+=("$prefix/share/amljpeg/install-manifest")
    for f in "${files[@]}"; do rm -f "$dest$f"; done
    # The directories left empty, up to the prefix.
    for f in "${files[@]}"; do
        d=$(dirname "$dest$f")
        while [ "$d" != "$dest$prefix" ] && rmdir "$d" 2>/dev/null; do d=$(dirname "$d"); done
    done
    register
    echo "removed amljpeg from $dest$prefix"
    exit 0
fi

# The whole workspace, as the tests build it (one build of every crate, whoever asks).
cargo build --release --workspace
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
major=${version%%.*}
# The static library's own system dependencies, as rustc reports them (asked once per build of
# the static library: rustc compiles the crate again to tell).
private_cache=target/release/amljpeg-native-static-libs
if [ ! -s "$private_cache" ] || [ target/release/libamljpeg.a -nt "$private_cache" ]; then
    cargo rustc --release -p amljpeg --lib --crate-type staticlib -- --print native-static-libs 2>&1 \
        | sed -n 's/.*native-static-libs: //p' | tail -n 1 >"$private_cache"
fi
private=$(cat "$private_cache")
if [ $system = 1 ] && [ "$prefix" = /usr ]; then
    plugindir=$(pkg-config --variable=pluginsdir gstreamer-1.0)
else
    plugindir=$prefix/$libdir/gstreamer-1.0
fi

installed=()
put() { # MODE SOURCE TARGET
    install -D -m "$1" "$2" "$dest$3"
    installed+=("$3")
}
link() { # TARGET LINK
    mkdir -p "$(dirname "$dest$2")"
    ln -sfn "$1" "$dest$2"
    installed+=("$2")
}
lib=$prefix/$libdir
put 0755 target/release/libamljpeg.so "$lib/libamljpeg.so.$version"
link "libamljpeg.so.$version" "$lib/libamljpeg.so.$major"
link "libamljpeg.so.$major" "$lib/libamljpeg.so"
put 0644 target/release/libamljpeg.a "$lib/libamljpeg.a"
put 0755 target/release/libamljpeg_preload.so "$lib/libamljpeg_preload.so"
put 0644 include/amljpeg.h "$prefix/include/amljpeg.h"
put 0755 target/release/amljpeg "$prefix/bin/amljpeg"
put 0755 target/release/libgstamljpeg.so "$plugindir/libgstamljpeg.so"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
preload_wrapper "$scratch/amljpeg-preload" "$lib/libamljpeg_preload.so"
put 0755 "$scratch/amljpeg-preload" "$prefix/bin/amljpeg-preload"
for pc in amljpeg amljpeg-static; do
    pc_file $pc "$prefix" "$libdir" "$version" "$private" >"$scratch/$pc.pc"
    put 0644 "$scratch/$pc.pc" "$lib/pkgconfig/$pc.pc"
done
mkdir -p "$(dirname "$manifest")"
printf '%s\n' "${installed[@]}" >"$manifest"
register
echo "installed amljpeg $version into $dest$prefix"
if [ $system = 1 ] && [ "$prefix" != /usr ]; then
    echo "GStreamer looks for elements in its own directory; for amljpegenc:"
    echo "  export GST_PLUGIN_PATH=$plugindir"
fi
if [ $system = 1 ] && ! pkg-config --variable=pc_path pkg-config | tr : '\n' | grep -qx "$lib/pkgconfig"; then
    echo "pkg-config does not look in $lib/pkgconfig: export PKG_CONFIG_PATH=$lib/pkgconfig"
fi
