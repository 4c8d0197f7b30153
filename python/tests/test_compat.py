"""amljpeg.turbojpeg and amljpeg.simplejpeg against the real PyTurboJPEG and simplejpeg,
installed beside them: the same calls on the same inputs give pictures as good (0.5 dB in
software, 1 dB on the emulated hardware), the same errors, and the calls amljpeg does not make
are theirs. The test command runs this twice: with PyTurboJPEG 1.x on the system's
libturbojpeg 2.1, and with PyTurboJPEG 2.x on libjpeg-turbo 3's ($AMLJPEG_TEST_TURBOJPEG_LIB)."""
import io
import os

import numpy as np
import pytest
from PIL import Image

import turbojpeg as real_turbojpeg
import simplejpeg as real_simplejpeg
from amljpeg import simplejpeg, turbojpeg
from conftest import TESTDATA, emulated

PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png"]
# The libturbojpeg PyTurboJPEG loads (None: it finds the system's).
LIB = os.environ.get("AMLJPEG_TEST_TURBOJPEG_LIB")
PYTURBOJPEG_2 = real_turbojpeg.__version__.split(".")[0] >= "2"


def psnr(a, b):
    mse = np.mean((np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) ** 2)
    return 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def rgb(name):
    return np.asarray(Image.open(os.path.join(TESTDATA, name)).convert("RGB"))


def picture(jpeg):
    image = Image.open(io.BytesIO(jpeg))
    return np.asarray(image.convert("L" if image.mode == "L" else "RGB"))


def as_rgb(array, pixel_format):
    """The RGB (or grey) picture an array in `pixel_format` holds."""
    order = {turbojpeg.TJPF_RGB: [0, 1, 2], turbojpeg.TJPF_BGR: [2, 1, 0],
             turbojpeg.TJPF_BGRA: [2, 1, 0], turbojpeg.TJPF_XRGB: [1, 2, 3],
             turbojpeg.TJPF_RGBX: [0, 1, 2]}
    return array if pixel_format == turbojpeg.TJPF_GRAY else array[:, :, order[pixel_format]]


def in_format(picture_rgb, pixel_format):
    if pixel_format == turbojpeg.TJPF_GRAY:
        return np.asarray(Image.fromarray(picture_rgb).convert("L"))
    pad = np.full(picture_rgb.shape[:2] + (1,), 255, np.uint8)
    return np.ascontiguousarray({
        turbojpeg.TJPF_RGB: picture_rgb,
        turbojpeg.TJPF_BGR: picture_rgb[:, :, ::-1],
        turbojpeg.TJPF_BGRA: np.concatenate([picture_rgb[:, :, ::-1], pad], axis=2),
        turbojpeg.TJPF_XRGB: np.concatenate([pad, picture_rgb], axis=2),
        turbojpeg.TJPF_RGBX: np.concatenate([picture_rgb, pad], axis=2),
    }[pixel_format])


@pytest.mark.parametrize("name", PHOTOS)
def test_turbojpeg_encode_matches_pyturbojpeg(name):
    ours, theirs = turbojpeg.TurboJPEG(LIB, backend="software"), real_turbojpeg.TurboJPEG(LIB)
    source = rgb(name)
    for pixel_format in [turbojpeg.TJPF_BGR, turbojpeg.TJPF_RGB, turbojpeg.TJPF_BGRA,
                         turbojpeg.TJPF_XRGB, turbojpeg.TJPF_RGBX]:
        for subsample in [turbojpeg.TJSAMP_420, turbojpeg.TJSAMP_422, turbojpeg.TJSAMP_444,
                          turbojpeg.TJSAMP_GRAY]:
            for quality in (85, 50):
                image = in_format(source, pixel_format)
                what = (name, pixel_format, subsample, quality)
                a = ours.encode(image, quality=quality, pixel_format=pixel_format,
                                jpeg_subsample=subsample)
                b = theirs.encode(image, quality=quality, pixel_format=pixel_format,
                                  jpeg_subsample=subsample)
                pa, pb = picture(a), picture(b)
                assert pa.shape == pb.shape, what
                target = np.asarray(Image.fromarray(source).convert("L")) if pa.ndim == 2 else source
                assert psnr(pa, target) > psnr(pb, target) - 0.5, what
    # The defaults (BGR, 4:2:2, quality 85) and a grey array.
    bgr = source[:, :, ::-1].copy()
    assert psnr(picture(ours.encode(bgr)), source) > psnr(picture(theirs.encode(bgr)), source) - 0.5
    grey = in_format(source, turbojpeg.TJPF_GRAY)
    a = ours.encode(grey, pixel_format=turbojpeg.TJPF_GRAY, jpeg_subsample=turbojpeg.TJSAMP_GRAY)
    b = theirs.encode(grey, pixel_format=turbojpeg.TJPF_GRAY, jpeg_subsample=turbojpeg.TJSAMP_GRAY)
    assert psnr(picture(a), grey) > psnr(picture(b), grey) - 0.5


