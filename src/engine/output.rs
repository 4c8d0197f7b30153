//! The software backend's side of a handle: libjpeg-turbo, made on first use, the buffer its
//! last JPEG lives in, and the caller's marker segments put after libjpeg-turbo's APP0.

use super::settings::Settings;
#[cfg(feature = "software")]
use super::BackendChoice;
use crate::error::{Error, ErrorKind, Result};
use crate::format::Frame;
use crate::quant::Quantisation;

#[cfg(feature = "software")]
use crate::software::{self, SoftwareEncoder};

#[derive(Default)]
pub struct SoftwareOutput {
    #[cfg(feature = "software")]
    encoder: Option<SoftwareEncoder>,
    /// The last JPEG is `buf[..len]`.
    buf: Vec<u8>,
    len: usize,
}

impl SoftwareOutput {
    /// The last JPEG made here.
    pub fn jpeg(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// A size that always holds the JPEG of a `width`×`height` frame.
    #[cfg(feature = "software")]
    pub fn bound(&self, settings: &Settings, width: usize, height: usize) -> Result<usize> {
        let image = software::max_output_size(width, height, settings.subsampling)?;
        Ok(image + settings.markers.segments().len())
    }

    #[cfg(not(feature = "software"))]
    pub fn bound(&self, _settings: &Settings, _width: usize, _height: usize) -> Result<usize> {
        Err(Error::unsupported(
            "this build of amljpeg has no software backend",
        ))
    }

    /// Encodes into our own buffer (see [`SoftwareOutput::jpeg`]).
    pub fn encode(
        &mut self,
        settings: &Settings,
        frame: &Frame<'_>,
        quant: &Quantisation,
    ) -> Result<()> {
        let bound = self.bound(settings, frame.width(), frame.height())?;
        if self.buf.len() < bound {
            self.buf.try_reserve(bound - self.buf.len()).map_err(|_| {
                Error::new(ErrorKind::OutOfMemory, "cannot allocate the output buffer")
            })?;
            self.buf.resize(bound, 0);
        }
        let mut buf = std::mem::take(&mut self.buf);
        let result = self.encode_into(settings, frame, quant, &mut buf);
        self.buf = buf;
        self.len = result?;
        Ok(())
    }

    /// Encodes into `out` (at least [`SoftwareOutput::bound`] long) and returns the length.
    #[cfg(feature = "software")]
    pub fn encode_into(
        &mut self,
        settings: &Settings,
        frame: &Frame<'_>,
        quant: &Quantisation,
        out: &mut [u8],
    ) -> Result<usize> {
        if settings.choice == BackendChoice::Hardware {
            return Err(Error::new(
                ErrorKind::Internal,
                "software used on a hardware-only handle",
            ));
        }
        // libjpeg-turbo's TurboJPEG API takes a quality, never tables.
        let Quantisation::Quality(quality) = *quant else {
            return Err(Error::unsupported(
                "custom quantisation tables need the hardware of the E generation",
            ));
        };
        let encoder = match &mut self.encoder {
            Some(s) => s,
            slot => slot.insert(SoftwareEncoder::new()?),
        };
        // libjpeg-turbo writes after room for the segments; only SOI and APP0 move then.
        let segments = settings.markers.segments();
        let room = out
            .get_mut(segments.len()..)
            .ok_or_else(|| Error::new(ErrorKind::Internal, "no room for the marker segments"))?;
        let len = encoder.encode(frame, quality, settings.subsampling, room)?;
        crate::markers::insert_after_app0(out, len, segments)
    }

    #[cfg(not(feature = "software"))]
    pub fn encode_into(
        &mut self,
        _settings: &Settings,
        _frame: &Frame<'_>,
        _quant: &Quantisation,
        _out: &mut [u8],
    ) -> Result<usize> {
        Err(Error::unsupported(
            "this build of amljpeg has no software backend",
        ))
    }
}
