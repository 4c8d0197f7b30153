"""Every JPEG is a JFIF file with the caller's EXIF, ICC profile and comment, on every backend:
Pillow reads them back, and headless Chromium shows the hardware's JPEG as Pillow decodes it
(turned as its EXIF orientation says)."""
import io
import os
import shutil
import subprocess
import tempfile

import numpy as np
import pytest
from PIL import Image, ImageOps

from conftest import TESTDATA, emulated

PHOTO = os.path.join(TESTDATA, "chelsea.png")

CLIENT = r"""
import sys
from PIL import Image, ImageCms
import amljpeg
out = sys.argv[1]
img = Image.open(sys.argv[2]).convert("RGB")
exif = Image.Exif()
exif[0x0112] = 6  # orientation: turn 90 degrees clockwise to show
exif[0x0132] = "2026:11:30 06:00:00"
icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
for backend in ("hardware", "software"):
    with amljpeg.Encoder(backend=backend) as enc:
        enc.set_markers(comment="the handle's own")
        data = enc.encode(img, quality=85, exif=exif.tobytes(), icc_profile=icc,
                          comment="shot on an Odroid")
        assert enc.last_backend == backend, enc.last_backend
        plain = enc.encode(img, quality=85)
    open("%s/%s.jpg" % (out, backend), "wb").write(data)
    open("%s/%s-plain.jpg" % (out, backend), "wb").write(plain)
open(out + "/icc", "wb").write(icc)
print("null")
"""


def header(jpeg):
    """The JPEG's bytes up to the end of its SOS segment."""
    at = 2
    while True:
        assert jpeg[at] == 0xFF, at
        length = int.from_bytes(jpeg[at + 2:at + 4], "big")
        if jpeg[at + 1] == 0xDA:
            return jpeg[:at + 2 + length]
        at += 2 + length


def psnr(a, b):
    mse = np.mean((np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) ** 2)
    return 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


@pytest.fixture(scope="module", params=["E", "J"])
def encoded(request):
    """(directory, generation): each backend's JPEG of the photo, under the emulated driver."""
    with tempfile.TemporaryDirectory() as out:
        emulated(CLIENT, [out, PHOTO], timeout=120, JPEGENC_EMU_GEN=request.param)
        yield out, request.param


def read(directory, name):
    with open(os.path.join(directory, name), "rb") as f:
        return f.read()


def test_pillow_reads_exif_icc_and_comment_from_every_backend(encoded):
    out, generation = encoded
    icc = read(out, "icc")
    for backend in ("hardware", "software"):
        data = read(out, backend + ".jpg")
        assert data[:11] == b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", (generation, backend)
        with Image.open(io.BytesIO(data)) as im:
            assert im.info["jfif_version"] == (1, 1)
            assert im.getexif()[0x0112] == 6
            assert im.getexif()[0x0132] == "2026:11:30 06:00:00"
            assert im.info["icc_profile"] == icc
            # Pillow keeps the last COM segment: the call's, after the handle's own.
            assert im.info["comment"] == b"shot on an Odroid"
            assert im.layers == 3
        with Image.open(io.BytesIO(read(out, backend + "-plain.jpg"))) as im:
            assert im.info["comment"] == b"the handle's own", "per-call markers end with the call"
            assert "icc_profile" not in im.info and not im.getexif()
    # The same file start, byte for byte: SOI, APP0, the markers, libjpeg-turbo's tables.
    hw, sw = read(out, "hardware.jpg"), read(out, "software.jpg")
    assert header(hw) == header(sw), generation
    photo = Image.open(PHOTO).convert("RGB")
    ours = psnr(Image.open(io.BytesIO(hw)).convert("RGB"), photo)
    theirs = psnr(Image.open(io.BytesIO(sw)).convert("RGB"), photo)
    assert ours > theirs - 1.0, (generation, ours, theirs)


def test_chromium_shows_the_hardware_jpeg(encoded):
    out, generation = encoded
    browser = shutil.which("chromium")
    if browser is None:
        pytest.fail("chromium is missing: install Debian's chromium (scripts/setup.sh does)")
    page = os.path.join(out, "page.html")
    with open(page, "w") as f:
        f.write('<!doctype html><body style="margin:0;background:#000">'
                '<img src="hardware.jpg" style="display:block"></body>')
    shot = os.path.join(out, "shot.png")
    run = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--user-data-dir=" + os.path.join(out, "profile"),
         "--hide-scrollbars", "--force-color-profile=srgb", "--force-device-scale-factor=1",
         "--window-size=600,600", "--screenshot=" + shot, "file://" + page],
        capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and os.path.exists(shot), run.stderr[-2000:]
    with Image.open(io.BytesIO(read(out, "hardware.jpg"))) as im:
        expected = ImageOps.exif_transpose(im).convert("RGB")
    assert expected.size == (300, 451), "orientation 6 turns the 451x300 photo"
    shown = Image.open(shot).convert("RGB").crop((0, 0) + expected.size)
    p = psnr(shown, expected)
    print("chromium against Pillow, %s: %.1f dB" % (generation, p))
    assert p > 35, (generation, p)
    # Beside the picture the page stays black: the browser drew the whole JPEG, no more.
    beside = np.asarray(Image.open(shot).convert("RGB"))[:451, 310:]
    assert beside.max() < 16


def test_a_bad_segment_list_is_refused_and_changes_nothing():
    import amljpeg
    img = np.zeros((32, 48, 3), dtype=np.uint8)
    good = amljpeg.markers(comment="kept")
    with amljpeg.Encoder(backend="software") as enc:
        enc.set_markers(good)
        wrong = bytearray(good)
        wrong[3] += 1
        for bad in (bytes(wrong), b"\xff\xe0\x00\x02", good + b"\xff", b"\xff\xdb\x00\x02"):
            with pytest.raises(amljpeg.AmlJpegError) as err:
                enc.set_markers(bad)
            assert err.value.status == amljpeg.ERR_INVALID_ARGUMENT
            assert "marker segments" in str(err.value)
            data = enc.encode(img)
            assert data[20:20 + len(good)] == good
        with pytest.raises(ValueError):
            enc.encode(img, comment="x" * 70000)
        assert enc.encode(img)[20:20 + len(good)] == good
        enc.set_markers()
        assert enc.encode(img)[20:22] == b"\xff\xdb"