def test_turbojpeg_dst_errors_and_delegation():
    ours, theirs = turbojpeg.TurboJPEG(LIB, backend="software"), real_turbojpeg.TurboJPEG(LIB)
    bgr = rgb("chelsea.png")[:, :, ::-1].copy()
    # dst: written in place when it fits, as PyTurboJPEG does.
    for api in (ours, theirs):
        dst = bytearray(1 << 20)
        out, n = api.encode(bgr, dst=dst)
        assert out is dst and bytes(dst[:2]) == b"\xff\xd8" and n > 1000
        small = bytearray(10)
        if PYTURBOJPEG_2:  # 2.x refuses a buffer smaller than the worst case
            with pytest.raises(ValueError):
                api.encode(bgr, dst=small)
        else:  # 1.x returns a new one
            out, n = api.encode(bgr, dst=small)
            assert out is not small and len(out) == n
    # The same refusals.
    for api in (ours, theirs):
        with pytest.raises(ValueError):
            api.encode(bgr[:, :, :2])
        with pytest.raises(ValueError):
            api.encode(bgr, pixel_format=turbojpeg.TJPF_BGRA)
    # Not encoding: PyTurboJPEG's own calls, through ours.
    jpeg = ours.encode(bgr, quality=90)
    assert ours.decode_header(jpeg)[:2] == (bgr.shape[1], bgr.shape[0])
    assert psnr(ours.decode(jpeg), bgr) > 30
    # Progressive and 4:4:0: PyTurboJPEG's encoder.
    progressive = ours.encode(bgr, flags=turbojpeg.TJFLAG_PROGRESSIVE)
    assert b"\xff\xc2" in progressive[:2000]
    assert ours.last_backend == "software"


def test_turbojpeg_2x_keywords():
    ours = turbojpeg.TurboJPEG(LIB, backend="software")
    bgr = rgb("coffee.png")[:, :, ::-1].copy()
    from PIL import ImageCms
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    jpeg = ours.encode(bgr, icc_profile=icc, jpeg_colorspace=turbojpeg.TJCS_YCbCr)
    assert Image.open(io.BytesIO(jpeg)).info["icc_profile"] == icc
    grey = Image.open(io.BytesIO(ours.encode(bgr, jpeg_colorspace=turbojpeg.TJCS_GRAY)))
    assert grey.mode == "L"
    # Lossless is PyTurboJPEG's: 2.x on libjpeg-turbo 3 makes it, 1.x cannot (a clear refusal).
    if PYTURBOJPEG_2:
        lossless = ours.encode(bgr, lossless=True)
        assert b"\xff\xc3" in lossless[:2000]
        assert np.array_equal(ours.decode(lossless), bgr)
    else:
        with pytest.raises(NotImplementedError):
            ours.encode(bgr, lossless=True)


SIMPLE_CASES = [("RGB", "444"), ("RGB", "420"), ("BGR", "422"), ("RGBX", "420"),
                ("XRGB", "444"), ("BGRA", "420"), ("GRAY", "444"), ("RGB", "Gray"),
                ("rgb", "gray")]


