//! Pixel formats, chroma subsampling, and the byte layout of a caller's frame.
//!
//! A [`Frame`] is a caller's pixel buffer whose layout has been checked: every byte any backend
//! will read lies inside the slice, and no size arithmetic overflowed.

use crate::abi;
use crate::error::{Error, Result};

/// The largest width or height a baseline JPEG (and libjpeg) accepts.
pub const MAX_DIMENSION: u32 = 65500;

/// A JPEG's size limits: 1 to [`MAX_DIMENSION`] a side.
pub fn check_dimensions(width: u32, height: u32) -> Result<()> {
    if width == 0 || height == 0 {
        return Err(Error::invalid(format!(
            "width and height must be at least 1 (got {width}x{height})"
        )));
    }
    if width > MAX_DIMENSION || height > MAX_DIMENSION {
        return Err(Error::invalid(format!(
            "{width}x{height} exceeds the JPEG limit of {MAX_DIMENSION} per side"
        )));
    }
    Ok(())
}

c_enum! {
    /// The pixel formats of the C contract (`AML_JPEG_FORMAT_*`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum PixelFormat {
        Rgb24 = abi::AML_JPEG_FORMAT_RGB24,
        Bgr24 = abi::AML_JPEG_FORMAT_BGR24,
        Rgba32 = abi::AML_JPEG_FORMAT_RGBA32,
        Bgra32 = abi::AML_JPEG_FORMAT_BGRA32,
        Nv12 = abi::AML_JPEG_FORMAT_NV12,
        Nv21 = abi::AML_JPEG_FORMAT_NV21,
        I420 = abi::AML_JPEG_FORMAT_I420,
        Yuyv = abi::AML_JPEG_FORMAT_YUYV,
        Gray8 = abi::AML_JPEG_FORMAT_GRAY8,
    }
}

impl PixelFormat {
    pub fn name(self) -> &'static str {
        match self {
            PixelFormat::Rgb24 => "rgb24",
            PixelFormat::Bgr24 => "bgr24",
            PixelFormat::Rgba32 => "rgba32",
            PixelFormat::Bgra32 => "bgra32",
            PixelFormat::Nv12 => "nv12",
            PixelFormat::Nv21 => "nv21",
            PixelFormat::I420 => "i420",
            PixelFormat::Yuyv => "yuyv",
            PixelFormat::Gray8 => "gray8",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        let name = name.to_ascii_lowercase();
        Self::ALL.iter().copied().find(|f| f.name() == name)
    }

    /// Bytes per pixel of the first plane, for the packed formats; 1 for the planar ones' luma.
    pub fn first_plane_bytes_per_pixel(self) -> usize {
        match self {
            PixelFormat::Rgb24 | PixelFormat::Bgr24 => 3,
            PixelFormat::Rgba32 | PixelFormat::Bgra32 => 4,
            PixelFormat::Yuyv => 2,
            PixelFormat::Nv12 | PixelFormat::Nv21 | PixelFormat::I420 | PixelFormat::Gray8 => 1,
        }
    }

    /// Whether the samples are already YCbCr (JFIF full range), rather than RGB or grey.
    pub fn is_yuv(self) -> bool {
        matches!(
            self,
            PixelFormat::Nv12 | PixelFormat::Nv21 | PixelFormat::I420 | PixelFormat::Yuyv
        )
    }
}

c_enum! {
    /// Chroma subsampling of the JPEG (`AML_JPEG_SUBSAMPLING_*`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub enum Subsampling {
        #[default]
        S420 = abi::AML_JPEG_SUBSAMPLING_420,
        S422 = abi::AML_JPEG_SUBSAMPLING_422,
        S444 = abi::AML_JPEG_SUBSAMPLING_444,
    }
}

impl Subsampling {
    /// Horizontal and vertical chroma decimation factors.
    pub fn factors(self) -> (usize, usize) {
        match self {
            Subsampling::S420 => (2, 2),
            Subsampling::S422 => (2, 1),
            Subsampling::S444 => (1, 1),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Subsampling::S420 => "4:2:0",
            Subsampling::S422 => "4:2:2",
            Subsampling::S444 => "4:4:4",
        }
    }
}

/// Where one plane lies in the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Plane {
    pub offset: usize,
    pub stride: usize,
    /// Bytes of one row that carry pixels (`<= stride`).
    pub row_bytes: usize,
    pub rows: usize,
}

impl Plane {
    /// One past the last byte this plane uses.
    fn end(&self) -> Option<usize> {
        if self.rows == 0 {
            return Some(self.offset);
        }
        self.stride
            .checked_mul(self.rows - 1)?
            .checked_add(self.row_bytes)?
            .checked_add(self.offset)
    }
}

/// The checked layout of a frame: its planes and the number of bytes it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLayout {
    pub format: PixelFormat,
    pub width: usize,
    pub height: usize,
    planes: [Plane; 3],
    plane_count: usize,
    /// The smallest buffer length that holds every byte of the layout.
    pub min_len: usize,
}

