"""`Encoder`: one library handle, safe to share between threads (one call at a time), whose
every JPEG is returned as `bytes` (the device is given back at once)."""

from __future__ import annotations

import ctypes
import os
import struct
import threading
from typing import Any, Iterable, List, Optional, Sequence, Union

from . import _native
from ._image import Pixels, format_code, pixels_of
from ._native import BACKENDS, ERR_INVALID_ARGUMENT, INPUTS, OK, SUBSAMPLINGS, InvalidArgumentError

_MAX_SEGMENT_DATA = 65533


def _segment(code: int, data: bytes) -> bytes:
    if len(data) > _MAX_SEGMENT_DATA:
        raise ValueError("%d bytes do not fit one marker segment (%d at most)"
                         % (len(data), _MAX_SEGMENT_DATA))
    return b"\xff" + bytes([code]) + struct.pack(">H", len(data) + 2) + data


def markers(exif: Optional[bytes] = None, icc_profile: Optional[bytes] = None,
            comment: Optional[Union[str, bytes]] = None) -> bytes:
    """Marker segments for `Encoder.set_markers`: an EXIF APP1 (`exif` is the TIFF structure,
    with or without b"Exif\\0\\0" in front, as Pillow's `Image.Exif().tobytes()` gives it), the
    ICC profile as ICC_PROFILE APP2 chunks (libjpeg-turbo's layout), and a COM segment."""
    out = b""
    if exif is not None:
        exif = bytes(exif)
        if not exif.startswith(b"Exif\0\0"):
            exif = b"Exif\0\0" + exif
        out += _segment(0xE1, exif)
    if icc_profile is not None:
        icc_profile = bytes(icc_profile)
        chunk = _MAX_SEGMENT_DATA - 14
        count = (len(icc_profile) + chunk - 1) // chunk
        if not 1 <= count <= 255:
            raise ValueError("an ICC profile of %d bytes: it must be 1 to %d bytes"
                             % (len(icc_profile), 255 * chunk))
        for i in range(count):
            part = icc_profile[i * chunk:(i + 1) * chunk]
            out += _segment(0xE2, b"ICC_PROFILE\0" + bytes([i + 1, count]) + part)
    if comment is not None:
        out += _segment(0xFE, comment.encode() if isinstance(comment, str) else bytes(comment))
    return out


def _code(table: dict, value: Union[str, int], what: str) -> int:
    """The library's number for a name; numbers go as they are (the library checks them)."""
    if isinstance(value, int):
        return value
    try:
        return table[str(value).lower()]
    except KeyError:
        raise InvalidArgumentError(ERR_INVALID_ARGUMENT, "unknown %s %r; one of %s"
                                   % (what, value, ", ".join(table))) from None


