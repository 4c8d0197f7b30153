//! The C ABI: thin wrappers that check every argument, call the engine, and turn its result
//! into a status code. No panic crosses this boundary.
#![allow(non_camel_case_types)]

// The numbers are part of the C ABI's Rust face too (`amljpeg::capi::AML_JPEG_OK`).
pub use crate::abi::*;
use crate::engine::{Backend, BackendChoice, Encoder};
use crate::error::{Error, ErrorKind};
use crate::format::{Frame, PixelFormat, Subsampling};
use crate::quant::QuantTables;
use libc::{c_char, c_int, size_t};
use parking_lot::Mutex;
use std::cell::RefCell;
use std::ffi::{CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

/// Where to write a frame for aml_jpeg_encode_input(): the device's own input area, laid out
/// as the hardware reads it.
#[repr(C)]
pub struct aml_jpeg_input {
    /// Start of each plane (NULL past the format's planes): Y then interleaved chroma for
    /// NV12/NV21, Y, U, V for I420, the packed pixels for YUYV.
    pub planes: [*mut u8; 3],
    /// Bytes per row of each plane (0 past the format's planes).
    pub strides: [u32; 3],
    /// Rows of each plane you write: the frame's height, half of it (rounded up) for 4:2:0 chroma.
    pub rows: [u32; 3],
}

/// An encoder handle. Safe to share between threads: calls on one handle are serialised.
pub struct aml_jpeg {
    state: Mutex<HandleState>,
}

struct HandleState {
    encoder: Encoder,
    detail: CString,
}

/// Handles are shared between threads by C callers: the compiler must agree they can be.
const _: fn() = || {
    fn send_and_sync<T: Send + Sync>() {}
    send_and_sync::<aml_jpeg>();
};

thread_local! {
    /// The detail message of the last failure that had no handle to keep it (a failed open).
    static THREAD_DETAIL: RefCell<CString> = RefCell::new(CString::default());
}

fn status_of(kind: ErrorKind) -> c_int {
    match kind {
        ErrorKind::InvalidArgument => AML_JPEG_ERR_INVALID_ARGUMENT,
        ErrorKind::Unsupported => AML_JPEG_ERR_UNSUPPORTED,
        ErrorKind::NoDevice => AML_JPEG_ERR_NO_DEVICE,
        ErrorKind::Busy => AML_JPEG_ERR_BUSY,
        ErrorKind::Timeout => AML_JPEG_ERR_TIMEOUT,
        ErrorKind::Device => AML_JPEG_ERR_DEVICE,
        ErrorKind::OutOfMemory => AML_JPEG_ERR_NO_MEMORY,
        ErrorKind::Internal => AML_JPEG_ERR_INTERNAL,
        ErrorKind::BufferTooSmall => AML_JPEG_ERR_BUFFER_TOO_SMALL,
        ErrorKind::PermissionDenied => AML_JPEG_ERR_PERMISSION,
    }
}

fn to_cstring(message: &str) -> CString {
    CString::new(message.replace('\0', " ")).unwrap_or_default()
}

fn set_thread_detail(message: &str) {
    // During thread teardown the slot may be gone: the detail is then dropped.
    let _ = THREAD_DETAIL.try_with(|d| *d.borrow_mut() = to_cstring(message));
}

/// Runs `body`, turning an error or a panic into a status and recording its message with `record`.
fn ffi_call(record: impl FnOnce(&str), body: impl FnOnce() -> Result<(), Error>) -> c_int {
    let outcome = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| {
        Err(Error::new(
            ErrorKind::Internal,
            "internal error: amljpeg panicked",
        ))
    });
    match outcome {
        Ok(()) => AML_JPEG_OK,
        Err(error) => {
            record(error.message());
            status_of(error.kind())
        }
    }
}

/// Runs `body` on the handle's state, recording failures in the handle.
fn with_handle(
    enc: *mut aml_jpeg,
    body: impl FnOnce(&mut HandleState) -> Result<(), Error>,
) -> c_int {
    if enc.is_null() {
        set_thread_detail("the handle is NULL");
        return AML_JPEG_ERR_INVALID_ARGUMENT;
    }
    // SAFETY: a non-NULL handle was created by aml_jpeg_open and not yet closed (the caller's
    // contract); handles are Sync, so shared access from several threads is sound.
    let handle = unsafe { &*enc };
    let mut state = handle.state.lock();
    let state = &mut *state;
    let mut failure = None;
    let status = ffi_call(|m| failure = Some(to_cstring(m)), || body(state));
    state.detail = failure.unwrap_or_default();
    status
}

