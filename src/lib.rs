//! amljpeg: JPEG encoding on the Amlogic hardware JPEG encoder (`/dev/jpegenc`), with a
//! libjpeg-turbo software backend behind the same API, and a C ABI (`aml_jpeg_*`).
//!
//! Layers, top to bottom: [`capi`] (the C ABI, thin) → [`engine`] (backends, fallback,
//! locking) → the backends.
//!
//! Only `capi` is exported to C; the other modules carry `cbindgen:ignore`.

#[macro_use]
pub mod abi;
pub mod capi;
/// cbindgen:ignore
pub mod convert;
/// cbindgen:ignore
pub mod engine;
/// cbindgen:ignore
pub mod error;
/// cbindgen:ignore
pub mod format;
/// cbindgen:ignore
pub mod hw;
/// cbindgen:ignore
pub mod quant;
/// cbindgen:ignore
#[cfg(feature = "software")]
mod software;

pub use engine::{Backend, BackendChoice, Encoder};
pub use error::{Error, ErrorKind, Result};
pub use format::{Frame, FrameLayout, PixelFormat, Subsampling};
pub use quant::QuantTables;
