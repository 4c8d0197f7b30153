"""ctypes bindings for amljpeg: JPEG encoding on the Amlogic hardware encoder, or libjpeg-turbo.

    import amljpeg
    with amljpeg.Encoder() as enc:                  # backend "auto", "hardware" or "software"
        data = enc.encode(numpy_array_or_pil_image, quality=90)
        data = enc.encode(image, exif=exif_bytes, icc_profile=icc, comment="hello")

Arrays: HxWx3 uint8 is RGB24, HxWx4 is RGBA32, HxW is GRAY8; raw bytes need width, height and
format. The library is found through $AMLJPEG_LIB, then the system's library path, then this
checkout's target/release.
"""

import ctypes
import ctypes.util
import os
import struct
import threading

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


class AmlJpegError(Exception):
    """A call failed; `status` is the library's negative status code."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def _find_library():
    path = os.environ.get("AMLJPEG_LIB")
    if path:
        return path
    here = os.path.dirname(os.path.abspath(__file__))
    local = os.path.join(here, "..", "target", "release", "libamljpeg.so")
    if os.path.exists(local):
        return local
    found = ctypes.util.find_library("amljpeg")
    if found:
        return found
    raise OSError("libamljpeg.so not found: set AMLJPEG_LIB or install amljpeg")


def _load(path):
    lib = ctypes.CDLL(path)
    p = ctypes.c_void_p
    u32, i32, sz = ctypes.c_uint32, ctypes.c_int, ctypes.c_size_t
    lib.aml_jpeg_open.argtypes = [ctypes.c_char_p, i32, ctypes.POINTER(p)]
    lib.aml_jpeg_open.restype = i32
    lib.aml_jpeg_encode.argtypes = [p, p, sz, u32, u32, u32, i32, i32,
                                    ctypes.POINTER(p), ctypes.POINTER(sz)]
    lib.aml_jpeg_encode.restype = i32
    lib.aml_jpeg_encode_dmabuf.argtypes = [p, i32, sz, sz, u32, u32, u32, i32, i32,
                                           ctypes.POINTER(p), ctypes.POINTER(sz)]
    lib.aml_jpeg_encode_dmabuf.restype = i32
    lib.aml_jpeg_last_input.argtypes = [p, ctypes.POINTER(i32)]
    lib.aml_jpeg_last_input.restype = i32
    lib.aml_jpeg_encode_into.argtypes = [p, p, sz, u32, u32, u32, i32, i32, p, sz,
                                         ctypes.POINTER(sz)]
    lib.aml_jpeg_encode_into.restype = i32
    lib.aml_jpeg_max_output_size.argtypes = [p, u32, u32, ctypes.POINTER(sz)]
    lib.aml_jpeg_max_output_size.restype = i32
    lib.aml_jpeg_set_subsampling.argtypes = [p, i32]
    lib.aml_jpeg_set_subsampling.restype = i32
    lib.aml_jpeg_set_quant_tables.argtypes = [p, ctypes.POINTER(ctypes.c_uint16),
                                              ctypes.POINTER(ctypes.c_uint16)]
    lib.aml_jpeg_set_quant_tables.restype = i32
    lib.aml_jpeg_set_markers.argtypes = [p, p, sz]
    lib.aml_jpeg_set_markers.restype = i32
    lib.aml_jpeg_set_busy_wait.argtypes = [p, i32]
    lib.aml_jpeg_set_busy_wait.restype = i32
    lib.aml_jpeg_release.argtypes = [p]
    lib.aml_jpeg_release.restype = i32
    lib.aml_jpeg_last_backend.argtypes = [p, ctypes.POINTER(i32)]
    lib.aml_jpeg_last_backend.restype = i32
    lib.aml_jpeg_close.argtypes = [p]
    lib.aml_jpeg_close.restype = None
    lib.aml_jpeg_last_error.argtypes = [p]
    lib.aml_jpeg_last_error.restype = ctypes.c_char_p
    lib.aml_jpeg_strerror.argtypes = [i32]
    lib.aml_jpeg_strerror.restype = ctypes.c_char_p
    lib.aml_jpeg_version.argtypes = []
    lib.aml_jpeg_version.restype = ctypes.c_char_p
    return lib


_lib = None


def library():
    """The loaded libamljpeg (loaded on first use)."""
    global _lib
    if _lib is None:
        _lib = _load(_find_library())
    return _lib


def version():
    return library().aml_jpeg_version().decode()


def _pixels_of(image, width, height, format):
    """(buffer, width, height, stride, format code) for numpy arrays, PIL images and bytes."""
    if hasattr(image, "mode") and hasattr(image, "tobytes"):  # PIL image
        mode = {"RGB": "rgb24", "RGBA": "rgba32", "L": "gray8"}.get(image.mode)
        if mode is None:
            image = image.convert("RGB")
            mode = "rgb24"
        return image.tobytes(), image.width, image.height, 0, FORMATS[mode]
    if hasattr(image, "__array_interface__"):  # numpy array
        import numpy as np
        arr = np.ascontiguousarray(image, dtype=np.uint8) if image.dtype != np.uint8 or not image.flags["C_CONTIGUOUS"] else image
        if format is None:
            if arr.ndim == 2:
                format = "gray8"
            elif arr.ndim == 3 and arr.shape[2] in (3, 4):
                format = "rgb24" if arr.shape[2] == 3 else "rgba32"
            else:
                raise ValueError("array shape %r is not HxW, HxWx3 or HxWx4" % (arr.shape,))
        if width is None or height is None:
            height, width = arr.shape[0], arr.shape[1]
        return arr, width, height, 0, _format_code(format)
    if width is None or height is None or format is None:
        raise ValueError("raw pixel buffers need width, height and format")
    return image, width, height, 0, _format_code(format)


_MAX_SEGMENT_DATA = 65533


def _segment(code, data):
    if len(data) > _MAX_SEGMENT_DATA:
        raise ValueError("%d bytes do not fit one marker segment (%d at most)"
                         % (len(data), _MAX_SEGMENT_DATA))
    return b"\xff" + bytes([code]) + struct.pack(">H", len(data) + 2) + data


def markers(exif=None, icc_profile=None, comment=None):
    """Marker segments for Encoder.set_markers: an EXIF APP1 (`exif` is the TIFF structure, with
    or without b"Exif\\0\\0" in front, as Pillow's Image.Exif().tobytes() gives it), the ICC
    profile as ICC_PROFILE APP2 chunks (libjpeg-turbo's layout), and a COM segment."""
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


def _format_code(format):
    if isinstance(format, int):
        return format
    try:
        return FORMATS[format.lower()]
    except KeyError:
        raise ValueError("unknown pixel format %r" % (format,)) from None


def _writable_address(buffer):
    """A pointer and length for a writable, contiguous output buffer; anything else is refused
    (the library would write `length` bytes from the pointer)."""
    if hasattr(buffer, "__array_interface__"):  # numpy
        if not buffer.flags["C_CONTIGUOUS"] or not buffer.flags["WRITEABLE"]:
            raise ValueError("out must be a writable, C-contiguous array")
        return buffer.ctypes.data, buffer.nbytes, buffer
    view = memoryview(buffer)
    if view.readonly or not view.c_contiguous:
        raise ValueError("out must be a writable, contiguous buffer")
    view = view.cast("B")
    holder = (ctypes.c_char * len(view)).from_buffer(view)
    return ctypes.addressof(holder), len(view), holder


def _address(buffer):
    """A pointer and length for bytes, bytearray, memoryview or numpy arrays (no copy where possible)."""
    if hasattr(buffer, "ctypes"):  # numpy
        return buffer.ctypes.data, buffer.nbytes, buffer
    if isinstance(buffer, bytes):
        return ctypes.cast(ctypes.c_char_p(buffer), ctypes.c_void_p).value, len(buffer), buffer
    view = memoryview(buffer).cast("B")
    if view.readonly:
        data = bytes(view)
        return ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value, len(data), data
    holder = (ctypes.c_char * len(view)).from_buffer(view)
    return ctypes.addressof(holder), len(view), holder


class Encoder:
    """An amljpeg handle. `device` None means $AML_JPEG_DEVICE, else /dev/jpegenc."""

    def __init__(self, device=None, backend="auto", subsampling="420"):
        self._lib = library()
        self._handle = ctypes.c_void_p()
        # One call at a time on the handle: a JPEG is read before the next call replaces it.
        self._lock = threading.RLock()
        self._markers = b""
        code = BACKENDS.get(backend, backend) if isinstance(backend, str) else backend
        if isinstance(code, str):
            raise ValueError("unknown backend %r" % (backend,))
        dev = None if device is None else os.fsencode(device)
        st = self._lib.aml_jpeg_open(dev, code, ctypes.byref(self._handle))
        if st != OK:
            raise AmlJpegError(st, self._lib.aml_jpeg_last_error(None).decode())
        if subsampling != "420":
            self.set_subsampling(subsampling)

    def _check(self, status):
        if status != OK:
            raise AmlJpegError(status, self._lib.aml_jpeg_last_error(self._handle).decode())

    def set_subsampling(self, subsampling):
        code = SUBSAMPLINGS.get(str(subsampling), subsampling)
        if isinstance(code, str):
            raise ValueError("unknown subsampling %r" % (subsampling,))
        self._check(self._lib.aml_jpeg_set_subsampling(self._handle, code))

    def set_quant_tables(self, luma=None, chroma=None):
        """Quantises with these tables (64 entries each, natural order, 1..255) instead of by
        quality; no arguments go back to quality. Tables no quality reproduces need the E
        generation's hardware (elsewhere encoding raises AmlJpegError, UNSUPPORTED)."""
        if (luma is None) != (chroma is None):
            raise ValueError("give both tables or neither")
        if luma is None:
            self._check(self._lib.aml_jpeg_set_quant_tables(self._handle, None, None))
            return
        tables = []
        for t in (luma, chroma):
            t = [int(v) for v in t]
            if len(t) != 64:
                raise ValueError("a quantisation table has 64 entries")
            tables.append((ctypes.c_uint16 * 64)(*[min(max(v, 0), 0xFFFF) for v in t]))
        self._check(self._lib.aml_jpeg_set_quant_tables(self._handle, tables[0], tables[1]))

    def set_markers(self, segments=b"", exif=None, icc_profile=None, comment=None):
        """Puts marker segments after the JFIF APP0 of every following JPEG: `segments` (whole
        APP1..APP15 or COM segments, verbatim), then those `markers()` makes of `exif`,
        `icc_profile` and `comment`. No arguments remove them. A malformed list raises
        AmlJpegError (ERR_INVALID_ARGUMENT) and the markers set before stay."""
        data = bytes(segments) + markers(exif, icc_profile, comment)
        with self._lock:
            self._set_markers(data)
            self._markers = data

    def _set_markers(self, data):
        self._check(self._lib.aml_jpeg_set_markers(self._handle, data or None, len(data)))

    def set_busy_wait(self, milliseconds):
        """How long a hardware encoder waits for a device that is in use (negative: default)."""
        self._check(self._lib.aml_jpeg_set_busy_wait(self._handle, int(milliseconds)))

    def encode(self, image, quality=90, width=None, height=None, format=None, stride=0,
               exif=None, icc_profile=None, comment=None):
        """Encodes a numpy array, PIL image or raw buffer; returns the JPEG as bytes. `exif`,
        `icc_profile` and `comment` go into this JPEG only, after the handle's own markers."""
        if self._handle.value is None:
            raise ValueError("encoder is closed")
        pixels, width, height, _, code = _pixels_of(image, width, height, format)
        extra = markers(exif, icc_profile, comment)
        address, length, keep = _address(pixels)
        jpeg = ctypes.c_void_p()
        size = ctypes.c_size_t()
        with self._lock:
            if extra:
                self._set_markers(self._markers + extra)
            try:
                self._check(self._lib.aml_jpeg_encode(self._handle, address, length, width,
                                                      height, stride, code, quality,
                                                      ctypes.byref(jpeg), ctypes.byref(size)))
                return ctypes.string_at(jpeg, size.value)
            finally:
                # The bytes are copied: give the device back to other handles at once.
                self._lib.aml_jpeg_release(self._handle)
                if extra:
                    self._set_markers(self._markers)
                del keep

    def encode_dmabuf(self, fd, width, height, format, stride=0, offset=0, quality=90,
                      length=None):
        """Encodes the frame in the dma-buf (or memfd, or any mappable file) `fd` from byte
        `offset`, laid out as encode()'s raw frames are; returns the JPEG as bytes. `length`
        defaults to the rest of the buffer. Where the device can read the buffer itself it
        does (last_input then says "dmabuf"); otherwise the library maps and reads it. The
        descriptor stays yours."""
        if self._handle.value is None:
            raise ValueError("encoder is closed")
        if length is None:
            size = os.fstat(fd).st_size
            if size == 0:  # a dma-buf that tells its size only to lseek
                here = os.lseek(fd, 0, os.SEEK_CUR)
                size = os.lseek(fd, 0, os.SEEK_END)
                os.lseek(fd, here, os.SEEK_SET)
            length = max(size - offset, 0)
        jpeg = ctypes.c_void_p()
        size = ctypes.c_size_t()
        with self._lock:
            try:
                self._check(self._lib.aml_jpeg_encode_dmabuf(
                    self._handle, fd, offset, length, width, height, stride,
                    _format_code(format), quality, ctypes.byref(jpeg), ctypes.byref(size)))
                return ctypes.string_at(jpeg, size.value)
            finally:
                self._lib.aml_jpeg_release(self._handle)

    def encode_into(self, image, out, quality=90, width=None, height=None, format=None, stride=0):
        """Encodes into a writable buffer `out` (bytearray, numpy array); returns the length."""
        pixels, width, height, _, code = _pixels_of(image, width, height, format)
        address, length, keep = _address(pixels)
        out_address, out_len, out_keep = _writable_address(out)
        size = ctypes.c_size_t()
        with self._lock:
            self._check(self._lib.aml_jpeg_encode_into(self._handle, address, length, width,
                                                       height, stride, code, quality,
                                                       out_address, out_len, ctypes.byref(size)))
        del keep, out_keep
        return size.value

    def max_output_size(self, width, height):
        size = ctypes.c_size_t()
        self._check(self._lib.aml_jpeg_max_output_size(self._handle, width, height, ctypes.byref(size)))
        return size.value

    @property
    def last_backend(self):
        """"hardware" or "software": what produced the last frame (None before any)."""
        value = ctypes.c_int()
        if self._lib.aml_jpeg_last_backend(self._handle, ctypes.byref(value)) != OK:
            return None
        return {1: "hardware", 2: "software"}[value.value]

    @property
    def last_input(self):
        """How the last frame's pixels reached the encoder: "cpu" (the library read them),
        "in_place" (written into the device's input area) or "dmabuf" (the device read your
        dma-buf itself); None before any frame."""
        value = ctypes.c_int()
        if self._lib.aml_jpeg_last_input(self._handle, ctypes.byref(value)) != OK:
            return None
        return {v: k for k, v in INPUTS.items()}[value.value]

    def close(self):
        with self._lock:
            if self._handle.value is not None:
                self._lib.aml_jpeg_close(self._handle)
                self._handle = ctypes.c_void_p()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
