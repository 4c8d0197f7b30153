#!/usr/bin/env bash
# Builds libjpeg-turbo 3 (the copy the turbojpeg crate vendors) as a shared libjpeg 6.2 linked
# with -Bsymbolic-functions, for the drop-in's tests: its internal calls (jpeg_abort inside
# jpeg_finish_compress, the marker calls inside jpeg_write_icc_profile) bypass any interposer,
# and it has jpeg_enable_lossless, which Debian 12's 2.1.5 lacks. Prints the directory with
# include/ and lib/. Built once into target/, with its TurboJPEG library (libturbojpeg.so.0 of
# libjpeg-turbo 3, for PyTurboJPEG 2.x, which needs it) from the same CMake build:
# `scripts/libjpeg-turbo3.sh turbojpeg` prints that library's path.
set -euo pipefail
cd "$(dirname "$0")/.."
source_dir() {
    local pkg
    pkg=$(cargo metadata --format-version 1 --locked | python3 -c '
import json, os, sys
meta = json.load(sys.stdin)
print(next(os.path.dirname(p["manifest_path"]) for p in meta["packages"] if p["name"] == "turbojpeg-sys"))')
    echo "$pkg/libjpeg-turbo"
}
out=$PWD/target/libjpeg-turbo3-symbolic
if [ ! -f "$out/lib/libjpeg.so.62" ] || [ ! -f "$out/lib/libturbojpeg.so.0" ]; then
    src=$(source_dir)
    rm -rf "$out"
    cmake -S "$src" -B "$out/build" -DCMAKE_BUILD_TYPE=Release -DENABLE_STATIC=0 -DWITH_TURBOJPEG=1 \
        -DCMAKE_SHARED_LINKER_FLAGS=-Wl,-Bsymbolic-functions >"$out.log" 2>&1
    cmake --build "$out/build" --target jpeg turbojpeg -j"$(nproc)" >>"$out.log" 2>&1
    mkdir -p "$out/include" "$out/lib"
    cp "$src/src/jpeglib.h" "$src/src/jmorecfg.h" "$src/src/jerror.h" "$out/build/jconfig.h" "$out/include/"
    cp -P "$out/build"/libjpeg.so* "$out/build"/libturbojpeg.so* "$out/lib/"
fi
if [ "${1:-}" = turbojpeg ]; then
    echo "$out/lib/libturbojpeg.so.0"
else
    echo "$out"
fi
