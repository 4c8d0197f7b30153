#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build and test amljpeg. Idempotent.
set -euo pipefail
apt_packages=(cmake nasm pkg-config gcc libjpeg62-turbo-dev libjpeg-turbo-progs libturbojpeg0 jpeginfo valgrind chromium
    libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-tools gstreamer1.0-plugins-base
    gstreamer1.0-plugins-good)
missing=()
for p in "${apt_packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! python3 -c 'import PIL, numpy, pytest' 2>/dev/null; then
    python3 -m pip install -q pillow numpy pytest
fi
rustup component list --installed 2>/dev/null | grep -q clippy || rustup component add clippy rustfmt 2>/dev/null || true