/// Checks and clears the caller's `jpeg`/`jpeg_len`, runs `encode`, and stores the JPEG it
/// returns there.
fn publish_jpeg<'a>(
    jpeg: *mut *const u8,
    jpeg_len: *mut size_t,
    encode: impl FnOnce() -> Result<&'a [u8], Error>,
) -> Result<(), Error> {
    if jpeg.is_null() || jpeg_len.is_null() {
        return Err(Error::invalid("jpeg or jpeg_len is NULL"));
    }
    // SAFETY: both checked non-NULL; writable per the entry points' contracts.
    unsafe {
        *jpeg = std::ptr::null();
        *jpeg_len = 0;
    }
    let output = encode()?;
    // SAFETY: as above.
    unsafe {
        *jpeg = output.as_ptr();
        *jpeg_len = output.len();
    }
    Ok(())
}

fn pixel_format(format: c_int) -> Result<PixelFormat, Error> {
    PixelFormat::from_raw(format)
        .ok_or_else(|| Error::invalid(format!("unknown pixel format {format}")))
}

/// Checks the pixel arguments and makes a [`Frame`] of them.
///
/// # Safety
/// `pixels` must be NULL or point to `len` readable bytes for the life of the frame.
unsafe fn frame_from_raw<'a>(
    pixels: *const u8,
    len: size_t,
    width: u32,
    height: u32,
    stride: u32,
    format: c_int,
) -> Result<Frame<'a>, Error> {
    if pixels.is_null() {
        return Err(Error::invalid("pixels is NULL"));
    }
    let format = pixel_format(format)?;
    if len > isize::MAX as usize {
        return Err(Error::invalid("len is larger than any buffer can be"));
    }
    // SAFETY: the caller guarantees `len` readable bytes at `pixels` (checked non-NULL above).
    let data = unsafe { std::slice::from_raw_parts(pixels, len) };
    Frame::new(data, width, height, stride, format)
}

/// Opens an encoder.
///
/// `device`: the device node; NULL means `$AML_JPEG_DEVICE` when set, else `/dev/jpegenc`.
/// `backend`: one of `AML_JPEG_BACKEND_*`. `out` receives the handle (NULL on failure).
/// On failure, aml_jpeg_last_error(NULL) gives the detail on this thread.
///
/// # Safety
/// `device` is NULL or a NUL-terminated string; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn aml_jpeg_open(
    device: *const c_char,
    backend: c_int,
    out: *mut *mut aml_jpeg,
) -> c_int {
    ffi_call(set_thread_detail, || {
        if out.is_null() {
            return Err(Error::invalid("out is NULL"));
        }
        // SAFETY: `out` is non-NULL and writable per the contract.
        unsafe { *out = std::ptr::null_mut() };
        let choice = BackendChoice::from_raw(backend)
            .ok_or_else(|| Error::invalid(format!("unknown backend {backend}")))?;
        let path = if device.is_null() {
            None
        } else {
            // SAFETY: non-NULL `device` is a NUL-terminated string per the contract.
            let bytes = unsafe { CStr::from_ptr(device) }.to_bytes();
            if bytes.is_empty() {
                return Err(Error::invalid("device is an empty string"));
            }
            Some(Path::new(OsStr::from_bytes(bytes)))
        };
        let encoder = Encoder::open(path, choice)?;
        let handle = Box::new(aml_jpeg {
            state: Mutex::new(HandleState {
                encoder,
                detail: CString::default(),
            }),
        });
        // SAFETY: as above.
        unsafe { *out = Box::into_raw(handle) };
        Ok(())
    })
}