@pytest.mark.parametrize("name", PHOTOS)
def test_simplejpeg_encode_matches_simplejpeg(name):
    source = rgb(name)
    for colorspace, subsampling in SIMPLE_CASES:
        cs = colorspace.upper()
        if cs == "GRAY":
            image = np.asarray(Image.fromarray(source).convert("L"))[:, :, None]
        else:
            image = in_format(source, {"RGB": turbojpeg.TJPF_RGB, "BGR": turbojpeg.TJPF_BGR,
                                       "RGBX": turbojpeg.TJPF_RGBX, "XRGB": turbojpeg.TJPF_XRGB,
                                       "BGRA": turbojpeg.TJPF_BGRA}[cs])
        for quality in (85, 95):
            a = simplejpeg.encode_jpeg(image, quality, colorspace, subsampling)
            b = real_simplejpeg.encode_jpeg(image, quality, colorspace, subsampling)
            pa, pb = picture(a), picture(b)
            what = (name, colorspace, subsampling, quality)
            assert pa.shape == pb.shape, what
            target = np.asarray(Image.fromarray(source).convert("L")) if pa.ndim == 2 else source
            assert psnr(pa, target) > psnr(pb, target) - 0.5, what
            assert simplejpeg.is_jpeg(a) and real_simplejpeg.is_jpeg(a)


def test_simplejpeg_checks_arguments_as_simplejpeg_does():
    a = np.zeros((16, 16, 3), np.uint8)
    cases = [
        dict(image=[[1]]),
        dict(image=a.astype(np.float32)),
        dict(image=np.zeros((16, 16), np.uint8)),
        dict(image=np.zeros((16, 16, 4), np.uint8)),
        dict(image=a[:, ::2]),
        dict(image=a, quality=101),
        dict(image=a, colorspace="FOO"),
        dict(image=a, colorsubsampling="FOO"),
        dict(image=a, colorspace="GRAY"),
    ]
    for kwargs in cases:
        with pytest.raises(Exception) as theirs:
            real_simplejpeg.encode_jpeg(**kwargs)
        with pytest.raises(Exception) as ours:
            simplejpeg.encode_jpeg(**kwargs)
        assert type(ours.value) is type(theirs.value), (kwargs, ours.value, theirs.value)
    # What simplejpeg takes, so do we: quality 0 and any case.
    assert simplejpeg.is_jpeg(simplejpeg.encode_jpeg(a, 0, "rgb", "gray"))
    # Decoding is simplejpeg's.
    jpeg = simplejpeg.encode_jpeg(np.full((16, 16, 3), 128, np.uint8))
    assert simplejpeg.decode_jpeg_header(jpeg)[:2] == (16, 16)
    assert simplejpeg.decode_jpeg(jpeg).shape == (16, 16, 3)


HARDWARE = r"""
import io, json, os, sys
import numpy as np
from PIL import Image
import turbojpeg as real_turbojpeg, simplejpeg as real_simplejpeg
from amljpeg import simplejpeg, turbojpeg

def psnr(a, b):
    mse = np.mean((np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) ** 2)
    return 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)

def picture(jpeg):
    return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))

LIB = os.environ.get("AMLJPEG_TEST_TURBOJPEG_LIB")
results = []
ours = turbojpeg.TurboJPEG(LIB)
for path in sys.argv[1:]:
    rgb = np.asarray(Image.open(path).convert("RGB"))
    bgr = rgb[:, :, ::-1].copy()
    a = ours.encode(bgr, quality=85, jpeg_subsample=turbojpeg.TJSAMP_420)
    backend = ours.last_backend
    b = real_turbojpeg.TurboJPEG(LIB).encode(bgr, quality=85, jpeg_subsample=turbojpeg.TJSAMP_420)
    c = simplejpeg.encode_jpeg(rgb, 85, "RGB", "420")
    d = real_simplejpeg.encode_jpeg(rgb, 85, "RGB", "420")
    results.append([backend, psnr(picture(a), rgb), psnr(picture(b), rgb),
                    psnr(picture(c), rgb), psnr(picture(d), rgb)])
print(json.dumps(results))
"""


def test_both_layers_reach_the_emulated_hardware():
    results, stats = emulated(HARDWARE, [os.path.join(TESTDATA, n) for n in PHOTOS])
    for backend, ours, theirs, simple_ours, simple_theirs in results:
        assert backend == "hardware"
        assert ours > theirs - 1.0 and simple_ours > simple_theirs - 1.0
    assert stats["new_cmds"] == 2 * len(PHOTOS)
