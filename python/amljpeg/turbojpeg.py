"""PyTurboJPEG's `TurboJPEG` class, encoding through amljpeg: change

    from turbojpeg import TurboJPEG, TJPF_BGR, TJSAMP_420

to `from amljpeg.turbojpeg import ...` and `TurboJPEG().encode(...)` goes to the hardware when
it can. Both PyTurboJPEG generations' `encode` are taken: 1.x (`img_array, quality,
pixel_format, jpeg_subsample, flags, dst`) and 2.x's keywords (`lossless`, `icc_profile`,
`jpeg_colorspace`). What amljpeg does not do (progressive and lossless JPEG, 4:4:0/4:1:1
subsampling, CMYK) is encoded by PyTurboJPEG itself when it is installed, else refused with
NotImplementedError; everything that is not encoding (decode, transforms, ...) is PyTurboJPEG's.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple, Union

from ._encoder import Encoder

TJPF_RGB = 0
TJPF_BGR = 1
TJPF_RGBX = 2
TJPF_BGRX = 3
TJPF_XBGR = 4
TJPF_XRGB = 5
TJPF_GRAY = 6
TJPF_RGBA = 7
TJPF_BGRA = 8
TJPF_ABGR = 9
TJPF_ARGB = 10
TJPF_CMYK = 11

TJSAMP_444 = 0
TJSAMP_422 = 1
TJSAMP_420 = 2
TJSAMP_GRAY = 3
TJSAMP_440 = 4
TJSAMP_411 = 5
TJSAMP_441 = 6

TJCS_RGB = 0
TJCS_YCbCr = 1
TJCS_GRAY = 2
TJCS_CMYK = 3
TJCS_YCCK = 4

TJFLAG_BOTTOMUP = 2
TJFLAG_FASTUPSAMPLE = 256
TJFLAG_FASTDCT = 2048
TJFLAG_ACCURATEDCT = 4096
TJFLAG_STOPONWARNING = 8192
TJFLAG_PROGRESSIVE = 16384
TJFLAG_LIMITSCANS = 32768

# Pixel formats amljpeg takes as they are: (format, bytes per pixel). The X/A-first orders
# are reordered into these.
_DIRECT = {
    TJPF_RGB: ("rgb24", 3),
    TJPF_BGR: ("bgr24", 3),
    TJPF_RGBX: ("rgba32", 4),
    TJPF_RGBA: ("rgba32", 4),
    TJPF_BGRX: ("bgra32", 4),
    TJPF_BGRA: ("bgra32", 4),
    TJPF_GRAY: ("gray8", 1),
}
# First-byte-padding orders: the channels to keep, to become RGB.
_REORDER = {TJPF_XBGR: [3, 2, 1], TJPF_ABGR: [3, 2, 1], TJPF_XRGB: [1, 2, 3], TJPF_ARGB: [1, 2, 3]}
_SUBSAMPLING = {TJSAMP_444: "444", TJSAMP_422: "422", TJSAMP_420: "420"}


def _luma(array: Any, pixel_format: int) -> Any:
    """libjpeg's RGB to Y (jccolor.c's fixed point), for a grey JPEG of a colour image."""
    import numpy as np

    order = {TJPF_RGB: (0, 1, 2), TJPF_BGR: (2, 1, 0), TJPF_RGBX: (0, 1, 2),
             TJPF_RGBA: (0, 1, 2), TJPF_BGRX: (2, 1, 0), TJPF_BGRA: (2, 1, 0),
             TJPF_XBGR: (3, 2, 1), TJPF_ABGR: (3, 2, 1), TJPF_XRGB: (1, 2, 3),
             TJPF_ARGB: (1, 2, 3)}[pixel_format]
    r, g, b = (array[:, :, i].astype(np.uint32) for i in order)
    return ((19595 * r + 38470 * g + 7471 * b + 32768) >> 16).astype(np.uint8)


class TurboJPEG:
    """PyTurboJPEG's class. `lib_path` is the libturbojpeg PyTurboJPEG itself would load for
    the calls amljpeg does not make; `backend` picks amljpeg's ("auto" by default)."""

    def __init__(self, lib_path: Optional[str] = None, backend: str = "auto") -> None:
        self._lib_path = lib_path
        self._encoder = Encoder(backend=backend)
        self._real: Any = None

    def _turbojpeg(self, why: str) -> Any:
        """PyTurboJPEG's own TurboJPEG, for what amljpeg does not do."""
        if self._real is None:
            try:
                import turbojpeg as real
            except ImportError:
                raise NotImplementedError(
                    "%s: amljpeg does not do this, and PyTurboJPEG (pip install PyTurboJPEG), "
                    "which would, is not installed" % why) from None
            self._real = real.TurboJPEG(self._lib_path)
        return self._real

    def _strict_dst(self) -> bool:
        """PyTurboJPEG 2.x (when it is the one installed) refuses a `dst` smaller than the
        worst case; 1.x returns a new buffer then."""
        try:
            import turbojpeg as real
        except ImportError:
            return False
        return str(getattr(real, "__version__", "1")).split(".")[0] >= "2"

    def __getattr__(self, name: str) -> Any:
        # decode, decode_header, decode_to_yuv, crop, scale_with_quality, ...: PyTurboJPEG's.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._turbojpeg("TurboJPEG.%s" % name), name)

    @property
    def last_backend(self) -> Optional[str]:
        """amljpeg's: "hardware" or "software" for the last encode."""
        return self._encoder.last_backend

    def encode(self, img_array: Any, quality: int = 85, pixel_format: int = TJPF_BGR,
               jpeg_subsample: int = TJSAMP_422, flags: int = 0, dst: Any = None,
               lossless: bool = False, icc_profile: Optional[bytes] = None,
               jpeg_colorspace: Optional[int] = None) -> Union[bytes, Tuple[Any, int]]:
        """Encodes a numpy image as PyTurboJPEG does: the JPEG as bytes, or with `dst` (a
        writable buffer) `(dst, length)` when it fits there, else `(bytes, length)`."""
        import numpy as np

        img_array = np.asarray(img_array)
        plain = (not lossless and not flags & TJFLAG_PROGRESSIVE and pixel_format != TJPF_CMYK
                 and jpeg_subsample in (TJSAMP_444, TJSAMP_422, TJSAMP_420, TJSAMP_GRAY)
                 and jpeg_colorspace in (None, TJCS_YCbCr, TJCS_GRAY))
        if not plain:
            real = self._turbojpeg("this encode (lossless, progressive, CMYK, 4:4:0 or 4:1:1)")
            extra = {k: v for k, v in [("lossless", lossless), ("icc_profile", icc_profile),
                                       ("jpeg_colorspace", jpeg_colorspace)] if v}
            try:
                return real.encode(img_array, quality, pixel_format, jpeg_subsample, flags, dst,
                                   **extra)
            except TypeError as e:
                if extra and "keyword" in str(e):
                    raise NotImplementedError(
                        "%s: this PyTurboJPEG takes none (PyTurboJPEG 2 on libjpeg-turbo 3 "
                        "does)" % ", ".join(extra)) from e
                raise
        if pixel_format not in _DIRECT and pixel_format not in _REORDER:
            raise ValueError("unknown pixel format %r" % (pixel_format,))
        channels = 1 if pixel_format == TJPF_GRAY else (_DIRECT.get(pixel_format) or ("", 4))[1]
        if channels > 1 and (img_array.ndim < 3 or img_array.shape[2] != channels):
            raise ValueError("Invalid shape for image data")
        if flags & TJFLAG_BOTTOMUP:
            img_array = img_array[::-1]
        grey = jpeg_subsample == TJSAMP_GRAY or jpeg_colorspace == TJCS_GRAY
        if grey and pixel_format != TJPF_GRAY:
            image, format = _luma(img_array, pixel_format), "gray8"
        elif pixel_format in _REORDER:
            image, format = img_array[:, :, _REORDER[pixel_format]], "rgb24"
        else:
            image, format = img_array, _DIRECT[pixel_format][0]
        if format != "gray8":
            self._encoder.set_subsampling(_SUBSAMPLING[jpeg_subsample])
        # An ICC profile goes in as libjpeg-turbo writes it: ICC_PROFILE APP2 chunks.
        jpeg = self._encoder.encode(image, max(1, min(int(quality), 100)), format=format,
                                    icc_profile=icc_profile)
        if dst is None:
            return jpeg
        view = memoryview(dst)
        if self._strict_dst():
            height, width = image.shape[:2]
            need = self._encoder.max_output_size(width, height)
            if view.nbytes < need:
                raise ValueError("'dst' buffer is too small: requires at least %d bytes, got %d"
                                 % (need, view.nbytes))
        if not view.readonly and view.nbytes >= len(jpeg):
            view.cast("B")[:len(jpeg)] = jpeg
            return dst, len(jpeg)
        return jpeg, len(jpeg)