/// Encodes one frame to JPEG.
///
/// `pixels`/`len`: the frame; `len` must cover every byte the layout implies.
/// `stride`: bytes per row of the first plane, 0 for tightly packed. For NV12/NV21 the chroma
/// plane follows the luma plane (at stride * height) with the luma stride rounded up to even;
/// for I420, U then V follow with stride (stride + 1) / 2. `format`: `AML_JPEG_FORMAT_*`. `quality`: 1..100, libjpeg's meaning.
///
/// On success `*jpeg` points to `*jpeg_len` bytes owned by the handle. They stay valid until
/// the next aml_jpeg_encode*() or aml_jpeg_input_buffer() call on this handle (from any
/// thread), aml_jpeg_release() or aml_jpeg_close(). When the hardware produced them they are
/// the device's own bitstream buffer (no copy), and until then every other handle of the
/// process waits for the device: call aml_jpeg_release() as soon as you are done with them.
///
/// # Safety
/// `enc` is a live handle; `pixels` points to `len` readable bytes; `jpeg` and `jpeg_len` are
/// writable.
#[no_mangle]
pub unsafe extern "C" fn aml_jpeg_encode(
    enc: *mut aml_jpeg,
    pixels: *const u8,
    len: size_t,
    width: u32,
    height: u32,
    stride: u32,
    format: c_int,
    quality: c_int,
    jpeg: *mut *const u8,
    jpeg_len: *mut size_t,
) -> c_int {
    with_handle(enc, |state| {
        publish_jpeg(jpeg, jpeg_len, || {
            // SAFETY: `pixels` points to `len` readable bytes per the contract.
            let frame = unsafe { frame_from_raw(pixels, len, width, height, stride, format) }?;
            state.encoder.encode(&frame, quality)
        })
    })
}

/// Encodes the frame that lies in the dma-buf `fd` from byte `offset` (`len` bytes of it),
/// laid out as for aml_jpeg_encode(): `stride` is the first plane's row length (0: packed),
/// NV12/NV21 chroma follows at `stride * height`, I420's planes after it. Any mappable
/// descriptor works (a memfd, a V4L2 `VIDIOC_EXPBUF` or DRM export, a udmabuf), on every
/// backend and driver. On the newer vendor kernels' driver, when the frame starts the buffer
/// (`offset` 0), its sides are multiples of 16 and it is NV12, NV21, YUYV or RGB24 in the
/// driver's own geometry (or, on SoCs that honour strides, rows 32-byte aligned), the device
/// reads it itself and the CPU touches no pixel (aml_jpeg_last_input() then says
/// AML_JPEG_INPUT_DMABUF). Otherwise the library maps the buffer read-only, reads it between
/// the dma-buf's CPU-access syncs, and encodes it as aml_jpeg_encode() would. The descriptor is
/// never closed or kept; the buffer must not shrink during the call. The JPEG's lifetime is
/// aml_jpeg_encode()'s.
///
/// # Safety
/// `enc` is a live handle; `jpeg` and `jpeg_len` are writable.
#[no_mangle]
pub unsafe extern "C" fn aml_jpeg_encode_dmabuf(
    enc: *mut aml_jpeg,
    fd: c_int,
    offset: size_t,
    len: size_t,
    width: u32,
    height: u32,
    stride: u32,
    format: c_int,
    quality: c_int,
    jpeg: *mut *const u8,
    jpeg_len: *mut size_t,
) -> c_int {
    with_handle(enc, |state| {
        publish_jpeg(jpeg, jpeg_len, || {
            if fd < 0 {
                return Err(Error::invalid(format!("fd {fd} is not a descriptor")));
            }
            let format = pixel_format(format)?;
            // SAFETY: only borrowed for this call; an fd that is not open fails its fstat.
            let buffer = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
            state
                .encoder
                .encode_dmabuf(buffer, offset, len, width, height, stride, format, quality)
        })
    })
}

/// One frame of a batch (see aml_jpeg_encode_batch()); the fields mean what the arguments of
/// aml_jpeg_encode() of the same names mean.
#[repr(C)]
pub struct aml_jpeg_frame {
    pub pixels: *const u8,
    pub len: size_t,
    pub width: u32,
    pub height: u32,
    pub stride: u32,
    pub format: c_int,
}

/// Receives frame `index` of a batch: `status` is AML_JPEG_OK and `jpeg`/`jpeg_len` the JPEG
/// (valid only during the call), or a negative status and NULL/0. It must return (no longjmp)
/// and must not call aml_jpeg functions on the same handle.
pub type aml_jpeg_frame_done = Option<
    unsafe extern "C" fn(
        user: *mut libc::c_void,
        index: size_t,
        status: c_int,
        jpeg: *const u8,
        jpeg_len: size_t,
    ),
>;

