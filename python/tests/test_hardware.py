"""The ctypes wrapper on the hardware backend, against the emulated /dev/jpegenc.

The emulator must be preloaded when a process starts, so each check runs a small client
script in a child Python with LD_PRELOAD set."""
import os

import pytest

from conftest import TESTDATA, emulated


CLIENT = r"""
import io, json, sys
import numpy as np
from PIL import Image
import amljpeg

def psnr(a, b):
    mse = np.mean((np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) ** 2)
    return 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)

results = []
with amljpeg.Encoder(backend="hardware") as enc:
    for path in sys.argv[1:]:
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
    return emulated(CLIENT, paths, **env)


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


TWO_HANDLES = r"""
import sys, time
import numpy as np
import amljpeg
img = (np.arange(64 * 48 * 3) % 251).astype(np.uint8).reshape(48, 64, 3)
t = time.monotonic()
a = amljpeg.Encoder(backend="hardware")
a.encode(img)
b = amljpeg.Encoder(backend="hardware")
b.encode(img)
a.encode(img)
assert a.last_backend == b.last_backend == "hardware"
print("%.3f" % (time.monotonic() - t))
"""


@pytest.mark.parametrize("generation", ["E", "J"])
def test_two_hardware_encoders_in_one_thread_do_not_hang(generation):
    """The day-one hang: encode() returns a copy, so the device is free for the next handle."""
    elapsed, _ = emulated(TWO_HANDLES, [], timeout=60, JPEGENC_EMU_GEN=generation)
    assert elapsed < 10, elapsed


def test_encode_into_refuses_what_it_cannot_write():
    import numpy as np
    import amljpeg
    img = np.zeros((16, 16, 3), dtype=np.uint8)
    with amljpeg.Encoder(backend="software") as enc:
        frozen = np.zeros(4096, dtype=np.uint8)
        frozen.flags.writeable = False
        with pytest.raises(ValueError):
            enc.encode_into(img, frozen)
        strided = np.zeros(8192, dtype=np.uint8)[::2]
        with pytest.raises(ValueError):
            enc.encode_into(img, strided)
        with pytest.raises((ValueError, TypeError)):
            enc.encode_into(img, b"\0" * 4096)
        out = bytearray(4096)
        n = enc.encode_into(img, out)
        assert out[:2] == b"\xff\xd8" and out[n - 2:n] == b"\xff\xd9"


HANDLE_PER_FRAME = r"""
import json
import numpy as np
import amljpeg
img = (np.arange(64 * 48 * 3) % 251).astype(np.uint8).reshape(48, 64, 3)
for _ in range(30):
    with amljpeg.Encoder(backend="hardware") as enc:
        enc.encode(img)
print(json.dumps(0))
"""


def test_a_handle_per_frame_opens_the_device_once():
    """The device lingers after the last handle closes: one open for 30 handles."""
    _, stats = emulated(HANDLE_PER_FRAME, [])
    assert stats["new_cmds"] == 30 and stats["opens"] == 1, stats
    assert stats["ioctls"]["CONFIG_INIT"] == 1
    _, stats = emulated(HANDLE_PER_FRAME.replace("import amljpeg\n", "import amljpeg\namljpeg.set_linger(0)\n"), [])
    assert stats["opens"] == 30, stats
