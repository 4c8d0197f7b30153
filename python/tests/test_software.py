"""The ctypes wrapper with the software backend: photographs, arrays, bad arguments."""
import io
import os

import numpy as np
import pytest
from PIL import Image

import amljpeg
from conftest import TESTDATA

PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "logo.png", "brick.png"]


def psnr(a, b):
    mse = np.mean((np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) ** 2)
    return 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def pillow_jpeg(img, quality):
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality, subsampling=2)  # 2 = 4:2:0
    return out.getvalue()


@pytest.mark.parametrize("name", PHOTOS)
def test_photo_matches_libjpeg_turbo(name):
    img = Image.open(os.path.join(TESTDATA, name))
    img = img.convert("L") if img.mode in ("L", "I;16") else img.convert("RGB")
    with amljpeg.Encoder(backend="software") as enc:
        data = enc.encode(img, quality=90)
        assert enc.last_backend == "software"
    ours = Image.open(io.BytesIO(data))
    ours.load()
    assert ours.size == img.size
    assert ours.mode == img.mode
    theirs = Image.open(io.BytesIO(pillow_jpeg(img, 90)))
    p_ours, p_theirs = psnr(ours, img), psnr(theirs, img)
    assert p_ours > p_theirs - 0.5, (p_ours, p_theirs)


def test_numpy_arrays_of_every_shape():
    rng = np.random.default_rng(1)
    base = np.clip(np.add.outer(np.arange(45), np.arange(77)) * 2, 0, 255).astype(np.uint8)
    rgb = np.dstack([base, base[::-1], np.full_like(base, 90)])
    with amljpeg.Encoder(backend="software") as enc:
        for arr in (rgb, np.dstack([rgb, rng.integers(0, 255, base.shape, dtype=np.uint8)]), base):
            img = Image.open(io.BytesIO(enc.encode(arr, quality=95)))
            assert img.size == (77, 45)
            decoded = np.asarray(img.convert("RGB" if arr.ndim == 3 else "L"))
            assert psnr(decoded, arr[..., :3] if arr.ndim == 3 else arr) > 33
        # A non-contiguous view is copied, not misread.
        view = rgb[:, ::2]
        img = Image.open(io.BytesIO(enc.encode(view)))
        assert img.size == (39, 45)


def test_raw_nv12_and_encode_into():
    w, h = 64, 32
    y = np.tile(np.arange(w, dtype=np.uint8) * 3, (h, 1))
    uv = np.full((h // 2, w), 128, dtype=np.uint8)
    frame = np.concatenate([y, uv]).tobytes()
    with amljpeg.Encoder(backend="software") as enc:
        data = enc.encode(frame, width=w, height=h, format="nv12", quality=90)
        img = Image.open(io.BytesIO(data)).convert("L")
        assert psnr(np.asarray(img), y) > 35
        out = bytearray(enc.max_output_size(w, h))
        n = enc.encode_into(frame, out, width=w, height=h, format="nv12", quality=90)
        assert bytes(out[:n]) == data


@pytest.mark.parametrize("kwargs", [
    dict(quality=0), dict(quality=101), dict(width=0), dict(height=0), dict(format=42),
    dict(stride=5), dict(width=100000), dict(height=70),
])
def test_bad_arguments_are_refused_and_the_handle_keeps_working(kwargs):
    frame = bytes(8 * 8 * 3)
    args = dict(width=8, height=8, format="rgb24", quality=90)
    args.update(kwargs)
    with amljpeg.Encoder(backend="software") as enc:
        with pytest.raises(amljpeg.AmlJpegError) as err:
            enc.encode(frame, **args)
        assert err.value.status == amljpeg.ERR_INVALID_ARGUMENT
        assert str(err.value)
        assert enc.encode(frame, width=8, height=8, format="rgb24")[:2] == b"\xff\xd8"


def test_small_output_buffer_and_bad_backend():
    with amljpeg.Encoder(backend="software") as enc:
        with pytest.raises(amljpeg.AmlJpegError) as err:
            enc.encode_into(bytes(16 * 16 * 3), bytearray(10), width=16, height=16, format="rgb24")
        assert err.value.status == amljpeg.ERR_BUFFER_TOO_SMALL
    with pytest.raises(amljpeg.AmlJpegError) as err:
        amljpeg.Encoder(backend=9)
    assert err.value.status == amljpeg.ERR_INVALID_ARGUMENT
    with pytest.raises(amljpeg.AmlJpegError) as err:
        amljpeg.Encoder(device="/nonexistent/jpegenc", backend="hardware")
    assert err.value.status == amljpeg.ERR_NO_DEVICE


def test_quant_tables():
    """Tables equal to a quality's work in software too; other tables are refused there."""
    img = Image.open(os.path.join(TESTDATA, "chelsea.png")).convert("RGB")
    ref = Image.open(io.BytesIO(pillow_jpeg(img, 60)))
    q60 = ref.quantization  # libjpeg's quality-60 tables (Pillow lists them in natural order)
    with amljpeg.Encoder(backend="software") as enc:
        enc.set_quant_tables(q60[0], q60[1])
        ours = Image.open(io.BytesIO(enc.encode(img, quality=5)))
        assert ours.quantization == q60
        enc.set_quant_tables([2 + i for i in range(64)], [3] * 64)
        with pytest.raises(amljpeg.AmlJpegError):
            enc.encode(img)
        with pytest.raises(amljpeg.AmlJpegError):
            enc.set_quant_tables([0] * 64, [1] * 64)
        with pytest.raises(ValueError):
            enc.set_quant_tables([1] * 64)
        enc.set_quant_tables()
        assert Image.open(io.BytesIO(enc.encode(img, quality=60))).quantization == q60
        enc.set_busy_wait(0)