/// Encodes `count` frames in order, calling `done(user, index, ...)` for each as it is ready.
/// On the hardware of the E generation (Odroid C1) the next frame is laid out while the device
/// still encodes the previous one, so a batch keeps the device busier than one call per frame;
/// elsewhere the frames simply go one after the other. Every frame is checked before any is
/// encoded (AML_JPEG_ERR_INVALID_ARGUMENT, and `done` is not called); after that the result is
/// AML_JPEG_OK and each frame's own status goes to `done` (a frame the device fails is an
/// error on HARDWARE handles and software on AUTO, and the batch goes on).
///
/// # Safety
/// `enc` is a live handle; `frames` points to `count` frames whose pixels are readable as
/// described; `done` is a valid callback.
#[no_mangle]
pub unsafe extern "C" fn aml_jpeg_encode_batch(
    enc: *mut aml_jpeg,
    frames: *const aml_jpeg_frame,
    count: size_t,
    quality: c_int,
    done: aml_jpeg_frame_done,
    user: *mut libc::c_void,
) -> c_int {
    with_handle(enc, |state| {
        let Some(done) = done else {
            return Err(Error::invalid("done is NULL"));
        };
        if frames.is_null() && count > 0 {
            return Err(Error::invalid("frames is NULL"));
        }
        if count > isize::MAX as usize / std::mem::size_of::<aml_jpeg_frame>() {
            return Err(Error::invalid("count is larger than any array can be"));
        }
        let raw = if count == 0 {
            &[][..]
        } else {
            // SAFETY: non-NULL (checked), `count` elements per the contract.
            unsafe { std::slice::from_raw_parts(frames, count) }
        };
        let mut checked = Vec::with_capacity(count);
        for (i, f) in raw.iter().enumerate() {
            // SAFETY: each frame's pixels are readable per the contract.
            let frame =
                unsafe { frame_from_raw(f.pixels, f.len, f.width, f.height, f.stride, f.format) }
                    .map_err(|e| e.context(&format!("frame {i}")))?;
            checked.push(frame);
        }
        state
            .encoder
            .encode_batch(&checked, quality, |index, result| {
                let (status, ptr, len) = match &result {
                    Ok(jpeg) => (AML_JPEG_OK, jpeg.as_ptr(), jpeg.len()),
                    Err(e) => (status_of(e.kind()), std::ptr::null(), 0),
                };
                // SAFETY: the caller's callback and context; the JPEG is valid for this call.
                unsafe { done(user, index, status, ptr, len) };
            })
    })
}

/// Like aml_jpeg_encode(), but copies the JPEG into `dst` (capacity `cap`) and stores its
/// length in `*jpeg_len`; the device is free again when it returns. With a `cap` of at least
/// aml_jpeg_max_output_size() it always fits; otherwise AML_JPEG_ERR_BUFFER_TOO_SMALL when
/// the JPEG does not fit.
///
/// # Safety
/// `enc` is a live handle; `pixels` points to `len` readable bytes; `dst` points to `cap`
/// writable bytes; `jpeg_len` is writable.
#[no_mangle]
pub unsafe extern "C" fn aml_jpeg_encode_into(
    enc: *mut aml_jpeg,
    pixels: *const u8,
    len: size_t,
    width: u32,
    height: u32,
    stride: u32,
    format: c_int,
    quality: c_int,
    dst: *mut u8,
    cap: size_t,
    jpeg_len: *mut size_t,
) -> c_int {
    with_handle(enc, |state| {
        if dst.is_null() || jpeg_len.is_null() {
            return Err(Error::invalid("dst or jpeg_len is NULL"));
        }
        if cap > isize::MAX as usize {
            return Err(Error::invalid("cap is larger than any buffer can be"));
        }
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { *jpeg_len = 0 };
        // SAFETY: `pixels` points to `len` readable bytes per the contract.
        let frame = unsafe { frame_from_raw(pixels, len, width, height, stride, format) }?;
        let (src, out) = (pixels as usize, dst as usize);
        if src < out.saturating_add(cap) && out < src.saturating_add(len) {
            return Err(Error::invalid("dst overlaps pixels"));
        }
        // SAFETY: `dst` points to `cap` writable bytes per the contract (and not into pixels).
        let dst = unsafe { std::slice::from_raw_parts_mut(dst, cap) };
        let written = state.encoder.encode_into(&frame, quality, dst)?;
        // SAFETY: as above.
        unsafe { *jpeg_len = written };
        Ok(())
    })
}

