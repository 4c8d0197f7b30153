"""The C library: finding and loading libamljpeg, the prototypes of its calls, the numbers of
its contract (hand copies of include/amljpeg.h; tests/header.rs checks them), and its
statuses as Python exceptions."""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
import threading
from typing import Dict, Optional, Type

OK = 0
ERR_INVALID_ARGUMENT = -1
ERR_UNSUPPORTED = -2
ERR_NO_DEVICE = -3
ERR_BUSY = -4
ERR_TIMEOUT = -5
ERR_DEVICE = -6
ERR_NO_MEMORY = -7
ERR_INTERNAL = -8
ERR_BUFFER_TOO_SMALL = -9
ERR_PERMISSION = -10

BACKENDS = {"auto": 0, "hardware": 1, "software": 2}
FORMATS = {"rgb24": 0, "bgr24": 1, "rgba32": 2, "bgra32": 3, "nv12": 4, "nv21": 5,
           "i420": 6, "yuyv": 7, "gray8": 8}
SUBSAMPLINGS = {"420": 0, "422": 1, "444": 2}
INPUTS = {"cpu": 0, "in_place": 1, "dmabuf": 2}


class Error(Exception):
    """A call of the library failed: `status` is its negative status code, `detail` its
    message for this failure."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class InvalidArgumentError(Error, ValueError):
    """An argument is out of range, inconsistent, or a buffer too short (ERR_INVALID_ARGUMENT)."""


class UnsupportedError(Error):
    """Valid, but not something this backend can do (ERR_UNSUPPORTED)."""


class NoDeviceError(Error):
    """No usable hardware encoder (ERR_NO_DEVICE, ERR_PERMISSION)."""


class BusyError(Error):
    """The device is in use by another process or handle (ERR_BUSY)."""


class DeviceError(Error):
    """The device failed or did not finish in time (ERR_DEVICE, ERR_TIMEOUT)."""


_ERRORS: Dict[int, Type[Error]] = {
    ERR_INVALID_ARGUMENT: InvalidArgumentError,
    ERR_UNSUPPORTED: UnsupportedError,
    ERR_NO_DEVICE: NoDeviceError,
    ERR_PERMISSION: NoDeviceError,
    ERR_BUSY: BusyError,
    ERR_DEVICE: DeviceError,
    ERR_TIMEOUT: DeviceError,
}


def error(status: int, detail: str) -> Error:
    """The exception for a failed call's status and detail."""
    return _ERRORS.get(status, Error)(status, detail)


def _bundled() -> Optional[str]:
    """The library built into this package (by `pip install`), if it is there."""
    here = os.path.dirname(os.path.abspath(__file__))
    found = sorted(glob.glob(os.path.join(here, "libamljpeg*.so")))
    return found[0] if found else None


def _checkout() -> Optional[str]:
    """target/release/libamljpeg.so of the checkout this package lies in, when run from it."""
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "..", "target", "release", "libamljpeg.so")
    return path if os.path.exists(path) else None


def find_library() -> str:
    """$AMLJPEG_LIB, else the package's own library, else the checkout's, else the system's."""
    path = os.environ.get("AMLJPEG_LIB") or _bundled() or _checkout()
    path = path or ctypes.util.find_library("amljpeg")
    if not path:
        raise OSError("libamljpeg.so not found: reinstall the amljpeg package or set AMLJPEG_LIB")
    return path


def _declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    p = ctypes.c_void_p
    u32, i32, sz = ctypes.c_uint32, ctypes.c_int, ctypes.c_size_t
    out_jpeg = [ctypes.POINTER(p), ctypes.POINTER(sz)]
    prototypes = {
        "aml_jpeg_open": ([ctypes.c_char_p, i32, ctypes.POINTER(p)], i32),
        "aml_jpeg_encode": ([p, p, sz, u32, u32, u32, i32, i32] + out_jpeg, i32),
        "aml_jpeg_encode_dmabuf": ([p, i32, sz, sz, u32, u32, u32, i32, i32] + out_jpeg, i32),
        "aml_jpeg_encode_into": ([p, p, sz, u32, u32, u32, i32, i32, p, sz,
                                  ctypes.POINTER(sz)], i32),
        "aml_jpeg_encode_batch": ([p, p, sz, i32, p, p], i32),
        "aml_jpeg_max_output_size": ([p, u32, u32, ctypes.POINTER(sz)], i32),
        "aml_jpeg_set_subsampling": ([p, i32], i32),
        "aml_jpeg_set_quant_tables": ([p, ctypes.POINTER(ctypes.c_uint16),
                                       ctypes.POINTER(ctypes.c_uint16)], i32),
        "aml_jpeg_set_markers": ([p, p, sz], i32),
        "aml_jpeg_set_busy_wait": ([p, i32], i32),
        "aml_jpeg_set_timeout": ([p, u32], i32),
        "aml_jpeg_set_linger": ([u32], i32),
        "aml_jpeg_release": ([p], i32),
        "aml_jpeg_last_backend": ([p, ctypes.POINTER(i32)], i32),
        "aml_jpeg_last_input": ([p, ctypes.POINTER(i32)], i32),
        "aml_jpeg_close": ([p], None),
        "aml_jpeg_last_error": ([p], ctypes.c_char_p),
        "aml_jpeg_strerror": ([i32], ctypes.c_char_p),
        "aml_jpeg_version": ([], ctypes.c_char_p),
    }
    for name, (args, result) in prototypes.items():
        function = getattr(lib, name)
        function.argtypes = args
        function.restype = result
    return lib


# aml_jpeg_encode_batch's callback: (user, index, status, jpeg, jpeg_len).
FRAME_DONE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int,
                              ctypes.c_void_p, ctypes.c_size_t)


class BatchFrame(ctypes.Structure):
    """`aml_jpeg_frame`."""
    _fields_ = [("pixels", ctypes.c_void_p), ("len", ctypes.c_size_t),
                ("width", ctypes.c_uint32), ("height", ctypes.c_uint32),
                ("stride", ctypes.c_uint32), ("format", ctypes.c_int)]


_lib: Optional[ctypes.CDLL] = None
_loading = threading.Lock()


def library() -> ctypes.CDLL:
    """The loaded libamljpeg (loaded on first use)."""
    global _lib
    with _loading:
        if _lib is None:
            _lib = _declare(ctypes.CDLL(find_library()))
        return _lib


def version() -> str:
    """The library's version (`aml_jpeg_version()`)."""
    return library().aml_jpeg_version().decode()
