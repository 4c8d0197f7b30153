"""The ctypes wrapper on the hardware backend, against the emulated /dev/jpegenc.

The emulator must be preloaded when a process starts, so each check runs a small client
script in a child Python with LD_PRELOAD set."""
import json
import os
import subprocess
import sys
import tempfile

import pytest

from conftest import HERE, TESTDATA

ROOT = os.path.join(HERE, "..", "..")
EMULATOR = os.environ.get("JPEGENC_EMU_LIB", os.path.join(ROOT, "target", "release", "libjpegenc_emu.so"))

CLIENT = r"""
import io, json, sys
import numpy as np
from PIL import Image
sys.path.insert(0, sys.argv[1])
import amljpeg

def psnr(a, b):
    mse = np.mean((np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) ** 2)
    return 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)

results = []
with amljpeg.Encoder(backend="hardware") as enc:
    for path in sys.argv[2:]:
        img = Image.open(path).convert("RGB")
        data = enc.encode(img, quality=90)
        assert enc.last_backend == "hardware"
        ours = Image.open(io.BytesIO(data)).convert("RGB")
        ref = io.BytesIO()
        img.save(ref, "JPEG", quality=90, subsampling=2)
        theirs = Image.open(io.BytesIO(ref.getvalue())).convert("RGB")
        results.append([psnr(ours, img), psnr(theirs, img)])
print(json.dumps(results))
"""


def run_client(paths, **env):
    if not os.path.exists(EMULATOR):
        pytest.fail("libjpegenc_emu.so is not built (cargo build --release --workspace)")
    with tempfile.TemporaryDirectory() as state:
        child_env = dict(os.environ, LD_PRELOAD=EMULATOR, JPEGENC_EMU_STATE_DIR=state,
                         JPEGENC_EMU_STATS=os.path.join(state, "stats.json"), JPEGENC_EMU_INIT_MS="0")
        child_env.update(env)
        out = subprocess.run([sys.executable, "-c", CLIENT, os.path.join(HERE, "..")] + paths,
                             env=child_env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        with open(os.path.join(state, "stats.json")) as f:
            return json.loads(out.stdout), json.load(f)


@pytest.mark.parametrize("generation,output_size", [("E", "total"), ("E", "payload"), ("J", "payload")])
def test_hardware_photos_within_1db_of_libjpeg_turbo(generation, output_size):
    names = ["chelsea.png", "coffee.png", "astronaut.png", "logo.png", "brick.png"]
    results, stats = run_client([os.path.join(TESTDATA, n) for n in names], JPEGENC_EMU_GEN=generation,
                                JPEGENC_EMU_OUTPUT_SIZE=output_size)
    for name, (ours, theirs) in zip(names, results):
        assert ours > theirs - 1.0, (name, ours, theirs)
    assert stats["new_cmds"] == len(names), stats
    assert stats["stale_input_jobs"] == 0


def test_no_device_is_a_clear_error():
    import amljpeg
    with pytest.raises(amljpeg.AmlJpegError) as err:
        amljpeg.Encoder(device="/nonexistent/jpegenc", backend="hardware")
    assert err.value.status == amljpeg.ERR_NO_DEVICE
    assert "nonexistent" in str(err.value)
