//! A handle's settings: which backend, which device, subsampling, deadlines, tables, marker
//! segments; and how a quality and a frame size turn into quantisation and a deadline.

use super::BackendChoice;
use crate::error::{Error, Result};
use crate::format::Subsampling;
use crate::hw::session::Coding;
use crate::markers::Markers;
use crate::quant::{QuantTables, Quantisation};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The device node used when neither the caller nor `$AML_JPEG_DEVICE` names one.
pub const DEFAULT_DEVICE: &str = "/dev/jpegenc";

/// Resolves the device path: the caller's, else `$AML_JPEG_DEVICE`, else `/dev/jpegenc`.
pub fn resolve_device(device: Option<&Path>) -> PathBuf {
    match device {
        Some(path) => path.to_path_buf(),
        None => std::env::var_os("AML_JPEG_DEVICE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DEVICE)),
    }
}

/// The default time a frame may take on the device: generous against the hardware's ~150
/// megapixels per second, overridable with `$AML_JPEG_TIMEOUT_MS`.
pub fn default_timeout(pixels: usize) -> Duration {
    // Read once: the environment is walked at every getenv, and this is asked every frame.
    static FROM_ENV: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    let from_env = FROM_ENV.get_or_init(|| {
        std::env::var("AML_JPEG_TIMEOUT_MS")
            .ok()
            .and_then(|v| v.parse().ok())
    });
    match from_env {
        Some(ms) => Duration::from_millis(*ms),
        None => Duration::from_millis(200) + Duration::from_secs_f64(pixels as f64 / 10e6),
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub choice: BackendChoice,
    pub device: PathBuf,
    pub subsampling: Subsampling,
    /// The longest a frame may take on the device (None: derived from its size).
    pub timeout: Option<Duration>,
    /// The longest HARDWARE waits for a busy device (None: the frame's timeout).
    pub busy_wait: Option<Duration>,
    /// Caller's tables; the quality is ignored while they are set.
    pub tables: Option<QuantTables>,
    /// The caller's segments after each JPEG's JFIF APP0.
    pub markers: Markers,
}

impl Settings {
    pub fn new(choice: BackendChoice, device: PathBuf) -> Settings {
        Settings {
            choice,
            device,
            subsampling: Subsampling::default(),
            timeout: None,
            busy_wait: None,
            tables: None,
            markers: Markers::default(),
        }
    }

    /// How the device codes a frame quantised with `quant`.
    pub fn coding<'a>(&'a self, quant: &'a Quantisation) -> Coding<'a> {
        Coding {
            quant,
            subsampling: self.subsampling,
            segments: self.markers.segments(),
        }
    }

    /// How the next frame at `quality` (1..=100) is quantised.
    pub fn quantisation(&self, quality: i32) -> Result<Quantisation> {
        if !(1..=100).contains(&quality) {
            return Err(Error::invalid(format!(
                "quality {quality} is outside 1..=100"
            )));
        }
        Ok(Quantisation::new(quality as u8, self.tables.as_ref()))
    }

    /// The deadline of a job of `pixels` pixels starting now.
    pub fn deadline(&self, pixels: usize) -> Instant {
        Instant::now() + self.timeout.unwrap_or_else(|| default_timeout(pixels))
    }
}
