//! Helpers shared by the integration tests: test images, format conversion, JPEG inspection.
#![allow(dead_code, unused_imports)]

pub mod emulator;

use amljpeg::PixelFormat;

pub use amljpeg_testkit::{load_rgb, noise, psnr, testdata, Rgb};

/// A smooth synthetic image with some detail.
pub fn synthetic(width: usize, height: usize) -> Rgb {
    let mut pixels = Vec::with_capacity(width * height * 3);
    for y in 0..height {
        for x in 0..width {
            let r = (x * 255 / width.max(1)) as u8;
            let g = (y * 255 / height.max(1)) as u8;
            let b = (((x / 8 + y / 8) % 2) * 120 + 60) as u8;
            pixels.extend([r, g, b]);
        }
    }
    Rgb {
        width,
        height,
        pixels,
    }
}

fn clamp(v: f32) -> u8 {
    v.round().clamp(0.0, 255.0) as u8
}

/// JFIF full-range BT.601.
pub fn rgb_to_ycc(p: &[u8]) -> (f32, f32, f32) {
    let (r, g, b) = (p[0] as f32, p[1] as f32, p[2] as f32);
    (
        0.299 * r + 0.587 * g + 0.114 * b,
        -0.168736 * r - 0.331264 * g + 0.5 * b + 128.0,
        0.5 * r - 0.418688 * g - 0.081312 * b + 128.0,
    )
}

/// Converts an RGB image to `format`, tightly packed (stride 0).
pub fn convert(img: &Rgb, format: PixelFormat) -> Vec<u8> {
    let (w, h) = (img.width, img.height);
    let px = |x: usize, y: usize| &img.pixels[(y * w + x) * 3..(y * w + x) * 3 + 3];
    let luma = || -> Vec<u8> {
        (0..h)
            .flat_map(|y| (0..w).map(move |x| (y, x)))
            .map(|(y, x)| clamp(rgb_to_ycc(px(x, y)).0))
            .collect()
    };
    // Average chroma over a 2x2 (or 2x1) block.
    let chroma = |cx: usize, cy: usize, rows: usize| -> (u8, u8) {
        let (mut cb, mut cr, mut n) = (0.0, 0.0, 0.0);
        for y in cy * rows..(cy * rows + rows).min(h) {
            for x in cx * 2..(cx * 2 + 2).min(w) {
                let (_, b, r) = rgb_to_ycc(px(x, y));
                cb += b;
                cr += r;
                n += 1.0;
            }
        }
        (clamp(cb / n), clamp(cr / n))
    };
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    match format {
        PixelFormat::Rgb24 => img.pixels.clone(),
        PixelFormat::Bgr24 => img
            .pixels
            .chunks(3)
            .flat_map(|p| [p[2], p[1], p[0]])
            .collect(),
        PixelFormat::Rgba32 => img
            .pixels
            .chunks(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        PixelFormat::Bgra32 => img
            .pixels
            .chunks(3)
            .flat_map(|p| [p[2], p[1], p[0], 7])
            .collect(),
        PixelFormat::Gray8 => luma(),
        PixelFormat::Nv12 | PixelFormat::Nv21 => {
            let mut out = luma();
            for cy in 0..ch {
                for cx in 0..cw {
                    let (b, r) = chroma(cx, cy, 2);
                    if format == PixelFormat::Nv12 {
                        out.extend([b, r])
                    } else {
                        out.extend([r, b])
                    }
                }
            }
            out
        }
        PixelFormat::I420 => {
            let mut out = luma();
            let c: Vec<(u8, u8)> = (0..ch)
                .flat_map(|cy| (0..cw).map(move |cx| (cx, cy)))
                .map(|(cx, cy)| chroma(cx, cy, 2))
                .collect();
            out.extend(c.iter().map(|p| p.0));
            out.extend(c.iter().map(|p| p.1));
            out
        }
        PixelFormat::Yuyv => {
            let y = luma();
            let mut out = Vec::new();
            for row in 0..h {
                for cx in 0..cw {
                    let (b, r) = chroma(cx, row, 1);
                    let y0 = y[row * w + 2 * cx];
                    let y1 = y[row * w + (2 * cx + 1).min(w - 1)];
                    out.extend([y0, b, y1, r]);
                }
            }
            out
        }
    }
}

/// Decodes a JPEG to RGB with libjpeg-turbo (it must decode).
pub fn decode_rgb(jpeg: &[u8]) -> Rgb {
    amljpeg_testkit::decode_rgb(jpeg).expect("JPEG decodes")
}

/// Reference: libjpeg-turbo's own JPEG of the RGB image.
pub fn reference_jpeg(img: &Rgb, quality: i32, subsamp: turbojpeg::Subsamp) -> Vec<u8> {
    let image = turbojpeg::Image {
        pixels: &img.pixels[..],
        width: img.width,
        pitch: img.width * 3,
        height: img.height,
        format: turbojpeg::PixelFormat::RGB,
    };
    turbojpeg::compress(image, quality, subsamp)
        .unwrap()
        .to_vec()
}

/// The marker segments of a JPEG up to SOS: (marker, payload).
pub fn segments(jpeg: &[u8]) -> Vec<(u8, Vec<u8>)> {
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "SOI");
    let mut out = Vec::new();
    let mut pos = 2;
    while pos + 4 <= jpeg.len() {
        if jpeg[pos] != 0xFF {
            panic!("expected a marker at {pos}");
        }
        let marker = jpeg[pos + 1];
        if marker == 0xFF {
            pos += 1;
            continue;
        }
        let len = u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]) as usize;
        out.push((marker, jpeg[pos + 4..pos + 2 + len].to_vec()));
        pos += 2 + len;
        if marker == 0xDA {
            break;
        }
    }
    out
}

/// (component id, H, V) of the SOF0.
pub fn sof_components(jpeg: &[u8]) -> Vec<(u8, u8, u8)> {
    let (_, sof) = segments(jpeg)
        .into_iter()
        .find(|(m, _)| *m == 0xC0)
        .expect("SOF0");
    sof[6..]
        .chunks(3)
        .map(|c| (c[0], c[1] >> 4, c[1] & 15))
        .collect()
}

/// The DQT tables (id -> 64 values in zig-zag order).
pub fn dqt_tables(jpeg: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    for (_, seg) in segments(jpeg).into_iter().filter(|(m, _)| *m == 0xDB) {
        for t in seg.chunks(65) {
            assert_eq!(t[0] >> 4, 0, "8-bit tables");
            out.push((t[0] & 15, t[1..].to_vec()));
        }
    }
    out
}

/// Writes `frame` into the device's input area lent by `Encoder::input_buffer`, plane by plane
/// and row by row at the strides the description gives, checking it matches the frame.
pub fn write_lent(frame: &amljpeg::Frame<'_>, input: &amljpeg::engine::InputBuffer) {
    for (index, plane) in frame.layout().planes().iter().enumerate() {
        assert_eq!(input.rows[index], plane.rows, "plane {index}");
        for y in 0..plane.rows {
            let row = frame.row(index, y);
            assert!(row.len() <= input.strides[index]);
            // SAFETY: inside the input area the library lent, at its stride.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    row.as_ptr(),
                    input.planes[index].add(y * input.strides[index]),
                    row.len(),
                )
            };
        }
    }
}
