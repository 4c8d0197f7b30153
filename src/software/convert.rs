//! Pixel conversions shared by the backends: splitting YUV frames into planes at a chosen
//! chroma subsampling. YUV input is taken as JFIF (full-range BT.601) YCbCr, as the hardware
//! and libjpeg-turbo both do.

use crate::format::{Frame, PixelFormat, Subsampling};

/// Chroma decimation of a YUV source format (horizontal, vertical).
fn source_factors(format: PixelFormat) -> (usize, usize) {
    match format {
        PixelFormat::Yuyv => (2, 1),
        _ => (2, 2),
    }
}

/// The (Cb, Cr) pair of source chroma sample `(cx, cy)`.
fn chroma_at(frame: &Frame<'_>, cx: usize, cy: usize) -> (u8, u8) {
    match frame.format() {
        PixelFormat::Nv12 => {
            let row = frame.row(1, cy);
            (row[2 * cx], row[2 * cx + 1])
        }
        PixelFormat::Nv21 => {
            let row = frame.row(1, cy);
            (row[2 * cx + 1], row[2 * cx])
        }
        PixelFormat::I420 => (frame.row(1, cy)[cx], frame.row(2, cy)[cx]),
        PixelFormat::Yuyv => {
            let row = frame.row(0, cy);
            (row[4 * cx + 1], row[4 * cx + 3])
        }
        other => unreachable!("{} has no chroma planes", other.name()),
    }
}

/// Dimensions of a chroma plane at `target` subsampling for a `width`×`height` image.
pub fn chroma_size(width: usize, height: usize, target: Subsampling) -> (usize, usize) {
    let (h, v) = target.factors();
    (width.div_ceil(h), height.div_ceil(v))
}

/// Writes tightly packed Cb and Cr planes at `target` subsampling from a YUV frame, replicating
/// chroma where the target is finer than the source and averaging row pairs where it is coarser.
pub fn split_chroma(frame: &Frame<'_>, target: Subsampling, cb: &mut Vec<u8>, cr: &mut Vec<u8>) {
    let (sh, sv) = source_factors(frame.format());
    let (th, tv) = target.factors();
    let (cw, ch) = chroma_size(frame.width(), frame.height(), target);
    if (sh, sv) == (th, tv) && matches!(frame.format(), PixelFormat::Nv12 | PixelFormat::Nv21) {
        // The common case, a plain de-interleave, kept tight.
        let (first, second) = if frame.format() == PixelFormat::Nv12 {
            (&mut *cb, &mut *cr)
        } else {
            (&mut *cr, &mut *cb)
        };
        first.clear();
        second.clear();
        for y in 0..ch {
            for pair in frame.row(1, y).chunks_exact(2) {
                first.push(pair[0]);
                second.push(pair[1]);
            }
        }
        return;
    }
    let source_rows = frame.height().div_ceil(sv);
    cb.clear();
    cr.clear();
    cb.reserve(cw * ch);
    cr.reserve(cw * ch);
    for y in 0..ch {
        // Source rows that cover target row y: one, or two to average (4:2:2 source, 4:2:0 target).
        let (y0, y1) = if tv > sv {
            let first = y * tv / sv;
            (first, (first + 1).min(source_rows - 1))
        } else {
            let row = y * tv / sv;
            (row, row)
        };
        for x in 0..cw {
            let sx = x * th / sh;
            let (b0, r0) = chroma_at(frame, sx, y0);
            if y0 == y1 {
                cb.push(b0);
                cr.push(r0);
            } else {
                let (b1, r1) = chroma_at(frame, sx, y1);
                cb.push((b0 as u16 + b1 as u16).div_ceil(2) as u8);
                cr.push((r0 as u16 + r1 as u16).div_ceil(2) as u8);
            }
        }
    }
}

/// Writes the luma of a YUV frame into a tightly packed plane of `padded_width`×`padded_height`
/// (at least the frame's size), replicating the last column and row into the padding.
pub fn padded_luma(
    frame: &Frame<'_>,
    padded_width: usize,
    padded_height: usize,
    luma: &mut Vec<u8>,
) {
    let (w, h) = (frame.width(), frame.height());
    luma.clear();
    luma.reserve(padded_width * padded_height);
    for y in 0..h {
        let row = frame.row(0, y);
        let start = luma.len();
        if frame.format() == PixelFormat::Yuyv {
            luma.extend(row.iter().step_by(2).take(w));
        } else {
            luma.extend_from_slice(&row[..w]);
        }
        let last = luma[start + w - 1];
        luma.resize(start + padded_width, last);
    }
    for _ in h..padded_height {
        let start = luma.len() - padded_width;
        luma.extend_from_within(start..start + padded_width);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nv21_swaps_and_422_replicates_rows() {
        // 4x2 NV21: one chroma row (V, U pairs).
        let data = [0u8, 0, 0, 0, 0, 0, 0, 0, 10, 20, 30, 40];
        let f = Frame::new(&data, 4, 2, 0, PixelFormat::Nv21).unwrap();
        let (mut cb, mut cr) = (Vec::new(), Vec::new());
        split_chroma(&f, Subsampling::S422, &mut cb, &mut cr);
        assert_eq!(cb, [20, 40, 20, 40]);
        assert_eq!(cr, [10, 30, 10, 30]);
        split_chroma(&f, Subsampling::S444, &mut cb, &mut cr);
        assert_eq!(cb, [20, 20, 40, 40, 20, 20, 40, 40]);
    }

    #[test]
    fn yuyv_to_420_averages_row_pairs() {
        // 2x3 YUYV: rows with U = 10, 20, 31.
        let data = [1, 10, 2, 100, 3, 20, 4, 100, 5, 31, 6, 100];
        let f = Frame::new(&data, 2, 3, 0, PixelFormat::Yuyv).unwrap();
        let (mut cb, mut cr) = (Vec::new(), Vec::new());
        split_chroma(&f, Subsampling::S420, &mut cb, &mut cr);
        assert_eq!(cb, [15, 31]);
        assert_eq!(cr, [100, 100]);
        let mut luma = Vec::new();
        padded_luma(&f, 2, 3, &mut luma);
        assert_eq!(luma, [1, 2, 3, 4, 5, 6]);
        padded_luma(&f, 4, 4, &mut luma);
        assert_eq!(luma, [1, 2, 2, 2, 3, 4, 4, 4, 5, 6, 6, 6, 5, 6, 6, 6]);
    }
}
