#!/usr/bin/env bash
# The Python package as a user gets it: a fresh virtualenv (not the system's site-packages),
# the package built from this checkout into a wheel (the library inside) and installed, the
# packages the tests and the compatibility layers are checked against (PyTurboJPEG 1.x on the
# system's libturbojpeg, simplejpeg), then pytest, from outside the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# One build: pip builds the package from this checkout into a wheel (what `pip install ./python`
# does before it installs it), and both virtualenvs install that wheel.
wheels=$root/target/python-wheels
rm -rf "$wheels"
python3 -m pip --disable-pip-version-check -q wheel --no-deps -w "$wheels" "$root/python"
venv=$root/target/python-venv
rm -rf "$venv"
python3 -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
"${pip[@]}" install "$wheels"/amljpeg-*.whl
"${pip[@]}" install pytest numpy pillow "PyTurboJPEG<2" simplejpeg
# The wheel a board would install: a platform wheel for any Python 3 (the library is loaded with
# ctypes), carrying the library and the type information.
platform=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_platform().replace("-", "_").replace(".", "_"))')
wheel="$wheels/amljpeg-$("$venv/bin/python" -c 'import amljpeg; print(amljpeg.__version__)')-py3-none-$platform.whl"
[ -f "$wheel" ] || { echo "no $wheel; built: $(ls "$wheels")" >&2; exit 1; }
"$venv/bin/python" - "$wheel" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
assert any(n.startswith("amljpeg/libamljpeg") and n.endswith(".so") for n in names), names
assert "amljpeg/py.typed" in names, names
print("wheel:", sys.argv[1].rsplit("/", 1)[1])
PY
cd "$venv"
"$venv/bin/python" -m pytest -q -p no:cacheprovider "$root/python/tests"
# The compatibility layers again, against PyTurboJPEG 2.x, which needs libjpeg-turbo 3's
# TurboJPEG (built from the copy the turbojpeg crate vendors).
cd "$root"
lib3=$(scripts/libjpeg-turbo3.sh turbojpeg)
venv2=$root/target/python-venv-pyturbojpeg2
rm -rf "$venv2"
python3 -m venv "$venv2"
pip2=("$venv2/bin/python" -m pip --disable-pip-version-check -q)
"${pip2[@]}" install "$wheel"
"${pip2[@]}" install pytest numpy pillow "PyTurboJPEG>=2" simplejpeg
cd "$venv2"
AMLJPEG_TEST_TURBOJPEG_LIB=$lib3 "$venv2/bin/python" -m pytest -q -p no:cacheprovider \
    "$root/python/tests/test_compat.py"
