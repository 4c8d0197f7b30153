//! amljpeg: JPEG encoding on the Amlogic hardware JPEG encoder (`/dev/jpegenc`), with a
//! libjpeg-turbo software backend behind the same API, and a C ABI (`aml_jpeg_*`).
//!
//! Layers, top to bottom: [`capi`] (the C ABI, thin) → [`engine`] (backends, fallback,
//! locking) → the backends.
//!
//! Only `abi` (the numbers) and `capi` are exported to C; the other modules carry
//! `cbindgen:ignore`. The hardware backend's insides (`hw`) are public only with the
//! `internals` feature, for the benchmarks, the fuzz targets and the tests.

#[macro_use]
pub mod abi;
pub mod capi;
/// cbindgen:ignore
mod dmabuf;
/// cbindgen:ignore
pub mod engine;
/// cbindgen:ignore
pub mod error;
/// cbindgen:ignore
pub mod format;
/// cbindgen:ignore
#[cfg(feature = "internals")]
pub mod hw;
/// cbindgen:ignore
#[cfg(not(feature = "internals"))]
mod hw;
/// cbindgen:ignore
pub mod markers;
/// cbindgen:ignore
pub mod quant;
/// cbindgen:ignore
#[cfg(feature = "software")]
mod software;

pub use engine::{Backend, BackendChoice, Encoder, InputPath};
pub use error::{Error, ErrorKind, Result};
pub use format::{Frame, FrameLayout, PixelFormat, Subsampling};
pub use hw::buffers::{BufferInfo, DeviceInfo};
pub use hw::protocol::Generation;
pub use quant::QuantTables;