/// The size of a buffer that always holds the JPEG of a `width`×`height` frame with this
/// handle's settings, for aml_jpeg_encode_into().
///
/// # Safety
/// `enc` is a live handle; `size` is writable.
#[no_mangle]
pub unsafe extern "C" fn aml_jpeg_max_output_size(
    enc: *mut aml_jpeg,
    width: u32,
    height: u32,
    size: *mut size_t,
) -> c_int {
    with_handle(enc, |state| {
        if size.is_null() {
            return Err(Error::invalid("size is NULL"));
        }
        crate::format::check_dimensions(width, height)?;
        let bound = state
            .encoder
            .max_output_size(width as usize, height as usize)?;
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { *size = bound };
        Ok(())
    })
}

/// Chooses the chroma subsampling (`AML_JPEG_SUBSAMPLING_*`) for this handle's next frames.
///
/// # Safety
/// `enc` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn aml_jpeg_set_subsampling(enc: *mut aml_jpeg, subsampling: c_int) -> c_int {
    with_handle(enc, |state| {
        let value = Subsampling::from_raw(subsampling)
            .ok_or_else(|| Error::invalid(format!("unknown subsampling {subsampling}")))?;
        state.encoder.set_subsampling(value);
        Ok(())
    })
}

/// Stores in `*backend` the backend (AML_JPEG_BACKEND_HARDWARE or _SOFTWARE) that produced the
/// last successful frame of this handle; AML_JPEG_ERR_INVALID_ARGUMENT before any frame.
///
/// # Safety
/// `enc` is a live handle; `backend` is writable.
#[no_mangle]
pub unsafe extern "C" fn aml_jpeg_last_backend(enc: *mut aml_jpeg, backend: *mut c_int) -> c_int {
    with_handle(enc, |state| {
        if backend.is_null() {
            return Err(Error::invalid("backend is NULL"));
        }
        let value = match state.encoder.last_backend() {
            Some(Backend::Hardware) => AML_JPEG_BACKEND_HARDWARE,
            Some(Backend::Software) => AML_JPEG_BACKEND_SOFTWARE,
            None => return Err(Error::invalid("no frame has been encoded yet")),
        };
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { *backend = value };
        Ok(())
    })
}

/// Sets how long the process keeps the device open after its last handle is closed, so that a
/// program opening a handle per picture (a compress object per picture, through the libjpeg
/// drop-in) opens and initialises the device once, not per picture: `milliseconds` (default
/// `$AML_JPEG_LINGER_MS`, else 1000); 0 closes it with the last handle. Other processes get
/// the device when the linger ends. Applies to handles closed from now on.
#[no_mangle]
pub extern "C" fn aml_jpeg_set_linger(milliseconds: u32) -> c_int {
    crate::engine::set_linger(std::time::Duration::from_millis(milliseconds as u64));
    AML_JPEG_OK
}

/// Stores in `*input` how the last successful frame's pixels reached the encoder:
/// AML_JPEG_INPUT_CPU, _IN_PLACE or _DMABUF; AML_JPEG_ERR_INVALID_ARGUMENT before any frame.
///
/// # Safety
/// `enc` is a live handle; `input` is writable.
#[no_mangle]
pub unsafe extern "C" fn aml_jpeg_last_input(enc: *mut aml_jpeg, input: *mut c_int) -> c_int {
    with_handle(enc, |state| {
        if input.is_null() {
            return Err(Error::invalid("input is NULL"));
        }
        let path = state
            .encoder
            .last_input()
            .ok_or_else(|| Error::invalid("no frame has been encoded yet"))?;
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { *input = path.raw() };
        Ok(())
    })
}

/// Gives the device back early: the JPEG from the last hardware aml_jpeg_encode() (or a taken
/// input buffer) is invalid from here, and other handles may use the device.
///
/// # Safety
/// `enc` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn aml_jpeg_release(enc: *mut aml_jpeg) -> c_int {
    with_handle(enc, |state| {
        state.encoder.release();
        Ok(())
    })
}

/// Sets how long a frame may take on the device before AML_JPEG_ERR_TIMEOUT (the device is
/// then reset); 0 restores the default, which grows with the frame size.
///
/// # Safety
/// `enc` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn aml_jpeg_set_timeout(enc: *mut aml_jpeg, milliseconds: u32) -> c_int {
    with_handle(enc, |state| {
        let timeout =
            (milliseconds != 0).then(|| std::time::Duration::from_millis(milliseconds as u64));
        state.encoder.set_timeout(timeout);
        Ok(())
    })
}

