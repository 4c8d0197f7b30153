"""Encoder.encode_dmabuf: NV12 frames in a memfd (standing in for a camera's dma-buf), on the
emulated media_modules driver (the device reads 1280x720 itself), on E and J (the library maps
the buffer), and in software."""
import os

import pytest

from conftest import TESTDATA, emulated

CLIENT = r"""
import io, json, os, sys
import numpy as np
from PIL import Image
import amljpeg

def psnr(a, b):
    mse = np.mean((np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) ** 2)
    return 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)

def nv12(img):
    ycc = np.asarray(img.convert("YCbCr"), dtype=np.uint8)
    h, w = ycc.shape[:2]
    chroma = ycc[:, :, 1:].reshape(h // 2, 2, w // 2, 2, 2).mean(axis=(1, 3)).round()
    return ycc[:, :, 0].tobytes() + chroma.astype(np.uint8).tobytes()

photo = Image.open(sys.argv[2]).convert("RGB")
results = []
with amljpeg.Encoder(backend=sys.argv[1]) as enc:
    for w, h in [(1280, 720), (1920, 1080), (1280, 720)]:
        img = photo.resize((w, h))
        fd = os.memfd_create("frame")
        os.write(fd, nv12(img))
        data = enc.encode_dmabuf(fd, w, h, "nv12", quality=85)
        assert os.lseek(fd, 0, os.SEEK_CUR) == w * h * 3 // 2, "the descriptor is untouched"
        os.close(fd)
        ref = io.BytesIO()
        img.save(ref, "JPEG", quality=85, subsampling=2)
        ours = psnr(Image.open(io.BytesIO(data)).convert("RGB"), img)
        theirs = psnr(Image.open(io.BytesIO(ref.getvalue())).convert("RGB"), img)
        results.append([w, h, enc.last_input, enc.last_backend, ours, theirs])
print(json.dumps(results))
"""


def run(backend, **env):
    return emulated(CLIENT, [backend, os.path.join(TESTDATA, "astronaut.png")], **env)


@pytest.mark.parametrize("generation", ["MM", "E", "J"])
def test_nv12_frames_in_a_memfd_on_the_hardware(generation):
    results, stats = run("hardware", JPEGENC_EMU_GEN=generation)
    for w, h, path, backend, ours, theirs in results:
        assert backend == "hardware"
        assert ours > theirs - 1.0, (generation, w, h, ours, theirs)
        zero_copy = generation == "MM" and (w, h) == (1280, 720)
        assert path == ("dmabuf" if zero_copy else "cpu"), (generation, w, h, path)
    zero_copies = sum(1 for r in results if r[2] == "dmabuf")
    assert stats["dma_jobs"] == zero_copies == (2 if generation == "MM" else 0), stats
    assert stats["new_cmds"] == len(results)


def test_nv12_frames_in_a_memfd_in_software():
    results, stats = run("software")
    for w, h, path, backend, ours, theirs in results:
        assert (path, backend) == ("cpu", "software")
        # Ours starts from NV12 (chroma already halved), Pillow's from RGB: 1 dB, as above.
        assert ours > theirs - 1.0, (w, h, ours, theirs)
    assert stats.get("new_cmds", 0) == 0
