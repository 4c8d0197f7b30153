//! The public engine: one [`Encoder`] per handle, choosing a backend per frame.

use crate::error::{Error, ErrorKind, Result};
use crate::format::{Frame, Subsampling};
use std::path::{Path, PathBuf};

#[cfg(feature = "software")]
use crate::software::{self, SoftwareEncoder};

/// The device node used when neither the caller nor `$AML_JPEG_DEVICE` names one.
pub const DEFAULT_DEVICE: &str = "/dev/jpegenc";

/// Which backend a handle may use (`AML_JPEG_BACKEND_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendChoice {
    /// The hardware when it can do the job, otherwise software, transparently.
    Auto = 0,
    /// Only the hardware; never falls back.
    Hardware = 1,
    /// Only software.
    Software = 2,
}

impl BackendChoice {
    pub fn from_raw(value: i32) -> Option<Self> {
        match value {
            0 => Some(BackendChoice::Auto),
            1 => Some(BackendChoice::Hardware),
            2 => Some(BackendChoice::Software),
            _ => None,
        }
    }
}

/// The backend that produced a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Hardware,
    Software,
}

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

fn check_quality(quality: i32) -> Result<u8> {
    if (1..=100).contains(&quality) {
        Ok(quality as u8)
    } else {
        Err(Error::invalid(format!(
            "quality {quality} is outside 1..=100"
        )))
    }
}

/// An encoder handle: settings, backends and the buffer the last JPEG lives in.
pub struct Encoder {
    choice: BackendChoice,
    device: PathBuf,
    subsampling: Subsampling,
    #[cfg(feature = "software")]
    software: Option<SoftwareEncoder>,
    output: Vec<u8>,
    last_backend: Option<Backend>,
}

impl Encoder {
    /// Opens an encoder. With [`BackendChoice::Hardware`] this fails unless the device can be used.
    pub fn open(device: Option<&Path>, choice: BackendChoice) -> Result<Self> {
        let device = resolve_device(device);
        if choice == BackendChoice::Hardware {
            return Err(Error::new(
                ErrorKind::NoDevice,
                format!(
                    "no hardware JPEG encoder: this build has no driver for {}",
                    device.display()
                ),
            ));
        }
        if choice == BackendChoice::Software && !cfg!(feature = "software") {
            return Err(Error::unsupported(
                "this build of amljpeg has no software backend",
            ));
        }
        Ok(Encoder {
            choice,
            device,
            subsampling: Subsampling::default(),
            #[cfg(feature = "software")]
            software: None,
            output: Vec::new(),
            last_backend: None,
        })
    }

    pub fn backend_choice(&self) -> BackendChoice {
        self.choice
    }

    pub fn device(&self) -> &Path {
        &self.device
    }

    pub fn subsampling(&self) -> Subsampling {
        self.subsampling
    }

    pub fn set_subsampling(&mut self, subsampling: Subsampling) {
        self.subsampling = subsampling;
    }

    /// The backend that produced the last successful frame.
    pub fn last_backend(&self) -> Option<Backend> {
        self.last_backend
    }

    /// The largest JPEG this handle can produce for a `width`×`height` frame.
    pub fn max_output_size(&self, width: usize, height: usize) -> Result<usize> {
        self.software_bound(width, height)
    }

    /// Encodes a frame; the JPEG borrows the handle until its next use.
    pub fn encode(&mut self, frame: &Frame<'_>, quality: i32) -> Result<&[u8]> {
        let quality = check_quality(quality)?;
        let bound = self.software_bound(frame.width(), frame.height())?;
        if self.output.len() < bound {
            self.output
                .try_reserve(bound - self.output.len())
                .map_err(|_| {
                    Error::new(ErrorKind::OutOfMemory, "cannot allocate the output buffer")
                })?;
            self.output.resize(bound, 0);
        }
        let mut output = std::mem::take(&mut self.output);
        let result = self.encode_software(frame, quality, &mut output);
        self.output = output;
        let len = result?;
        self.last_backend = Some(Backend::Software);
        Ok(&self.output[..len])
    }

    /// Encodes a frame into the caller's buffer and returns the JPEG's length.
    pub fn encode_into(
        &mut self,
        frame: &Frame<'_>,
        quality: i32,
        dst: &mut [u8],
    ) -> Result<usize> {
        let bound = self.software_bound(frame.width(), frame.height())?;
        if dst.len() >= bound {
            let quality = check_quality(quality)?;
            let len = self.encode_software(frame, quality, dst)?;
            self.last_backend = Some(Backend::Software);
            return Ok(len);
        }
        let jpeg = self.encode(frame, quality)?;
        if jpeg.len() > dst.len() {
            return Err(Error::new(
                ErrorKind::BufferTooSmall,
                format!(
                    "the JPEG is {} bytes but the buffer holds {}",
                    jpeg.len(),
                    dst.len()
                ),
            ));
        }
        dst[..jpeg.len()].copy_from_slice(jpeg);
        Ok(jpeg.len())
    }

    #[cfg(feature = "software")]
    fn software_bound(&self, width: usize, height: usize) -> Result<usize> {
        software::max_output_size(width, height, self.subsampling)
    }

    #[cfg(not(feature = "software"))]
    fn software_bound(&self, _width: usize, _height: usize) -> Result<usize> {
        Err(Error::unsupported(
            "this build of amljpeg has no software backend",
        ))
    }

    #[cfg(feature = "software")]
    fn encode_software(&mut self, frame: &Frame<'_>, quality: u8, out: &mut [u8]) -> Result<usize> {
        let software = match &mut self.software {
            Some(s) => s,
            slot => slot.insert(SoftwareEncoder::new()?),
        };
        software.encode(frame, quality, self.subsampling, out)
    }

    #[cfg(not(feature = "software"))]
    fn encode_software(
        &mut self,
        _frame: &Frame<'_>,
        _quality: u8,
        _out: &mut [u8],
    ) -> Result<usize> {
        Err(Error::unsupported(
            "this build of amljpeg has no software backend",
        ))
    }
}
