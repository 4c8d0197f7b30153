//! jpegenc-emu: a model of the Amlogic `/dev/jpegenc` kernel driver (E generation: Meson8b,
//! Odroid C1) and of its encoder hardware, written from the protocol facts in the project's
//! spec, quirks included.
//!
//! In-process: [`driver::Driver`] takes ioctls directly. Out of process: `libjpegenc_emu.so`
//! in `LD_PRELOAD` makes `/dev/jpegenc` (or `$JPEGENC_EMU_PATH`) exist for any program
//! ([`preload`]).

mod bits;
pub mod config;
pub mod driver;
pub mod encoder;
pub mod hardware;
pub mod header;
pub mod hwproc;
pub mod input;
pub mod levels;
pub mod memory;

pub mod preload;
pub mod scan;
pub mod stats;
pub mod tables;

pub use config::{Config, Fault, FaultKind, OutputSize};
pub use driver::Driver;
