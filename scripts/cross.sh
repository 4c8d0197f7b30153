# Sourced, not run: how amljpeg is built for the boards' architectures (and for amd64 packages)
# so that the result loads on every vendor image.
#
#   cross_env ARCH       ARCH is armhf, arm64 or amd64: sets the variables below for it
#   cross_tools          installs what the build needs on a fresh Debian 12 machine
#   cross_root           makes (once) $root, a Debian 11 root of ARCH, unpacked (not installed)
#   cross_build          builds the workspace and its tests for ARCH, once, into $out
#
# The toolchain is Debian's Rust 1.85 (rustc-web, the MSRV) with the target's standard library,
# linked by zig through cargo-zigbuild against glibc 2.17 symbol versions (manylinux2014): the
# C1's Ubuntu 16.04 (glibc 2.23) and every later image load it. C code (the bundled
# libjpeg-turbo, the emulator's helpers) is compiled by the same zig for the same floor. The
# GStreamer plugin links the GStreamer of the Debian 11 root, which is also where the tests run
# under qemu-user (glibc 2.31, as the C2 / N2 / C4 20.04 images).

glibc_floor=2.17
rust_version=1.85.0+dfsg3-1~deb12u3
zig_version=0.17.1
zigbuild_version=0.24.1

cross_env() {
    arch=$1
    case $arch in
    armhf) triple=armv7-unknown-linux-gnueabihf multiarch=arm-linux-gnueabihf qemu=qemu-arm
        zig_target=arm-linux-gnueabihf ;;
    arm64) triple=aarch64-unknown-linux-gnu multiarch=aarch64-linux-gnu qemu=qemu-aarch64
        zig_target=aarch64-linux-gnu ;;
    amd64) triple=x86_64-unknown-linux-gnu multiarch=x86_64-linux-gnu qemu=""
        zig_target=x86_64-linux-gnu ;;
    *) echo "cross_env: no architecture '$arch' (armhf, arm64, amd64)" >&2; return 1 ;;
    esac
    top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    root=$top/target/roots/bullseye-$arch
    tools=$top/target/tools
    export CARGO_TARGET_DIR=$top/target/$arch
    out=$CARGO_TARGET_DIR/$triple/release
    # Programs built for ARCH run under qemu-user with the Debian 11 root as their file system.
    runner=""
    [ -z "$qemu" ] || runner="$qemu -L $root"
}

# The Python that has ziglang (the machine's, before /usr/bin goes first on PATH for Debian's cargo).
cross_python=$(command -v python3)

