//! The numbers of the C contract, each written once: statuses, backends, pixel formats and
//! subsamplings. cbindgen exports them into include/amljpeg.h; the Rust enums take their
//! values from here ([`c_enum!`]), and tests/header.rs checks the hand copies in the drop-in
//! and the Python bindings against the header.

use libc::c_int;

/// Declares a fieldless enum whose values are constants of this module, with `from_raw` (the
/// variant of a C value) and `raw` (its C value).
macro_rules! c_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:path),* $(,)? }) => {
        $(#[$meta])*
        $vis enum $name {
            $($(#[$vmeta])* $variant = $value as isize),*
        }

        impl $name {
            /// Every variant, in the contract's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The variant whose C value is `value`, if any.
            pub fn from_raw(value: i32) -> Option<Self> {
                match value {
                    $(v if v == $value => Some($name::$variant),)*
                    _ => None,
                }
            }

            /// The C value.
            pub fn raw(self) -> i32 {
                self as i32
            }
        }
    };
}

/// Success.
pub const AML_JPEG_OK: c_int = 0;
/// An argument is NULL, out of range, inconsistent, or a buffer is too short for its layout.
pub const AML_JPEG_ERR_INVALID_ARGUMENT: c_int = -1;
/// Valid, but not something this backend or build can do.
pub const AML_JPEG_ERR_UNSUPPORTED: c_int = -2;
/// No usable hardware encoder device.
pub const AML_JPEG_ERR_NO_DEVICE: c_int = -3;
/// The device is in use by another process.
pub const AML_JPEG_ERR_BUSY: c_int = -4;
/// The device did not complete in time.
pub const AML_JPEG_ERR_TIMEOUT: c_int = -5;
/// The device or driver failed, or produced no valid JPEG.
pub const AML_JPEG_ERR_DEVICE: c_int = -6;
/// Out of memory.
pub const AML_JPEG_ERR_NO_MEMORY: c_int = -7;
/// An internal error (a bug in amljpeg).
pub const AML_JPEG_ERR_INTERNAL: c_int = -8;
/// The destination buffer of aml_jpeg_encode_into() is too small.
pub const AML_JPEG_ERR_BUFFER_TOO_SMALL: c_int = -9;
/// The device exists but this process lacks permission to open it.
pub const AML_JPEG_ERR_PERMISSION: c_int = -10;

/// Hardware when the device can do the job, otherwise software, transparently.
pub const AML_JPEG_BACKEND_AUTO: c_int = 0;
/// Hardware only: never falls back.
pub const AML_JPEG_BACKEND_HARDWARE: c_int = 1;
/// Software (libjpeg-turbo) only.
pub const AML_JPEG_BACKEND_SOFTWARE: c_int = 2;

/// Packed 8-bit R, G, B.
pub const AML_JPEG_FORMAT_RGB24: c_int = 0;
/// Packed 8-bit B, G, R.
pub const AML_JPEG_FORMAT_BGR24: c_int = 1;
/// Packed 8-bit R, G, B, A (alpha ignored).
pub const AML_JPEG_FORMAT_RGBA32: c_int = 2;
/// Packed 8-bit B, G, R, A (alpha ignored).
pub const AML_JPEG_FORMAT_BGRA32: c_int = 3;
/// Y plane, then interleaved U/V at half resolution (stride = Y stride rounded up to even).
pub const AML_JPEG_FORMAT_NV12: c_int = 4;
/// Y plane, then interleaved V/U at half resolution (stride = Y stride rounded up to even).
pub const AML_JPEG_FORMAT_NV21: c_int = 5;
/// Y plane, then U and V planes at half resolution (stride = (Y stride + 1) / 2).
pub const AML_JPEG_FORMAT_I420: c_int = 6;
/// Packed 4:2:2 Y0 U Y1 V.
pub const AML_JPEG_FORMAT_YUYV: c_int = 7;
/// 8-bit grey: a one-component JPEG from software; from the hardware (which always codes
/// three components) a JPEG with neutral chroma.
pub const AML_JPEG_FORMAT_GRAY8: c_int = 8;

/// How the last frame's pixels reached the encoder: the library's CPU read them (it laid them
/// out for the device, or encoded them in software).
pub const AML_JPEG_INPUT_CPU: c_int = 0;
/// The caller wrote them into the device's input area (aml_jpeg_input_buffer()).
pub const AML_JPEG_INPUT_IN_PLACE: c_int = 1;
/// The device read them from the caller's dma-buf itself (aml_jpeg_encode_dmabuf()): the CPU
/// touched none.
pub const AML_JPEG_INPUT_DMABUF: c_int = 2;

/// Chroma subsampling 4:2:0 (the default).
pub const AML_JPEG_SUBSAMPLING_420: c_int = 0;
/// Chroma subsampling 4:2:2.
pub const AML_JPEG_SUBSAMPLING_422: c_int = 1;
/// No chroma subsampling (software only; AUTO falls back to software for it).
pub const AML_JPEG_SUBSAMPLING_444: c_int = 2;
