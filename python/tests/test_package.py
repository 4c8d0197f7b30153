"""The installed package: where it came from, its version, amljpeg.encode on every kind of
input (numpy arrays of any strides, PIL images in any mode, raw buffers), its errors, threads
and batches. Software backend; test_hardware.py and friends cover the device."""
import io
import os
import re
import threading

import numpy as np
import pytest
from PIL import Image

import amljpeg
from conftest import HERE, TESTDATA

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def psnr(a, b):
    mse = np.mean((np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) ** 2)
    return 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def pillow(img, quality=85, subsampling=2):
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality, subsampling=subsampling)
    return Image.open(io.BytesIO(out.getvalue()))


def decoded(data):
    return Image.open(io.BytesIO(data))


PHOTO = Image.open(os.path.join(TESTDATA, "astronaut.png")).convert("RGB")


def test_the_installed_package_is_what_is_tested():
    package = os.path.dirname(os.path.abspath(amljpeg.__file__))
    assert not package.startswith(ROOT + os.sep + "python"), package
    library = amljpeg._native.find_library()
    assert os.path.dirname(library) == package, "the package's own library, not " + library
    assert "AMLJPEG_LIB" not in os.environ
    assert os.path.exists(os.path.join(package, "py.typed"))
    cargo = open(os.path.join(ROOT, "Cargo.toml")).read()
    version = re.search(r'\[workspace\.package\][^\[]*?version = "([^"]+)"', cargo).group(1)
    assert amljpeg.__version__ == amljpeg.version() == version
    from importlib.metadata import version as installed
    assert installed("amljpeg") == version


def test_numpy_arrays_of_any_strides():
    rgb = np.asarray(PHOTO)
    reference = psnr(pillow(PHOTO), PHOTO)
    cases = {
        "contiguous": rgb,
        "a crop (rows apart)": rgb[10:410, 20:420],
        "every other pixel": rgb[::2, ::2],
        "upside down": rgb[::-1],
        "fortran order": np.asfortranarray(rgb),
        "channels reversed, as BGR": rgb[:, :, ::-1],
    }
    for name, array in cases.items():
        data = amljpeg.encode(array, quality=85, backend="software")
        image = decoded(data)
        expected = Image.fromarray(np.ascontiguousarray(array))
        assert image.size == expected.size, name
        theirs = psnr(pillow(expected), expected)
        assert psnr(image.convert("RGB"), expected) > theirs - 0.5, name
    # OpenCV's BGR, said so: the picture comes out right.
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    data = amljpeg.encode(bgr, format="bgr24", backend="software")
    assert psnr(decoded(data).convert("RGB"), PHOTO) > reference - 0.5
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 7, np.uint8)])
    assert psnr(decoded(amljpeg.encode(rgba, backend="software")).convert("RGB"), PHOTO) > reference - 0.5
    grey = np.asarray(PHOTO.convert("L"))
    image = decoded(amljpeg.encode(grey[:, ::3], backend="software"))
    assert image.mode == "L" and image.size == (grey.shape[1] // 3 + 1, grey.shape[0])
    assert decoded(amljpeg.encode(grey[:, :, None], backend="software")).mode == "L"


def test_pil_images_in_every_mode_as_pillow_saves_them():
    for mode in ["RGB", "RGBA", "RGBX", "L", "1", "P", "CMYK", "YCbCr", "LA", "I;16", "I", "F", "HSV"]:
        image = PHOTO.convert(mode) if mode not in ("I;16", "I", "F") else PHOTO.convert("L").convert(mode)
        data = amljpeg.encode(image, quality=85, backend="software")
        ours = decoded(data)
        # What Pillow's own JPEG writer makes of the same image (it refuses RGBA, LA, I, F, P
        # and HSV; those are compared with their RGB or grey conversion).
        grey = mode in ("L", "1", "LA", "I;16", "I", "F")
        base = image.convert("L" if grey else "RGB") if mode not in ("RGB", "L", "CMYK", "YCbCr", "1") else image
        theirs = pillow(base)
        assert ours.mode == ("L" if grey else "RGB"), mode
        target = image.convert("L" if grey else "RGB")
        assert psnr(ours, target) > psnr(theirs.convert(ours.mode), target) - 0.5, mode


def test_raw_buffers_need_their_size_and_format():
    rgb = np.asarray(PHOTO)
    raw = rgb.tobytes()
    h, w = rgb.shape[:2]
    for buffer in (raw, bytearray(raw), memoryview(raw)):
        data = amljpeg.encode(buffer, width=w, height=h, format="rgb24", backend="software")
        assert decoded(data).size == (w, h)
    padded = np.zeros((h, w * 3 + 64), np.uint8)
    padded[:, : w * 3] = rgb.reshape(h, -1)
    data = amljpeg.encode(padded.tobytes(), width=w, height=h, format="rgb24", stride=w * 3 + 64,
                          backend="software")
    assert psnr(decoded(data), PHOTO) > 30
    with pytest.raises(ValueError):
        amljpeg.encode(raw, backend="software")


def test_errors_carry_the_status_and_detail():
    with pytest.raises(amljpeg.InvalidArgumentError) as err:
        amljpeg.encode(np.zeros((8, 8, 3), np.uint8), quality=0, backend="software")
    assert isinstance(err.value, ValueError) and isinstance(err.value, amljpeg.Error)
    assert err.value.status == amljpeg.ERR_INVALID_ARGUMENT
    assert "quality 0" in err.value.detail
    with pytest.raises(amljpeg.InvalidArgumentError):
        amljpeg.encode(b"\0" * 10, width=8, height=8, format="rgb24", backend="software")
    with pytest.raises(amljpeg.NoDeviceError) as err:
        amljpeg.Encoder(device="/nonexistent/jpegenc", backend="hardware")
    assert err.value.status == amljpeg.ERR_NO_DEVICE and "nonexistent" in str(err.value)
    with pytest.raises(ValueError):
        amljpeg.encode(np.zeros((8, 8, 2), np.uint8))
    with pytest.raises(ValueError):
        amljpeg.encode(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ValueError):
        amljpeg.encode(np.zeros((8, 8, 3), np.uint8), subsampling="411")
    with pytest.raises(ValueError):
        amljpeg.Encoder(backend="gpu")


def test_threads_share_the_module_and_a_handle():
    frames = [np.ascontiguousarray(np.roll(np.asarray(PHOTO), k * 13, axis=1)) for k in range(8)]
    expected = [amljpeg.encode(f, backend="software") for f in frames]
    results = {}
    shared = amljpeg.Encoder(backend="software")

    def work(k):
        for _ in range(5):
            assert amljpeg.encode(frames[k], backend="software") == expected[k]
            assert shared.encode(frames[k]) == expected[k]
        results[k] = True

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8
    shared.close()


def test_a_batch_gives_each_frame_its_own_jpeg():
    frames = [np.asarray(PHOTO.resize((w, h))) for w, h in [(64, 48), (320, 240), (33, 17)]]
    with amljpeg.Encoder(backend="software") as enc:
        jpegs = enc.encode_batch(frames, quality=80)
        assert [decoded(j).size for j in jpegs] == [(64, 48), (320, 240), (33, 17)]
        assert jpegs[1] == enc.encode(frames[1], quality=80)
        assert enc.last_input == "cpu"
