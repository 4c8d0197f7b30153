#!/usr/bin/env bash
# The main job: encode a photograph to JPEG with the amljpeg CLI. Where no board is attached
# this uses the software backend (AUTO falls back).
#   scripts/example.sh [IMAGE]     (PNG, PPM or PGM; default testdata/chelsea.png)
# Output: target/example/<the image's name>.jpg
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --workspace
mkdir -p target/example
input=${1:-testdata/chelsea.png}
name=$(basename "$input")
target/release/amljpeg info
target/release/amljpeg encode "$input" "target/example/${name%.*}.jpg" -q 90