/// Sets how long an AML_JPEG_BACKEND_HARDWARE handle waits for the device while another
/// handle or process uses it, before AML_JPEG_ERR_BUSY: 0 does not wait, a negative value
/// restores the default (as long as the frame's timeout allows). AUTO handles never wait long:
/// they fall back to software.
///
/// # Safety
/// `enc` is a live handle.
#[no_mangle]
pub unsafe extern "C" fn aml_jpeg_set_busy_wait(enc: *mut aml_jpeg, milliseconds: i32) -> c_int {
    with_handle(enc, |state| {
        let wait = u64::try_from(milliseconds)
            .ok()
            .map(std::time::Duration::from_millis);
        state.encoder.set_busy_wait(wait);
        Ok(())
    })
}

/// Quantises this handle's next frames with these tables instead of by quality (the `quality`
/// argument of the encode calls is then checked but unused): `luma` and `chroma` are 64
/// entries each in natural (row-major) order, each 1..=255; both NULL go back to quality.
/// Tables equal to libjpeg's at some quality work on every backend; any others only on the
/// hardware of the E generation (Odroid C1): elsewhere frames fail with
/// AML_JPEG_ERR_UNSUPPORTED. The JPEG carries exactly these tables.
///
/// # Safety
/// `enc` is a live handle; `luma` and `chroma` are NULL or point to 64 readable entries.
#[no_mangle]
pub unsafe extern "C" fn aml_jpeg_set_quant_tables(
    enc: *mut aml_jpeg,
    luma: *const u16,
    chroma: *const u16,
) -> c_int {
    with_handle(enc, |state| {
        let tables = match (luma.is_null(), chroma.is_null()) {
            (true, true) => None,
            (false, false) => {
                // SAFETY: both non-NULL and 64 entries long per the contract.
                let (l, c) = unsafe { (*luma.cast::<[u16; 64]>(), *chroma.cast::<[u16; 64]>()) };
                Some(QuantTables::custom(l, c)?)
            }
            _ => {
                return Err(Error::invalid(
                    "luma and chroma must both be NULL or both set",
                ))
            }
        };
        state.encoder.set_quant_tables(tables);
        Ok(())
    })
}

/// Puts marker segments into every following JPEG of this handle, on every backend: right
/// after its JFIF APP0, verbatim and in order. `segments` is a sequence of whole APP1..APP15
/// (`FF E1`..`FF EF`) or COM (`FF FE`) segments, each with its big-endian length (which counts
/// the two length bytes and the data, so at most 65,535); `len` 0 removes them. A malformed
/// list (another marker, APP0, a length that does not match `len`) is refused with
/// AML_JPEG_ERR_INVALID_ARGUMENT and the markers set before stay. aml_jpeg_max_output_size()
/// counts them.
///
/// # Safety
/// `enc` is a live handle; `segments` is NULL or points to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn aml_jpeg_set_markers(
    enc: *mut aml_jpeg,
    segments: *const u8,
    len: size_t,
) -> c_int {
    with_handle(enc, |state| {
        let bytes: &[u8] = if len == 0 {
            &[]
        } else if segments.is_null() {
            return Err(Error::invalid(format!("segments is NULL but len is {len}")));
        } else if len > isize::MAX as usize {
            return Err(Error::invalid("len is larger than any buffer can be"));
        } else {
            // SAFETY: non-NULL and `len` readable bytes per the contract.
            unsafe { std::slice::from_raw_parts(segments, len) }
        };
        state.encoder.set_markers(bytes)
    })
}