impl FrameLayout {
    /// Checks dimensions and stride, and derives every plane. `stride` 0 means tightly packed.
    /// For NV12/NV21 the chroma plane follows the luma plane with the luma stride rounded up to
    /// even (an odd width's chroma row is one byte longer than its luma row); for I420 the U
    /// and V planes follow with stride `(stride + 1) / 2`.
    pub fn new(format: PixelFormat, width: u32, height: u32, stride: u32) -> Result<Self> {
        check_dimensions(width, height)?;
        let (w, h) = (width as usize, height as usize);
        let overflow = || Error::invalid("frame size overflows");
        let row_bytes = match format {
            // YUYV carries pixels in pairs: an odd width still needs the whole last pair.
            PixelFormat::Yuyv => w.div_ceil(2) * 4,
            _ => w
                .checked_mul(format.first_plane_bytes_per_pixel())
                .ok_or_else(overflow)?,
        };
        let stride = if stride == 0 {
            row_bytes
        } else {
            stride as usize
        };
        if stride < row_bytes {
            return Err(Error::invalid(format!(
                "stride {stride} is shorter than a {} row of width {width} ({row_bytes} bytes)",
                format.name()
            )));
        }
        let first = Plane {
            offset: 0,
            stride,
            row_bytes,
            rows: h,
        };
        let luma_size = stride.checked_mul(h).ok_or_else(overflow)?;
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let (planes, plane_count) = match format {
            PixelFormat::Nv12 | PixelFormat::Nv21 => {
                let chroma = Plane {
                    offset: luma_size,
                    stride: stride + (stride & 1),
                    row_bytes: cw * 2,
                    rows: ch,
                };
                ([first, chroma, Plane::default()], 2)
            }
            PixelFormat::I420 => {
                let cstride = stride.div_ceil(2);
                let u = Plane {
                    offset: luma_size,
                    stride: cstride,
                    row_bytes: cw,
                    rows: ch,
                };
                let v = Plane {
                    offset: cstride
                        .checked_mul(ch)
                        .and_then(|s| s.checked_add(luma_size))
                        .ok_or_else(overflow)?,
                    ..u
                };
                ([first, u, v], 3)
            }
            _ => ([first, Plane::default(), Plane::default()], 1),
        };
        let mut min_len = 0;
        for plane in &planes[..plane_count] {
            min_len = min_len.max(plane.end().ok_or_else(overflow)?);
        }
        Ok(FrameLayout {
            format,
            width: w,
            height: h,
            planes,
            plane_count,
            min_len,
        })
    }

    pub fn planes(&self) -> &[Plane] {
        &self.planes[..self.plane_count]
    }
}

/// A caller's pixels together with their checked layout.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    data: &'a [u8],
    layout: FrameLayout,
}

impl<'a> Frame<'a> {
    pub fn new(
        data: &'a [u8],
        width: u32,
        height: u32,
        stride: u32,
        format: PixelFormat,
    ) -> Result<Self> {
        let layout = FrameLayout::new(format, width, height, stride)?;
        if data.len() < layout.min_len {
            return Err(Error::invalid(format!(
                "buffer of {} bytes is too short: a {}x{} {} frame with this stride needs {}",
                data.len(),
                width,
                height,
                format.name(),
                layout.min_len
            )));
        }
        Ok(Frame { data, layout })
    }

    pub fn layout(&self) -> &FrameLayout {
        &self.layout
    }

    pub fn format(&self) -> PixelFormat {
        self.layout.format
    }

    pub fn width(&self) -> usize {
        self.layout.width
    }

    pub fn height(&self) -> usize {
        self.layout.height
    }

    /// The bytes of plane `index`, from its first byte to the end of its last row.
    pub fn plane_bytes(&self, index: usize) -> &'a [u8] {
        let plane = self.layout.planes()[index];
        let end = plane.end().expect("checked in FrameLayout::new");
        &self.data[plane.offset..end]
    }

    pub fn plane(&self, index: usize) -> Plane {
        self.layout.planes()[index]
    }

    /// Row `y` of plane `index`, exactly `row_bytes` long.
    pub fn row(&self, index: usize, y: usize) -> &'a [u8] {
        let plane = self.layout.planes()[index];
        let start = plane.offset + y * plane.stride;
        &self.data[start..start + plane.row_bytes]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_layout_needs_exact_last_row() {
        let l = FrameLayout::new(PixelFormat::Rgb24, 5, 3, 16).unwrap();
        assert_eq!(l.min_len, 16 * 2 + 15);
        assert!(Frame::new(&[0; 46], 5, 3, 16, PixelFormat::Rgb24).is_err());
        assert!(Frame::new(&[0; 47], 5, 3, 16, PixelFormat::Rgb24).is_ok());
    }

    #[test]
    fn planar_layouts() {
        let l = FrameLayout::new(PixelFormat::Nv12, 5, 3, 0).unwrap();
        assert_eq!(
            l.planes()[1],
            Plane {
                offset: 15,
                stride: 6,
                row_bytes: 6,
                rows: 2
            }
        );
        assert_eq!(l.min_len, 15 + 6 + 6);
        let l = FrameLayout::new(PixelFormat::I420, 6, 4, 8).unwrap();
        assert_eq!(
            l.planes()[1],
            Plane {
                offset: 32,
                stride: 4,
                row_bytes: 3,
                rows: 2
            }
        );
        assert_eq!(l.planes()[2].offset, 40);
        assert_eq!(l.min_len, 40 + 4 + 3);
        let l = FrameLayout::new(PixelFormat::Yuyv, 3, 1, 0).unwrap();
        assert_eq!(l.min_len, 8);
    }

    #[test]
    fn rejects_bad_geometry() {
        assert!(FrameLayout::new(PixelFormat::Rgb24, 0, 1, 0).is_err());
        assert!(FrameLayout::new(PixelFormat::Rgb24, 1, 0, 0).is_err());
        assert!(FrameLayout::new(PixelFormat::Rgb24, 65501, 1, 0).is_err());
        assert!(FrameLayout::new(PixelFormat::Rgba32, 10, 1, 39).is_err());
        // The largest legal frame with a huge stride must not overflow on 32-bit targets either.
        let r = FrameLayout::new(PixelFormat::Rgba32, 65500, 65500, u32::MAX);
        if usize::BITS == 32 {
            assert!(r.is_err());
        } else {
            assert!(r.is_ok());
        }
    }
}
