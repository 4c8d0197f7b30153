//! A GStreamer video frame as amljpeg takes it: its format, and its bytes where they lie when
//! the planes sit as the library's layout has them (one memory, chroma right after the luma
//! rows at the rule's strides: what most producers allocate), else packed into a copy. A
//! frame in a single dma-buf laid out so goes to the library as the dma-buf itself.

use amljpeg::{FrameLayout, PixelFormat};
use gst_video::VideoFormat;

/// The library's format for a GStreamer one, and whether the element must reorder the bytes
/// first (xRGB and xBGR, whose padding byte comes first, into RGB).
pub fn pixel_format(format: VideoFormat) -> Option<(PixelFormat, bool)> {
    Some(match format {
        VideoFormat::Nv12 => (PixelFormat::Nv12, false),
        VideoFormat::Nv21 => (PixelFormat::Nv21, false),
        VideoFormat::I420 => (PixelFormat::I420, false),
        VideoFormat::Yuy2 => (PixelFormat::Yuyv, false),
        VideoFormat::Rgb => (PixelFormat::Rgb24, false),
        VideoFormat::Bgr => (PixelFormat::Bgr24, false),
        VideoFormat::Rgbx | VideoFormat::Rgba => (PixelFormat::Rgba32, false),
        VideoFormat::Bgrx | VideoFormat::Bgra => (PixelFormat::Bgra32, false),
        VideoFormat::Gray8 => (PixelFormat::Gray8, false),
        VideoFormat::Xrgb | VideoFormat::Xbgr => (PixelFormat::Rgb24, true),
        _ => return None,
    })
}

/// The GStreamer formats the sink pad takes.
pub const FORMATS: [VideoFormat; 13] = [
    VideoFormat::Nv12,
    VideoFormat::Nv21,
    VideoFormat::I420,
    VideoFormat::Yuy2,
    VideoFormat::Rgb,
    VideoFormat::Bgr,
    VideoFormat::Rgbx,
    VideoFormat::Bgrx,
    VideoFormat::Xrgb,
    VideoFormat::Xbgr,
    VideoFormat::Rgba,
    VideoFormat::Bgra,
    VideoFormat::Gray8,
];

/// Where a frame's planes are in its buffer: byte offsets and strides, from its video meta or
/// its caps.
pub struct Planes<'a> {
    pub offsets: &'a [usize],
    pub strides: &'a [i32],
}

/// The frame's layout when its planes sit in `len` bytes from `offsets[0]` as the library's
/// rule places them (first plane's stride given, the others derived), else None.
pub fn in_place(
    format: PixelFormat,
    width: u32,
    height: u32,
    planes: &Planes<'_>,
    len: usize,
) -> Option<FrameLayout> {
    let stride = u32::try_from(*planes.strides.first()?).ok()?;
    let layout = FrameLayout::new(format, width, height, stride).ok()?;
    let base = planes.offsets[0];
    let matches = layout.planes().iter().enumerate().all(|(i, p)| {
        planes.offsets.get(i).and_then(|o| o.checked_sub(base)) == Some(p.offset)
            && planes.strides.get(i).and_then(|&s| usize::try_from(s).ok()) == Some(p.stride)
    });
    (matches && base.checked_add(layout.min_len)? <= len).then_some(layout)
}

/// Copies the frame's planes out of `data` into the library's packed layout (stride 0),
/// reordering xRGB/xBGR into RGB.
pub fn pack(
    format: PixelFormat,
    source: VideoFormat,
    width: u32,
    height: u32,
    planes: &Planes<'_>,
    data: &[u8],
) -> Option<Vec<u8>> {
    let layout = FrameLayout::new(format, width, height, 0).ok()?;
    let mut out = vec![0u8; layout.min_len];
    for (i, p) in layout.planes().iter().enumerate() {
        let (offset, stride) = (planes.offsets[i], usize::try_from(planes.strides[i]).ok()?);
        for y in 0..p.rows {
            let at = offset + y * stride;
            let dst = &mut out[p.offset + y * p.stride..][..p.row_bytes];
            match source {
                // Four bytes a pixel, the padding first: keep the colour bytes in RGB order.
                VideoFormat::Xrgb | VideoFormat::Xbgr => {
                    let row = data.get(at..at + 4 * width as usize)?;
                    let order = if source == VideoFormat::Xrgb {
                        [1, 2, 3]
                    } else {
                        [3, 2, 1]
                    };
                    for (px, rgb) in row.chunks_exact(4).zip(dst.chunks_exact_mut(3)) {
                        rgb.copy_from_slice(&[px[order[0]], px[order[1]], px[order[2]]]);
                    }
                }
                _ => dst.copy_from_slice(data.get(at..at + p.row_bytes)?),
            }
        }
    }
    Some(out)
}
