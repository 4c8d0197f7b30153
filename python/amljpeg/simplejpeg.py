"""simplejpeg's `encode_jpeg`, encoding through amljpeg: change `import simplejpeg` to
`from amljpeg import simplejpeg` and the JPEGs come from the hardware when it can make them.
Arguments are checked as simplejpeg checks them. What amljpeg does not do (CMYK, 4:4:0 and
4:1:1 subsampling) and everything that is not encoding (decode_jpeg, decode_jpeg_header,
encode_jpeg_yuv_planes) is simplejpeg's own, when it is installed.
"""

from __future__ import annotations

import threading
from typing import Any, Dict

from ._encoder import Encoder
from .turbojpeg import _luma, TJPF_ABGR, TJPF_ARGB, TJPF_BGR, TJPF_BGRA, TJPF_BGRX, TJPF_RGB
from .turbojpeg import TJPF_RGBA, TJPF_RGBX, TJPF_XBGR, TJPF_XRGB

# colorspace: (channels, amljpeg format, the channels that make RGB when reordered, the
# TJPF order for grey conversion)
_COLORSPACES: Dict[str, Any] = {
    "RGB": (3, "rgb24", None, TJPF_RGB),
    "BGR": (3, "bgr24", None, TJPF_BGR),
    "RGBX": (4, "rgba32", None, TJPF_RGBX),
    "RGBA": (4, "rgba32", None, TJPF_RGBA),
    "BGRX": (4, "bgra32", None, TJPF_BGRX),
    "BGRA": (4, "bgra32", None, TJPF_BGRA),
    "XBGR": (4, "rgb24", [3, 2, 1], TJPF_XBGR),
    "ABGR": (4, "rgb24", [3, 2, 1], TJPF_ABGR),
    "XRGB": (4, "rgb24", [1, 2, 3], TJPF_XRGB),
    "ARGB": (4, "rgb24", [1, 2, 3], TJPF_ARGB),
    "GRAY": (1, "gray8", None, None),
    "CMYK": (4, None, None, None),
}
_SUBSAMPLINGS = {"444": "444", "422": "422", "420": "420", "440": None, "411": None,
                 "GRAY": "gray"}

_encoders: Dict[int, Encoder] = {}
_lock = threading.Lock()


def _encoder() -> Encoder:
    """A handle per thread, as simplejpeg's calls keep no state between them."""
    key = threading.get_ident()
    with _lock:
        if key not in _encoders:
            _encoders[key] = Encoder(backend="auto")
        return _encoders[key]


def _simplejpeg(what: str) -> Any:
    try:
        import simplejpeg
    except ImportError:
        raise NotImplementedError(
            "%s: amljpeg does not do this, and simplejpeg (pip install simplejpeg), which "
            "would, is not installed" % what) from None
    return simplejpeg


def encode_jpeg(image: Any, quality: int = 85, colorspace: str = "RGB",
                colorsubsampling: str = "444", fastdct: bool = False) -> bytes:
    """Encodes a HxWxC uint8 array (C matching `colorspace`: 'RGB', 'BGR', 'RGBX', 'BGRX',
    'XBGR', 'XRGB', 'GRAY', 'RGBA', 'BGRA', 'ABGR', 'ARGB', 'CMYK') with `colorsubsampling`
    ('444', '422', '420', '440', '411', 'Gray') at `quality`; returns the JPEG. `fastdct` is
    accepted and has no effect (the hardware and libjpeg-turbo's default use their own)."""
    import numpy as np

    if not hasattr(image, "__array_interface__"):
        memoryview(image)  # the TypeError simplejpeg gives for what is no buffer
        image = np.asarray(image)
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise ValueError("Buffer dtype mismatch, expected 'const unsigned char' but got '%s'"
                         % array.dtype)
    if array.ndim != 3:
        raise ValueError("Buffer has wrong number of dimensions (expected 3, got %d)"
                         % array.ndim)
    channels, format, reorder, tjpf = _COLORSPACES[colorspace.upper()]
    subsampling = _SUBSAMPLINGS[colorsubsampling.upper()]
    if array.shape[2] != channels:
        raise ValueError("%d channels does not match given colorspace %s"
                         % (array.shape[2], colorspace))
    pixel_contiguous = channels == 1 or array.strides[2] == 1
    if not pixel_contiguous or array.strides[1] != channels or array.strides[0] <= 0:
        raise ValueError("image must have C contiguous rows, but strides are %s for shape %s"
                         % (list(array.strides), list(array.shape)))
    quality = int(quality)
    if quality > 100 or quality < 0:
        raise ValueError("tjCompress2(): Invalid argument")
    if format is None or subsampling is None:
        real = _simplejpeg("encode_jpeg with colorspace %s, subsampling %s"
                           % (colorspace, colorsubsampling))
        return real.encode_jpeg(image, quality, colorspace, colorsubsampling, fastdct)
    if subsampling == "gray" and format != "gray8":
        array, format = _luma(array, tjpf), "gray8"
    elif reorder is not None:
        array = array[:, :, reorder]
    encoder = _encoder()
    if format != "gray8":
        encoder.set_subsampling(subsampling)
    # libjpeg-turbo takes quality 0 as 1.
    return encoder.encode(array, max(quality, 1), format=format)


def is_jpeg(data: Any) -> bool:
    """Whether `data` holds a whole JPEG: SOI first, EOI last."""
    return bytes(data[:2]) == b"\xff\xd8" and bytes(data[-2:]) == b"\xff\xd9"


def __getattr__(name: str) -> Any:
    # decode_jpeg, decode_jpeg_header, encode_jpeg_yuv_planes: simplejpeg's own.
    if name.startswith("_"):
        raise AttributeError(name)
    return getattr(_simplejpeg("simplejpeg.%s" % name), name)
