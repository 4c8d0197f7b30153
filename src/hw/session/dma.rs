//! Zero-copy input from a dma-buf (the media_modules driver, docs/driver.md §8): the device
//! reads the caller's frame where it lies, so the CPU touches no pixel. Only where the device
//! reads exactly the caller's bytes: the frame at the buffer's start (the driver ignores
//! offsets), whole 16x16 blocks (no padding to read from past the frame), a format the device
//! takes as it is, and the driver's canvas geometry, or any 32-aligned strides on the SoCs
//! that honour them. Anything else is `Unsupported`, and the caller takes the ordinary path.

use super::j::Input;
use super::{device_error, Coding, Job, Session};
use crate::error::{Error, Result};
use crate::format::{FrameLayout, PixelFormat};
use crate::hw::geometry::Geometry;
use crate::hw::protocol::{fmt, j};
use std::os::fd::BorrowedFd;
use std::time::Instant;

/// How the device reads a frame in a dma-buf: the job's geometry (format and size) and the
/// strides and luma rows NEW_CMD2 carries.
struct DmaLayout {
    geometry: Geometry,
    strides: [u32; 3],
    luma_rows: u32,
}

fn refuse(why: impl Into<String>) -> Error {
    Error::unsupported(format!("no zero-copy dma-buf input: {}", why.into()))
}

impl Session {
    /// Encodes the frame laid out as `layout` at the start of `buffer` (`len` bytes of it
    /// hold the frame), read by the device itself. The descriptor stays the caller's: the
    /// driver's reference to it is dropped before this returns.
    pub fn encode_dmabuf(
        &mut self,
        buffer: BorrowedFd<'_>,
        layout: &FrameLayout,
        len: usize,
        coding: Coding<'_>,
        deadline: Instant,
    ) -> Result<()> {
        let dma = self.dma_layout(layout, len)?;
        let geometry = dma.geometry;
        self.admit(
            geometry.width,
            geometry.height,
            coding.quant,
            coding.subsampling,
        )?;
        self.output = super::Output::None;
        self.lent = None;
        // Any descriptor the driver cannot import (a memfd on a real kernel) is the caller's
        // to read instead: not a fault of the device.
        j::config_dma_input(self.fd(), buffer)
            .map_err(|e| refuse(format!("the driver cannot import it ({})", e.desc())))?;
        let job = Job {
            geometry: &geometry,
            coding,
        };
        let input = Input::DmaBuf {
            strides: dma.strides,
            luma_rows: dma.luma_rows,
            len: len as u32,
        };
        let result = self
            .run_j(job, input, deadline)
            .and_then(|scan| self.assemble(job, scan));
        let released = j::release_dma_input(self.fd());
        result?;
        released.map_err(|e| device_error("RELEASE_DMA_INPUT", e))
    }

    /// Whether the device can read this frame where it lies, and how.
    fn dma_layout(&self, layout: &FrameLayout, len: usize) -> Result<DmaLayout> {
        let mm = match &self.info.media_modules {
            Some(mm) if mm.dma_input => mm,
            Some(_) => return Err(refuse("the driver's dma-buf input is switched off")),
            None => {
                return Err(refuse(format!(
                    "the {:?}-generation driver takes no dma-buf",
                    self.info.generation
                )))
            }
        };
        let strided = mm.honours_strides;
        let format = match layout.format {
            PixelFormat::Nv12 => fmt::NV12,
            PixelFormat::Nv21 => fmt::NV21,
            PixelFormat::Yuyv => fmt::YUV422_SINGLE,
            PixelFormat::Rgb24 => fmt::RGB888,
            // The canvas path never sets up I420's U plane; the C1+ path does.
            PixelFormat::I420 if strided => fmt::YUV420,
            other => {
                return Err(refuse(format!(
                    "this device does not read {} as it is",
                    other.name()
                )))
            }
        };
        let (w, h) = (layout.width, layout.height);
        if w % 16 != 0 || h % 16 != 0 {
            return Err(refuse(format!(
                "the device reads whole 16x16 blocks, so it would read past the edges of a \
                 {w}x{h} frame"
            )));
        }
        if len > u32::MAX as usize {
            return Err(refuse("the frame is larger than the driver can be told"));
        }
        let geometry = Geometry::new(format, w, h);
        let planes = layout.planes();
        let canvas = [
            (0, geometry.stride),
            (geometry.plane_offsets[1], geometry.chroma_stride),
            (geometry.plane_offsets[2], geometry.chroma_stride),
        ];
        let as_canvas = planes
            .iter()
            .zip(canvas)
            .all(|(p, (offset, stride))| p.offset == offset && p.stride == stride);
        let aligned = planes.iter().all(|p| p.stride % 32 == 0);
        let readable = as_canvas || (strided && aligned);
        if !readable {
            let how = if strided {
                "strides that are multiples of 32"
            } else {
                "the driver's own geometry on this SoC"
            };
            return Err(refuse(format!(
                "the device reads a {w}x{h} {} with {how} (first plane every {} bytes), this \
                 frame's rows are {} bytes apart",
                layout.format.name(),
                geometry.stride,
                planes[0].stride
            )));
        }
        let stride = |i: usize| planes.get(i).map_or(0, |p| p.stride as u32);
        Ok(DmaLayout {
            geometry,
            strides: [stride(0), stride(1), stride(2)],
            luma_rows: h as u32,
        })
    }
}
