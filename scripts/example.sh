#!/usr/bin/env bash
# The main job: encode a photograph to JPEG with the amljpeg CLI. Where no board is attached
# this uses the software backend (AUTO falls back). Output: target/example/chelsea.jpg
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --workspace
mkdir -p target/example
input=${1:-testdata/chelsea.png}
target/release/amljpeg info
target/release/amljpeg encode "$input" target/example/chelsea.jpg -q 90
