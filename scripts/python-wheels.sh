#!/usr/bin/env bash
# The Python wheels a board's pip installs, one per architecture, each carrying the library
# that the architecture's Debian package ships (the same file, at the glibc 2.17 floor):
# amljpeg-<version>-py3-none-manylinux2014_{x86_64,aarch64,armv7l}.whl (any Python 3: the
# library is loaded with ctypes). auditwheel must agree with each tag.
#   scripts/python-wheels.sh DIST      (after the builds of scripts/release.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/cross.sh
source scripts/cross.sh
dist=$(cd "${1:?usage: scripts/python-wheels.sh DIST}" && pwd)
python=$cross_python
"$python" -c 'import auditwheel' 2>/dev/null || "$python" -m pip install -q --disable-pip-version-check "auditwheel==6.8.2"
for arch in amd64 arm64 armhf; do
    cross_env $arch
    case $arch in
    amd64) platform=manylinux2014_x86_64 ;;
    arm64) platform=manylinux2014_aarch64 ;;
    armhf) platform=manylinux2014_armv7l ;;
    esac
    [ -f "$out/libamljpeg.so" ] || { echo "$out/libamljpeg.so is not built: run scripts/release.sh" >&2; exit 1; }
    wheel=$("$python" - "$out/libamljpeg.so" "$platform" "$dist" <<'PY'
import base64, hashlib, os, subprocess, sys, tomllib, zipfile

library, platform, dist = sys.argv[1:]
project = tomllib.load(open("python/pyproject.toml", "rb"))["project"]
name, version = project["name"], project["version"]
tag = f"py3-none-{platform}"
info = f"{name}-{version}.dist-info"
metadata = [
    "Metadata-Version: 2.4",
    f"Name: {name}",
    f"Version: {version}",
    f"Summary: {project['description']}",
    f"License-Expression: {project['license']}",
    f"Requires-Python: {project['requires-python']}",
    *(f"Classifier: {c}" for c in project["classifiers"]),
]
for extra, requirements in project.get("optional-dependencies", {}).items():
    metadata.append(f"Provides-Extra: {extra}")
    metadata += [f'Requires-Dist: {r}; extra == "{extra}"' for r in requirements]
metadata += ["Description-Content-Type: text/markdown", "", open("python/README.md").read()]
# The library stripped as the Debian package ships it.
strip = {"manylinux2014_x86_64": "strip", "manylinux2014_aarch64": "aarch64-linux-gnu-strip",
         "manylinux2014_armv7l": "arm-linux-gnueabihf-strip"}[platform]
stripped = os.path.join(dist, f".libamljpeg-{platform}.so")
subprocess.run([strip, "--strip-unneeded", "-o", stripped, library], check=True)
files = {}
for entry in sorted(os.listdir("python/amljpeg")):
    if entry.endswith(".py") or entry == "py.typed":
        files[f"amljpeg/{entry}"] = open(f"python/amljpeg/{entry}", "rb").read()
files["amljpeg/libamljpeg.so"] = open(stripped, "rb").read()
os.unlink(stripped)
files[f"{info}/METADATA"] = ("\n".join(metadata)).encode()
files[f"{info}/WHEEL"] = f"Wheel-Version: 1.0\nGenerator: amljpeg release\nRoot-Is-Purelib: false\nTag: {tag}\n".encode()
files[f"{info}/top_level.txt"] = b"amljpeg\n"
record = []
for path, data in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    record.append(f"{path},sha256={digest},{len(data)}")
record.append(f"{info}/RECORD,,")
files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
wheel = os.path.join(dist, f"{name}-{version}-{tag}.whl")
with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as z:
    for path, data in files.items():
        entry = zipfile.ZipInfo(path, date_time=(2026, 1, 1, 0, 0, 0))
        entry.external_attr = (0o755 if path.endswith(".so") else 0o644) << 16
        entry.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(entry, data)
print(wheel)
PY
)
    # auditwheel reads the wheel's ELF files and names the policy they meet.
    shown=$("$python" -m auditwheel show "$wheel")
    echo "$shown" | tr '\n' ' ' | grep -q "consistent with the following platform tag: \"manylinux_2_17_${platform#manylinux2014_}\"" \
        || { echo "auditwheel does not agree with $platform for $wheel:"; echo "$shown"; exit 1; } >&2
    echo "$wheel (auditwheel: manylinux_2_17)"
done
