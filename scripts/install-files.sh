# Sourced by scripts/install.sh and scripts/package-deb.sh: the files both of them write, written
# one way (run from the checkout's root).

# pc_file NAME PREFIX LIBDIR VERSION PRIVATE_LIBS: pkgconfig/NAME.pc.in filled in, on stdout.
pc_file() {
    sed -e "s|@PREFIX@|$2|" -e "s|@LIBDIR@|$3|" -e "s|@VERSION@|$4|" -e "s|@PRIVATE_LIBS@|$5|" \
        "pkgconfig/$1.pc.in"
}

# wrapper FILE USAGE PRELOAD COMMENT...: a script that runs its arguments with LD_PRELOAD set to
# PRELOAD (shell words, expanded when it runs).
wrapper() {
    local file=$1 usage=$2 preload=$3 line
    shift 3
    {
        echo '#!/bin/sh'
        for line in "$@"; do echo "# $line"; done
        echo 'if [ $# -eq 0 ] || [ "$1" = --help ]; then'
        echo "    echo \"usage: $usage\" >&2"
        echo '    exit 2'
        echo 'fi'
        echo "LD_PRELOAD=\"$preload\" exec \"\$@\""
    } >"$file"
    chmod 0755 "$file"
}

# preload_wrapper FILE DROPIN: `amljpeg-preload`, which puts the drop-in installed at DROPIN in
# front of a program's libjpeg (and of any LD_PRELOAD already set).
preload_wrapper() {
    wrapper "$1" "amljpeg-preload PROGRAM [ARGUMENT...]" "$2"'${LD_PRELOAD:+ $LD_PRELOAD}' \
        "Runs a program written for libjpeg with its JPEG compression on the hardware encoder: the" \
        "libamljpeg drop-in goes in front of the program's libjpeg (the program is not rebuilt)." \
        "AMLJPEG_PRELOAD_LOG=1 says on stderr what happened to each image."
}