cross_tools() {
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    # Debian's Rust 1.85, qemu-user, the targets' binutils (strip) and gcc (the package tests
    # build a C program as a board user would, against the Debian 11 root), Debian's packaging tools.
    local apt_packages=("rustc-web=$rust_version" "cargo-web=$rust_version" "libstd-rust-web-1.85=$rust_version"
        "libstd-rust-web-dev=$rust_version" qemu-user cmake nasm pkg-config dpkg-dev fakeroot lintian
        gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf binutils-aarch64-linux-gnu binutils-arm-linux-gnueabihf)
    if ! dpkg -s "${apt_packages[@]%%=*}" >/dev/null 2>&1 || ! dpkg -s rustc-web | grep -q "^Version: $rust_version"; then
        $sudo apt-get update -qq || true
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${apt_packages[@]}" >/dev/null
    fi
    # The targets' standard libraries: the foreign packages, unpacked (installing them would drag
    # in foreign dependencies that conflict with the amd64 ones).
    local a t
    for a in armhf:armv7-unknown-linux-gnueabihf arm64:aarch64-unknown-linux-gnu; do
        t=${a#*:}
        a=${a%%:*}
        [ -d "/usr/lib/rustlib/$t/lib" ] && continue
        dpkg --print-foreign-architectures | grep -qx "$a" || $sudo dpkg --add-architecture "$a"
        $sudo apt-get update -qq || true
        local tmp
        tmp=$(mktemp -d)
        (cd "$tmp" && apt-get download -qq "libstd-rust-web-dev:$a=$rust_version")
        $sudo dpkg -x "$tmp"/libstd-rust-web-dev_*_"$a".deb /
        rm -rf "$tmp"
    done
    if ! "$cross_python" -c "import ziglang" 2>/dev/null || ! command -v cargo-zigbuild >/dev/null \
        || [ "$(cargo-zigbuild --version)" != "cargo-zigbuild $zigbuild_version" ]; then
        "$cross_python" -m pip install -q --disable-pip-version-check "ziglang==$zig_version" \
            "cargo-zigbuild==$zigbuild_version"
    fi
}

# Sets the build's environment for $arch (after cross_env): Debian's cargo and rustc first,
# zig on PATH for cargo-zigbuild, pkg-config looking into the Debian 11 root, and $cc, a C
# compiler for $arch at the glibc floor (for the C tests and the tests' C clients).
cross_build_env() {
    # Once per shell: the same PATH for the build and the tests, or cargo relinks everything.
    [ "${cross_build_env_done:-}" != "$arch" ] || return 0
    cross_build_env_done=$arch
    mkdir -p "$tools/bin"
    local zig
    zig=$("$cross_python" -c 'import os, ziglang; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))')
    # (Written only when missing: two architectures' scripts may run at once.)
    [ "$(readlink "$tools/bin/zig")" = "$zig" ] || ln -sf "$zig" "$tools/bin/zig"
    cc=$tools/bin/cc-$arch
    [ -x "$cc" ] || {
        printf '#!/bin/sh\nexec "%s" cc -target %s.%s "$@"\n' "$zig" "$zig_target" "$glibc_floor" >"$cc.new"
        chmod +x "$cc.new"
        mv "$cc.new" "$cc"
    }
    zigbuild=$(command -v cargo-zigbuild)
    export PATH=$tools/bin:/usr/bin:$PATH RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc CARGO=/usr/bin/cargo
    # No debug info: the packages ship stripped files, and it shortens every link.
    export CARGO_PROFILE_RELEASE_DEBUG=0
    export PKG_CONFIG_ALLOW_CROSS=1 PKG_CONFIG_SYSROOT_DIR=$root
    export PKG_CONFIG_LIBDIR=$root/usr/lib/$multiarch/pkgconfig:$root/usr/share/pkgconfig
}

# The Debian 11 root of $arch: the packages below and everything they depend on, downloaded with
# a private apt configuration (the machine's own mirror, the bullseye suite) and unpacked with
# dpkg -x. Nothing runs inside it but the programs under test, through qemu-user.
cross_root() {
    [ -f "$root/.complete" ] && return 0
    # One maker per root: the test command's stages may ask for the same root at once.
    mkdir -p "$top/target/roots"
    (
        flock 9
        cross_root_make
    ) 9>"$top/target/roots/.lock-$arch"
}

cross_root_make() {
    [ -f "$root/.complete" ] && return 0
    local mirror apt=$top/target/roots/apt-$arch
    mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n 1)
    [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { print $i; exit } }' /etc/apt/sources.list)
    [ -n "$mirror" ] || { echo "cross_root: no Debian mirror in the machine's apt sources" >&2; return 1; }
    rm -rf "$apt" "$root"
    mkdir -p "$apt/etc/apt/apt.conf.d" "$apt/etc/apt/preferences.d" "$apt/etc/apt/sources.list.d" \
        "$apt/var/lib/apt/lists/partial" "$apt/var/cache/apt/archives/partial" "$apt/var/lib/dpkg" "$root"
    touch "$apt/var/lib/dpkg/status"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror bullseye main" >"$apt/etc/apt/sources.list"
    local opts=(-o "Dir=$apt" -o "Dir::State::status=$apt/var/lib/dpkg/status" -o "APT::Architecture=$arch"
        -o "APT::Architectures::=$arch" -o "Acquire::Languages=none" -o "Dir::Etc::Trusted=/dev/null"
        -o "Dir::Etc::TrustedParts=/dev/null" -o "APT::Install-Recommends=false" -o "Debug::NoLocking=true")
    apt-get "${opts[@]}" update -qq
    apt-get "${opts[@]}" install -y -qq --download-only base-files libc6 libjpeg62-turbo libjpeg62-turbo-dev \
        libjpeg-turbo-progs libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev >/dev/null
    local deb
    for deb in "$apt"/var/cache/apt/archives/*.deb; do dpkg -x "$deb" "$root"; done
    # Absolute links (libc6-dev's libm.so -> /lib/...) would point out of the root: make them
    # relative, as for any sysroot, so a compiler given --sysroot finds what they name.
    local link
    while IFS= read -r -d '' link; do
        ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$root$(readlink "$link")")" "$link"
    done < <(find "$root" -type l -lname '/*' -print0)
    grep -q "^11" "$root/etc/debian_version" || { echo "cross_root: $root is not Debian 11" >&2; return 1; }
    touch "$root/.complete"
}

# Debian's cross gcc for $arch with the Debian 11 root as its sysroot, as a board's own gcc
# builds (-static-libgcc: this gcc's libgcc_s is newer than the root's glibc; the root's library
# directories before the toolchain's own, which hold Debian 12's glibc).
cross_gcc() {
    "$multiarch-gcc" --sysroot="$root" -static-libgcc -L"$root/usr/lib/$multiarch" -L"$root/lib/$multiarch" "$@"
}

# The files of $out that are shipped, and their glibc floor.
cross_check_floor() {
    local f files=()
    for f in libamljpeg.so libamljpeg_preload.so libgstamljpeg.so libjpegenc_emu.so amljpeg jpegenc-emu-hw; do
        files+=("$out/$f")
    done
    "$top/scripts/check-glibc.sh" "$glibc_floor" "${files[@]}"
}

# The workspace for $arch, and the test targets the arguments select (cargo test's package and
# target options), so that the libraries and programs the tests run are the very files that get
# packaged: `cargo build` leaves them in $out, `cargo test --no-run` then compiles only what the
# tests add (the GStreamer element's tests are not among them: they need a GStreamer of the
# target to run).
cross_build() {
    local zt=$triple.$glibc_floor
    "$zigbuild" zigbuild --release --workspace --target "$zt"
    [ $# -eq 0 ] || "$zigbuild" test --no-run --release "$@" --target "$zt"
}