/// Zero-copy input: lends the device's input area for a `width`×`height` frame of `format`
/// (AML_JPEG_FORMAT_NV12, _NV21, _I420 or _YUYV), described in `*input`. Write the frame's
/// pixels there (the library fills the hardware's padding), then call
/// aml_jpeg_encode_input(). Until then the device is taken; aml_jpeg_release() gives it back.
/// Needs the hardware: AML_JPEG_ERR_UNSUPPORTED on software handles, and for AUTO handles
/// without a usable device the error that keeps it from being used.
///
/// # Safety
/// `enc` is a live handle; `input` is writable.
#[no_mangle]
pub unsafe extern "C" fn aml_jpeg_input_buffer(
    enc: *mut aml_jpeg,
    width: u32,
    height: u32,
    format: c_int,
    input: *mut aml_jpeg_input,
) -> c_int {
    with_handle(enc, |state| {
        if input.is_null() {
            return Err(Error::invalid("input is NULL"));
        }
        let lent = state
            .encoder
            .input_buffer(pixel_format(format)?, width, height)?;
        let narrow = |v: [usize; 3]| -> Result<[u32; 3], Error> {
            let [a, b, c] = v.map(u32::try_from);
            let bad = |_| Error::invalid("a plane too large for the C description");
            Ok([a.map_err(bad)?, b.map_err(bad)?, c.map_err(bad)?])
        };
        let desc = aml_jpeg_input {
            planes: lent.planes,
            strides: narrow(lent.strides)?,
            rows: narrow(lent.rows)?,
        };
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { *input = desc };
        Ok(())
    })
}

/// Encodes the frame written into the buffer from aml_jpeg_input_buffer(). The JPEG is
/// returned and lives as with aml_jpeg_encode().
///
/// # Safety
/// `enc` is a live handle; `jpeg` and `jpeg_len` are writable.
#[no_mangle]
pub unsafe extern "C" fn aml_jpeg_encode_input(
    enc: *mut aml_jpeg,
    quality: c_int,
    jpeg: *mut *const u8,
    jpeg_len: *mut size_t,
) -> c_int {
    with_handle(enc, |state| {
        publish_jpeg(jpeg, jpeg_len, || state.encoder.encode_input(quality))
    })
}

/// Closes a handle and frees everything it owns. NULL is a no-op.
///
/// # Safety
/// `enc` is NULL or a live handle that no other thread is using; it is invalid afterwards.
#[no_mangle]
pub unsafe extern "C" fn aml_jpeg_close(enc: *mut aml_jpeg) {
    if enc.is_null() {
        return;
    }
    // SAFETY: a live handle from aml_jpeg_open, handed back exactly once.
    let handle = unsafe { Box::from_raw(enc) };
    // Dropping must not unwind into C.
    let _ = catch_unwind(AssertUnwindSafe(move || drop(handle)));
}

/// The detail message of the last failure on `enc`, or "" if its last call succeeded. With
/// NULL: the last failure on this thread that had no handle (aml_jpeg_open, or a NULL handle).
/// Never NULL; valid until the next call on the same handle (or thread, for NULL).
///
/// # Safety
/// `enc` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn aml_jpeg_last_error(enc: *const aml_jpeg) -> *const c_char {
    let detail = catch_unwind(AssertUnwindSafe(|| {
        if enc.is_null() {
            // The thread's slot may already be gone (a call from a thread-local destructor).
            return THREAD_DETAIL
                .try_with(|d| d.borrow().as_ptr())
                .unwrap_or(c"".as_ptr());
        }
        // SAFETY: a live handle per the contract.
        let handle = unsafe { &*enc };
        handle.state.lock().detail.as_ptr()
    }));
    detail.unwrap_or(c"".as_ptr())
}

/// A static description of a status code. Never NULL.
#[no_mangle]
pub extern "C" fn aml_jpeg_strerror(status: c_int) -> *const c_char {
    let text: &'static CStr = match status {
        AML_JPEG_OK => c"success",
        AML_JPEG_ERR_INVALID_ARGUMENT => c"invalid argument",
        AML_JPEG_ERR_UNSUPPORTED => c"not supported",
        AML_JPEG_ERR_NO_DEVICE => c"no hardware JPEG encoder device",
        AML_JPEG_ERR_BUSY => c"device busy",
        AML_JPEG_ERR_TIMEOUT => c"timed out waiting for the device",
        AML_JPEG_ERR_DEVICE => c"device error",
        AML_JPEG_ERR_NO_MEMORY => c"out of memory",
        AML_JPEG_ERR_INTERNAL => c"internal error",
        AML_JPEG_ERR_BUFFER_TOO_SMALL => c"output buffer too small",
        AML_JPEG_ERR_PERMISSION => c"permission denied",
        _ => c"unknown status",
    };
    text.as_ptr()
}

/// The library version, e.g. "0.1.0". Never NULL.
#[no_mangle]
pub extern "C" fn aml_jpeg_version() -> *const c_char {
    static VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast()
}