class Encoder:
    """An amljpeg handle. `device` None means $AML_JPEG_DEVICE, else /dev/jpegenc; `backend`
    "auto" (the hardware when it can, else libjpeg-turbo), "hardware" or "software"."""

    def __init__(self, device: Optional[str] = None, backend: str = "auto",
                 subsampling: Union[str, int] = "420") -> None:
        self._lib = _native.library()
        self._handle = ctypes.c_void_p()
        # One call at a time: a JPEG is copied out before the next call replaces it.
        self._lock = threading.RLock()
        self._markers = b""
        code = _code(BACKENDS, backend, "backend")
        path = None if device is None else os.fsencode(device)
        status = self._lib.aml_jpeg_open(path, code, ctypes.byref(self._handle))
        if status != OK:
            raise _native.error(status, self._lib.aml_jpeg_last_error(None).decode())
        if str(subsampling) != "420":
            self.set_subsampling(subsampling)

    def _check(self, status: int) -> None:
        if status != OK:
            detail = self._lib.aml_jpeg_last_error(self._handle).decode()
            raise _native.error(status, detail)

    def _live(self) -> ctypes.c_void_p:
        if self._handle.value is None:
            raise ValueError("the encoder is closed")
        return self._handle

    def set_subsampling(self, subsampling: Union[str, int]) -> None:
        """"420" (the default), "422" or "444" (software only: AUTO uses software for it)."""
        code = _code(SUBSAMPLINGS, subsampling, "subsampling")
        with self._lock:
            self._check(self._lib.aml_jpeg_set_subsampling(self._live(), code))

    def set_quant_tables(self, luma: Optional[Sequence[int]] = None,
                         chroma: Optional[Sequence[int]] = None) -> None:
        """Quantises with these tables (64 entries each, natural order, 1..255) instead of by
        quality; no arguments go back to quality. Tables no quality reproduces need the E
        generation's hardware (elsewhere encoding raises UnsupportedError)."""
        if (luma is None) != (chroma is None):
            raise ValueError("give both tables or neither")
        with self._lock:
            if luma is None or chroma is None:
                self._check(self._lib.aml_jpeg_set_quant_tables(self._live(), None, None))
                return
            tables = []
            for table in (luma, chroma):
                values = [int(v) for v in table]
                if len(values) != 64:
                    raise ValueError("a quantisation table has 64 entries")
                tables.append((ctypes.c_uint16 * 64)(*[min(max(v, 0), 0xFFFF) for v in values]))
            self._check(self._lib.aml_jpeg_set_quant_tables(self._live(), tables[0], tables[1]))

    def set_markers(self, segments: bytes = b"", exif: Optional[bytes] = None,
                    icc_profile: Optional[bytes] = None,
                    comment: Optional[Union[str, bytes]] = None) -> None:
        """Puts marker segments after the JFIF APP0 of every following JPEG: `segments` (whole
        APP1..APP15 or COM segments, verbatim), then those `markers()` makes of `exif`,
        `icc_profile` and `comment`. No arguments remove them. A malformed list raises
        InvalidArgumentError and the markers set before stay."""
        data = bytes(segments) + markers(exif, icc_profile, comment)
        with self._lock:
            self._set_markers(data)
            self._markers = data

    def _set_markers(self, data: bytes) -> None:
        self._check(self._lib.aml_jpeg_set_markers(self._live(), data or None, len(data)))

    def set_busy_wait(self, milliseconds: int) -> None:
        """How long a hardware encoder waits for a device in use (0: not at all; negative: the
        frame's timeout)."""
        with self._lock:
            self._check(self._lib.aml_jpeg_set_busy_wait(self._live(), int(milliseconds)))

    def set_timeout(self, milliseconds: int) -> None:
        """The longest a frame may take on the device (0: the default, by frame size)."""
        with self._lock:
            self._check(self._lib.aml_jpeg_set_timeout(self._live(), int(milliseconds)))

    def _encoded(self, call: Any, extra: bytes) -> bytes:
        """Runs `call(jpeg, size)` with the call's extra markers in force; returns a copy of the
        JPEG and gives the device back."""
        jpeg, size = ctypes.c_void_p(), ctypes.c_size_t()
        with self._lock:
            handle = self._live()
            if extra:
                self._set_markers(self._markers + extra)
            try:
                self._check(call(handle, ctypes.byref(jpeg), ctypes.byref(size)))
                return ctypes.string_at(jpeg, size.value)
            finally:
                # The bytes are copied: other handles may have the device at once.
                self._lib.aml_jpeg_release(handle)
                if extra:
                    self._set_markers(self._markers)

    def encode(self, image: Any, quality: int = 85, width: Optional[int] = None,
               height: Optional[int] = None, format: Optional[Union[str, int]] = None,
               stride: int = 0, exif: Optional[bytes] = None,
               icc_profile: Optional[bytes] = None,
               comment: Optional[Union[str, bytes]] = None) -> bytes:
        """Encodes a numpy array (HxW grey, HxWx3 RGB, HxWx4 RGBA; `format` "bgr24"/"bgra32"
        for OpenCV's order), a PIL image, or a raw buffer with `width`, `height`, `format` and
        `stride`; returns the JPEG. `exif`, `icc_profile` and `comment` go into this JPEG
        only, after the handle's own markers."""
        pixels = pixels_of(image, width, height, format, stride)
        extra = markers(exif, icc_profile, comment)
        return self._encoded(lambda h, j, n: self._lib.aml_jpeg_encode(
            h, pixels.address, pixels.length, pixels.width, pixels.height, pixels.stride,
            pixels.format, int(quality), j, n), extra)

    def encode_dmabuf(self, fd: int, width: int, height: int, format: Union[str, int],
                      stride: int = 0, offset: int = 0, quality: int = 85,
                      length: Optional[int] = None) -> bytes:
        """Encodes the frame in the dma-buf (or memfd, or any mappable file) `fd` from byte
        `offset`, laid out as `encode()`'s raw frames are; `length` defaults to the rest of
        the buffer. Where the device can read the buffer itself it does (`last_input` is then
        "dmabuf"); otherwise the library maps and reads it. The descriptor stays yours."""
        if length is None:
            size = os.fstat(fd).st_size
            if size == 0:  # a dma-buf that tells its size only to lseek
                here = os.lseek(fd, 0, os.SEEK_CUR)
                size = os.lseek(fd, 0, os.SEEK_END)
                os.lseek(fd, here, os.SEEK_SET)
            length = max(size - offset, 0)
        code = format_code(format)
        return self._encoded(lambda h, j, n: self._lib.aml_jpeg_encode_dmabuf(
            h, int(fd), int(offset), int(length), int(width), int(height), int(stride), code,
            int(quality), j, n), b"")

    def encode_into(self, image: Any, out: Any, quality: int = 85,
                    width: Optional[int] = None, height: Optional[int] = None,
                    format: Optional[Union[str, int]] = None, stride: int = 0) -> int:
        """Encodes into a writable, contiguous buffer `out` (bytearray, numpy array); returns
        the JPEG's length. Anything else is refused (the library writes from its address)."""
        pixels = pixels_of(image, width, height, format, stride)
        address, capacity, keep = _writable(out)
        size = ctypes.c_size_t()
        with self._lock:
            self._check(self._lib.aml_jpeg_encode_into(
                self._live(), pixels.address, pixels.length, pixels.width, pixels.height,
                pixels.stride, pixels.format, int(quality), address, capacity,
                ctypes.byref(size)))
        del keep
        return size.value

    def encode_batch(self, images: Iterable[Any], quality: int = 85) -> List[bytes]:
        """Encodes several frames in one call (on the E generation's hardware the next frame
        is laid out while the device encodes the last); returns their JPEGs in order. The
        first frame that fails raises, after all were tried."""
        frames: List[Pixels] = [pixels_of(image) for image in images]
        table = (_native.BatchFrame * len(frames))(*[
            _native.BatchFrame(p.address, p.length, p.width, p.height, p.stride, p.format)
            for p in frames])
        results: List[Any] = [None] * len(frames)

        def done(_user: Any, index: int, status: int, jpeg: int, size: int) -> None:
            results[index] = ctypes.string_at(jpeg, size) if status == OK else status

        callback = _native.FRAME_DONE(done)
        with self._lock:
            self._check(self._lib.aml_jpeg_encode_batch(
                self._live(), table, len(frames), int(quality), callback, None))
        for result in results:
            if not isinstance(result, bytes):
                raise _native.error(result, _native.library().aml_jpeg_strerror(result).decode())
        return results

    def max_output_size(self, width: int, height: int) -> int:
        """A buffer size that always holds the JPEG of a `width`x`height` frame."""
        size = ctypes.c_size_t()
        with self._lock:
            self._check(self._lib.aml_jpeg_max_output_size(self._live(), width, height,
                                                           ctypes.byref(size)))
        return size.value

    @property
    def last_backend(self) -> Optional[str]:
        """"hardware" or "software": what produced the last frame (None before any)."""
        value = ctypes.c_int()
        with self._lock:
            if self._lib.aml_jpeg_last_backend(self._live(), ctypes.byref(value)) != OK:
                return None
        return {1: "hardware", 2: "software"}[value.value]

    @property
    def last_input(self) -> Optional[str]:
        """How the last frame's pixels reached the encoder: "cpu" (the library read them),
        "in_place" (written into the device's input area) or "dmabuf" (the device read your
        dma-buf itself); None before any frame."""
        value = ctypes.c_int()
        with self._lock:
            if self._lib.aml_jpeg_last_input(self._live(), ctypes.byref(value)) != OK:
                return None
        return {v: k for k, v in INPUTS.items()}[value.value]

    def close(self) -> None:
        """Closes the handle (the last one closes the device)."""
        with self._lock:
            if self._handle.value is not None:
                self._lib.aml_jpeg_close(self._handle)
                self._handle = ctypes.c_void_p()

    def __enter__(self) -> "Encoder":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


def _writable(buffer: Any) -> "tuple[int, int, Any]":
    """(address, length, keep-alive) of a writable, contiguous buffer; anything else raises."""
    if hasattr(buffer, "__array_interface__") and hasattr(buffer, "flags"):
        if not buffer.flags["C_CONTIGUOUS"] or not buffer.flags["WRITEABLE"]:
            raise ValueError("out must be a writable, C-contiguous array")
        return buffer.ctypes.data, buffer.nbytes, buffer
    view = memoryview(buffer)
    if view.readonly or not view.c_contiguous:
        raise ValueError("out must be a writable, contiguous buffer")
    view = view.cast("B")
    holder = (ctypes.c_char * len(view)).from_buffer(view)
    return ctypes.addressof(holder), len(view), holder
