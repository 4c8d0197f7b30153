//! The software backend: libjpeg-turbo (SIMD on x86 and ARM) through the `turbojpeg` crate.
//! Its quantisation tables are libjpeg's `jpeg_set_quality(q, TRUE)`, as the contract requires.

mod convert;

use crate::error::{Error, ErrorKind, Result};
use crate::format::{Frame, PixelFormat, Subsampling};
use convert::{chroma_size, padded_luma, split_chroma};
use turbojpeg::{Compressor, Image, Subsamp, YuvPlanesImage};

pub struct SoftwareEncoder {
    compressor: Compressor,
    luma: Vec<u8>,
    cb: Vec<u8>,
    cr: Vec<u8>,
}

fn tj_error(error: turbojpeg::Error) -> Error {
    Error::new(ErrorKind::Internal, format!("libjpeg-turbo: {error}"))
}

fn tj_subsamp(subsampling: Subsampling) -> Subsamp {
    match subsampling {
        Subsampling::S420 => Subsamp::Sub2x2,
        Subsampling::S422 => Subsamp::Sub2x1,
        Subsampling::S444 => Subsamp::None,
    }
}

/// An upper bound on the JPEG size libjpeg-turbo can produce for this frame.
pub fn max_output_size(width: usize, height: usize, subsampling: Subsampling) -> Result<usize> {
    turbojpeg::compressed_buf_len(width, height, tj_subsamp(subsampling)).map_err(tj_error)
}

impl SoftwareEncoder {
    pub fn new() -> Result<Self> {
        Ok(SoftwareEncoder {
            compressor: Compressor::new().map_err(tj_error)?,
            luma: Vec::new(),
            cb: Vec::new(),
            cr: Vec::new(),
        })
    }

    /// Encodes `frame` into `out` (which must be at least [`max_output_size`] long) and returns
    /// the JPEG's length.
    pub fn encode(
        &mut self,
        frame: &Frame<'_>,
        quality: u8,
        subsampling: Subsampling,
        out: &mut [u8],
    ) -> Result<usize> {
        self.compressor
            .set_quality(quality as i32)
            .map_err(tj_error)?;
        let (width, height) = (frame.width(), frame.height());
        let packed = |format| Image {
            pixels: frame.plane_bytes(0),
            width,
            pitch: frame.plane(0).stride,
            height,
            format,
        };
        let result = match frame.format() {
            PixelFormat::Rgb24 => {
                self.compress(packed(turbojpeg::PixelFormat::RGB), subsampling, out)
            }
            PixelFormat::Bgr24 => {
                self.compress(packed(turbojpeg::PixelFormat::BGR), subsampling, out)
            }
            PixelFormat::Rgba32 => {
                self.compress(packed(turbojpeg::PixelFormat::RGBX), subsampling, out)
            }
            PixelFormat::Bgra32 => {
                self.compress(packed(turbojpeg::PixelFormat::BGRX), subsampling, out)
            }
            PixelFormat::Gray8 => {
                self.compressor
                    .set_subsamp(Subsamp::Gray)
                    .map_err(tj_error)?;
                self.compressor
                    .compress_to_slice(packed(turbojpeg::PixelFormat::GRAY), out)
            }
            PixelFormat::I420
                if subsampling == Subsampling::S420 && width % 2 == 0 && height % 2 == 0 =>
            {
                // Already planar 4:2:0: hand the caller's planes over without a copy.
                let image = YuvPlanesImage {
                    y_plane: frame.plane_bytes(0),
                    u_plane: frame.plane_bytes(1),
                    v_plane: frame.plane_bytes(2),
                    width,
                    height,
                    y_stride: frame.plane(0).stride,
                    u_stride: frame.plane(1).stride,
                    v_stride: frame.plane(2).stride,
                    subsamp: Subsamp::Sub2x2,
                };
                self.compressor.compress_yuv_planes_to_slice(&image, out)
            }
            PixelFormat::Nv12 | PixelFormat::Nv21 | PixelFormat::I420 | PixelFormat::Yuyv => {
                return self.encode_yuv(frame, subsampling, out);
            }
        };
        result.map_err(tj_error)
    }

    fn compress(
        &mut self,
        image: Image<&[u8]>,
        subsampling: Subsampling,
        out: &mut [u8],
    ) -> std::result::Result<usize, turbojpeg::Error> {
        self.compressor.set_subsamp(tj_subsamp(subsampling))?;
        self.compressor.compress_to_slice(image, out)
    }

    /// Semi-planar or packed YUV: split into planes at the wanted subsampling, then compress.
    fn encode_yuv(
        &mut self,
        frame: &Frame<'_>,
        subsampling: Subsampling,
        out: &mut [u8],
    ) -> Result<usize> {
        let (width, height) = (frame.width(), frame.height());
        split_chroma(frame, subsampling, &mut self.cb, &mut self.cr);
        // libjpeg-turbo reads luma padded to whole chroma samples; the caller's plane has no
        // padding when a side is odd, nor any luma plane at all for YUYV.
        let (hf, vf) = subsampling.factors();
        let (pw, ph) = (width.next_multiple_of(hf), height.next_multiple_of(vf));
        let (y_plane, y_stride) =
            if frame.format() == PixelFormat::Yuyv || pw != width || ph != height {
                padded_luma(frame, pw, ph, &mut self.luma);
                (&self.luma[..], pw)
            } else {
                (frame.plane_bytes(0), frame.plane(0).stride)
            };
        let (cw, _) = chroma_size(width, height, subsampling);
        let image = YuvPlanesImage {
            y_plane,
            u_plane: &self.cb[..],
            v_plane: &self.cr[..],
            width,
            height,
            y_stride,
            u_stride: cw,
            v_stride: cw,
            subsamp: tj_subsamp(subsampling),
        };
        self.compressor
            .compress_yuv_planes_to_slice(&image, out)
            .map_err(tj_error)
    }
}
