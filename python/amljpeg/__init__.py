"""amljpeg: JPEG encoding on the Amlogic hardware JPEG encoder (/dev/jpegenc), with
libjpeg-turbo behind the same calls when there is no device.

    import amljpeg
    data = amljpeg.encode(numpy_array_or_pil_image, quality=85)
    with amljpeg.Encoder(backend="hardware") as enc:       # "auto", "hardware", "software"
        data = enc.encode(frame, quality=85, exif=exif_bytes)

Arrays: HxWx3 uint8 is RGB (`format="bgr24"` for OpenCV's BGR), HxWx4 RGBA, HxW grey, any
strides; PIL images in any mode; raw buffers with width, height and format ("nv12", ...).
`amljpeg.turbojpeg` and `amljpeg.simplejpeg` take PyTurboJPEG's and simplejpeg's calls.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, Optional, Union

from ._encoder import Encoder, markers
from ._native import (
    BACKENDS,
    ERR_BUFFER_TOO_SMALL,
    ERR_BUSY,
    ERR_DEVICE,
    ERR_INTERNAL,
    ERR_INVALID_ARGUMENT,
    ERR_NO_DEVICE,
    ERR_NO_MEMORY,
    ERR_PERMISSION,
    ERR_TIMEOUT,
    ERR_UNSUPPORTED,
    FORMATS,
    INPUTS,
    OK,
    SUBSAMPLINGS,
    BusyError,
    DeviceError,
    Error,
    InvalidArgumentError,
    NoDeviceError,
    UnsupportedError,
    library,
    version,
)

# The name the first bindings used.
AmlJpegError = Error

__version__: str = version()

__all__ = [
    "encode", "Encoder", "markers", "set_linger", "version", "library", "Error", "AmlJpegError",
    "InvalidArgumentError", "UnsupportedError", "NoDeviceError", "BusyError", "DeviceError",
    "BACKENDS", "FORMATS", "SUBSAMPLINGS", "INPUTS", "OK", "ERR_INVALID_ARGUMENT",
    "ERR_UNSUPPORTED", "ERR_NO_DEVICE", "ERR_BUSY", "ERR_TIMEOUT", "ERR_DEVICE",
    "ERR_NO_MEMORY", "ERR_INTERNAL", "ERR_BUFFER_TOO_SMALL", "ERR_PERMISSION",
]

_shared: Dict[str, Encoder] = {}
_shared_lock = threading.Lock()


def _encoder(backend: str) -> Encoder:
    """The module's own handle for `backend`, opened on first use and shared by threads."""
    with _shared_lock:
        if backend not in _shared:
            _shared[backend] = Encoder(backend=backend)
        return _shared[backend]


def set_linger(milliseconds: int) -> None:
    """How long the process keeps the device open after its last handle closes (default
    $AML_JPEG_LINGER_MS, else 1000 ms; 0 closes it with the last handle): a program opening a
    handle per picture then initialises the device once."""
    library().aml_jpeg_set_linger(max(0, min(int(milliseconds), 0xFFFFFFFF)))


def encode(image: Any, quality: int = 85, subsampling: Union[str, int] = "420",
           backend: str = "auto", width: Optional[int] = None, height: Optional[int] = None,
           format: Optional[Union[str, int]] = None, stride: int = 0,
           exif: Optional[bytes] = None, icc_profile: Optional[bytes] = None,
           comment: Optional[Union[str, bytes]] = None) -> bytes:
    """Encodes `image` (see `Encoder.encode`) to a JPEG, on the hardware when `backend` allows
    and the device can, else with libjpeg-turbo. Thread-safe."""
    encoder = _encoder(str(backend).lower())
    with encoder._lock:
        encoder.set_subsampling(subsampling)
        return encoder.encode(image, quality, width, height, format, stride,
                              exif=exif, icc_profile=icc_profile, comment=comment)
