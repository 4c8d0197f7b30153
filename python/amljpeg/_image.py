"""What the library is given for an image: numpy arrays (read where they lie when their rows
are contiguous runs of pixels, copied otherwise), PIL images (converted as Pillow's own JPEG
writer would), and raw buffers with an explicit size and format."""

from __future__ import annotations

import ctypes
from typing import Any, NamedTuple, Optional, Union

from ._native import ERR_INVALID_ARGUMENT, FORMATS, InvalidArgumentError

# The bytes per pixel of the first plane of each packed format.
_PIXEL_BYTES = {"rgb24": 3, "bgr24": 3, "rgba32": 4, "bgra32": 4, "gray8": 1}


class Pixels(NamedTuple):
    """A frame as the C calls take it; `keep` holds what `address` points into."""
    address: int
    length: int
    width: int
    height: int
    stride: int
    format: int
    keep: Any


def format_code(format: Union[str, int]) -> int:
    """The library's number for a pixel format name ("rgb24", "nv12", ...) or number."""
    if isinstance(format, int):
        return format  # the library checks numbers
    try:
        return FORMATS[format.lower()]
    except (KeyError, AttributeError):
        raise InvalidArgumentError(ERR_INVALID_ARGUMENT, "unknown pixel format %r; one of %s"
                                   % (format, ", ".join(FORMATS))) from None


def buffer_address(buffer: Any) -> "tuple[int, int, Any]":
    """(address, length, keep-alive) of a contiguous bytes-like object, without a copy where
    it is writable or `bytes`; other read-only buffers are copied."""
    if isinstance(buffer, bytes):
        return ctypes.cast(ctypes.c_char_p(buffer), ctypes.c_void_p).value or 0, len(buffer), buffer
    view = memoryview(buffer)
    if not view.c_contiguous:
        raise ValueError("a raw pixel buffer must be contiguous")
    view = view.cast("B")
    if view.readonly:
        data = bytes(view)
        return ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value or 0, len(data), data
    holder = (ctypes.c_char * len(view)).from_buffer(view)
    return ctypes.addressof(holder), len(view), holder


def _pil(image: Any) -> Pixels:
    """A PIL image, converted as Pillow's JPEG writer does: L and 1 as grey, RGBX/RGBA with the
    fourth byte ignored, LA/I/F as grey, everything else (P, CMYK, YCbCr, ...) as RGB."""
    mode = image.mode
    if mode == "1" or mode in ("LA", "I", "F") or mode.startswith("I;16"):
        image, mode = image.convert("L"), "L"
    elif mode not in ("L", "RGB", "RGBA", "RGBX"):
        image, mode = image.convert("RGB"), "RGB"
    name = {"L": "gray8", "RGB": "rgb24", "RGBA": "rgba32", "RGBX": "rgba32"}[mode]
    data = image.tobytes()
    address, length, keep = buffer_address(data)
    return Pixels(address, length, image.width, image.height, 0, FORMATS[name], keep)


def _array(array: Any, format: Optional[Union[str, int]]) -> Pixels:
    """A numpy array: HxW grey, HxWx1 grey, HxWx3 RGB (or `format`, e.g. "bgr24"), HxWx4 RGBA.
    Rows of contiguous pixels are read where they lie, at the array's row stride; any other
    layout (negative or gapped strides) is copied first."""
    import numpy as np

    if array.dtype != np.uint8:
        raise ValueError("pixel arrays must be uint8, not %s" % array.dtype)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 2:
        channels, default = 1, "gray8"
    elif array.ndim == 3 and array.shape[2] in (3, 4):
        channels = array.shape[2]
        default = "rgb24" if channels == 3 else "rgba32"
    else:
        raise ValueError("array shape %r is not HxW, HxWx3 or HxWx4" % (array.shape,))
    code = format_code(default if format is None else format)
    name = [k for k, v in FORMATS.items() if v == code][0]
    if _PIXEL_BYTES.get(name) != channels:
        raise ValueError("a %s array cannot hold %s pixels" % ("x".join(map(str, array.shape)), name))
    height, width = array.shape[:2]
    # Each row a contiguous run of pixels, rows at a positive stride.
    channel_step = 1 if array.ndim == 2 else array.strides[2]
    rows_contiguous = (
        channel_step == 1
        and array.strides[1] == channels
        and array.strides[0] >= width * channels
    )
    if not rows_contiguous or array.strides[0] >= 1 << 32:
        array = np.ascontiguousarray(array)
    stride = array.strides[0]
    length = stride * (height - 1) + width * channels if height else 0
    return Pixels(array.ctypes.data, length, width, height, stride, code, array)


def pixels_of(image: Any, width: Optional[int] = None, height: Optional[int] = None,
              format: Optional[Union[str, int]] = None, stride: int = 0) -> Pixels:
    """The frame `image` describes: a numpy array, a PIL image, or a bytes-like buffer with
    `width`, `height` and `format` (and `stride`, the first plane's row length)."""
    if hasattr(image, "mode") and hasattr(image, "tobytes") and hasattr(image, "convert"):
        return _pil(image)
    if hasattr(image, "__array_interface__") and hasattr(image, "strides"):
        return _array(image, format)
    if width is None or height is None or format is None:
        raise ValueError("raw pixel buffers need width, height and format")
    address, length, keep = buffer_address(image)
    return Pixels(address, length, int(width), int(height), int(stride), format_code(format), keep)
