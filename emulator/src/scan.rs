//! The scan at the hardware's pace (`scan.c`): libjpeg-turbo's SIMD DCT and Huffman coder over
//! the planes the MFDIN model produced, with the hardware's quantisation by 16-bit reciprocals
//! of the job's tables in between and the standard Huffman tables, so the driver's header
//! decodes it as it decodes the reference encoder's ([`crate::encoder`], the same arithmetic
//! around a float DCT, several times slower).
//!
//! The MCU rows are split into two bands coded on two threads. The second band starts from the
//! DC predictors the frame has there and counts its bits, so the two join at bit granularity
//! into exactly the scan one pass over the frame writes (tested).

use crate::bits::BitWriter;
use crate::encoder::{Plane, ScanInput};
use crate::tables;
use std::ffi::{c_char, c_int, c_uchar, c_uint, c_ulong};
// Links the libjpeg-turbo that scan.c calls.
use turbojpeg_sys as _;

/// libjpeg's JMSG_LENGTH_MAX.
const MESSAGE_LEN: usize = 200;

/// Below this many MCU rows one band does it all (a thread costs more than it saves).
const MIN_ROWS_TO_SPLIT: usize = 8;

extern "C" {
    fn amljpeg_emu_turbo_band(
        y: *const c_uchar,
        y_stride: usize,
        cb: *const c_uchar,
        cr: *const c_uchar,
        c_stride: usize,
        width: c_uint,
        v_samp: c_int,
        first_row: c_uint,
        rows: c_uint,
        luma_r: *const u16,
        chroma_r: *const u16,
        out: *mut *mut c_uchar,
        out_len: *mut c_ulong,
        scan_start: *mut c_ulong,
        scan_end: *mut c_ulong,
        sentinel_bits: *mut c_uint,
        message: *mut c_char,
    ) -> c_int;
}

/// The planes of one job and the hardware's reciprocals of its quantisers (natural order).
struct Frame<'a> {
    input: &'a ScanInput<'a>,
    luma: [u16; 64],
    chroma: [u16; 64],
}

/// One band's scan, in libjpeg-turbo's buffer: after `bits` bits of data (byte-stuffed)
/// come the sentinel and padding.
struct Band {
    jpeg: *mut c_uchar,
    start: usize,
    end: usize,
    bits: u64,
}

impl Band {
    fn bytes(&self) -> &[u8] {
        // SAFETY: `jpeg` holds the whole JPEG, of which [start, end) is the scan.
        unsafe { std::slice::from_raw_parts(self.jpeg.add(self.start), self.end - self.start) }
    }
}

impl Drop for Band {
    fn drop(&mut self) {
        // SAFETY: the buffer came from malloc (libjpeg's memory destination); only we hold it.
        unsafe { libc::free(self.jpeg.cast()) };
    }
}

// SAFETY: a Band is the only owner of its buffer.
unsafe impl Send for Band {}

impl Frame<'_> {
    /// Codes MCU rows [first, first + rows).
    fn band(&self, first: usize, rows: usize) -> Result<Band, String> {
        let mut jpeg: *mut c_uchar = std::ptr::null_mut();
        let (mut len, mut start, mut end): (c_ulong, c_ulong, c_ulong) = (0, 0, 0);
        let mut sentinel: c_uint = 0;
        let mut message = [0 as c_char; MESSAGE_LEN];
        let input = self.input;
        // SAFETY: `encode_scan` checked that the planes cover every MCU row the band reads
        // (its rows and the one above); the tables are 64 bytes; the out-pointers are ours;
        // `message` has JMSG_LENGTH_MAX bytes.
        let status = unsafe {
            amljpeg_emu_turbo_band(
                input.y.data.as_ptr(),
                input.y.stride,
                input.cb.data.as_ptr(),
                input.cr.data.as_ptr(),
                input.cb.stride,
                (input.mcu_cols * 16) as c_uint,
                input.layout.v as c_int,
                first as c_uint,
                rows as c_uint,
                self.luma.as_ptr(),
                self.chroma.as_ptr(),
                &mut jpeg,
                &mut len,
                &mut start,
                &mut end,
                &mut sentinel,
                message.as_mut_ptr(),
            )
        };
        if status != 0 {
            // SAFETY: on failure the C side wrote a NUL-terminated message into `message`.
            let text = unsafe { std::ffi::CStr::from_ptr(message.as_ptr()) };
            return Err(format!("libjpeg-turbo: {}", text.to_string_lossy()));
        }
        let mut band = Band {
            jpeg,
            start: start as usize,
            end: end as usize,
            bits: 0,
        };
        // The scan ends: data, the sentinel (its last bit a 0), 1s to the byte boundary.
        let bytes = band.bytes();
        let stuffed = bytes.iter().filter(|&&b| b == 0xFF).count();
        let padding = bytes.last().map_or(0, |b| b.trailing_ones());
        band.bits = (8 * (bytes.len() - stuffed) as u64)
            .checked_sub(u64::from(padding + sentinel))
            .ok_or("libjpeg-turbo's scan is shorter than its sentinel")?;
        Ok(band)
    }
}

/// Appends the entropy-coded data of `input`'s MCUs to `out` (no EOI), as
/// [`crate::encoder::encode_scan`] does. Every plane must cover the MCUs (the MFDIN model's
/// planes are padded to 16).
pub fn encode_scan(input: &ScanInput<'_>, out: &mut Vec<u8>) -> Result<(), String> {
    let (layout, mcu_cols, mcu_rows) = (input.layout, input.mcu_cols, input.mcu_rows);
    let (width, height) = (mcu_cols * 16, mcu_rows * 8 * layout.v);
    let covers = |p: &Plane<'_>, w: usize, h: usize| {
        p.width >= w && p.height >= h && p.stride >= p.width && p.data.len() >= p.stride * h
    };
    if layout.h != 2
        || !(1..=2).contains(&layout.v)
        || mcu_cols == 0
        || mcu_rows == 0
        || !covers(&input.y, width, height)
        || !covers(&input.cb, width / 2, mcu_rows * 8)
        || !covers(&input.cr, width / 2, mcu_rows * 8)
        || input.cb.stride != input.cr.stride
    {
        return Err(format!(
            "planes do not cover {mcu_cols}x{mcu_rows} MCUs of {layout:?}"
        ));
    }
    let frame = Frame {
        input,
        luma: reciprocals(input.luma),
        chroma: reciprocals(input.chroma),
    };
    if mcu_rows < MIN_ROWS_TO_SPLIT {
        join(&[frame.band(0, mcu_rows)?], out);
        return Ok(());
    }
    let split = mcu_rows / 2;
    let (top, bottom) = std::thread::scope(|s| {
        let bottom = s.spawn(|| frame.band(split, mcu_rows - split));
        let top = frame.band(0, split);
        (
            top,
            bottom
                .join()
                .unwrap_or_else(|_| Err("band panicked".into())),
        )
    });
    join(&[top?, bottom?], out);
    Ok(())
}

fn reciprocals(table: &[u8; 64]) -> [u16; 64] {
    std::array::from_fn(|i| tables::reciprocal(table[i]) as u16)
}

/// Appends the bands' bits one after the other, padded with 1s to a byte, byte-stuffed.
fn join(bands: &[Band], out: &mut Vec<u8>) {
    let mut writer = BitWriter::new(out);
    for band in bands {
        let bytes = band.bytes();
        let whole = (band.bits / 8) as usize;
        let tail = (band.bits % 8) as u32;
        let last = if writer.aligned() {
            // Byte-aligned: the whole bytes keep their stuffing, copy them as they are.
            let stuffed = stuffed_len(bytes, whole);
            writer.put_stuffed(&bytes[..stuffed]);
            bytes.get(stuffed).copied()
        } else {
            let data = unstuff(bytes, whole + (tail > 0) as usize);
            writer.put_bytes(&data[..whole]);
            data.get(whole).copied()
        };
        if tail > 0 {
            let last = last.expect("the band's bits are in its bytes");
            writer.put(u32::from(last >> (8 - tail)), tail);
        }
    }
    writer.flush();
}

/// How many bytes of a byte-stuffed scan hold its first `n` bytes of data.
fn stuffed_len(bytes: &[u8], n: usize) -> usize {
    let (mut at, mut data) = (0, 0);
    while data < n {
        let want = n - data;
        match bytes[at..at + want].iter().position(|&b| b == 0xFF) {
            Some(ff) => {
                at += ff + 2;
                data += ff + 1;
            }
            None => return at + want,
        }
    }
    at
}

/// The first `n` bytes of data in a byte-stuffed scan.
fn unstuff(bytes: &[u8], n: usize) -> std::borrow::Cow<'_, [u8]> {
    let mut data = Vec::with_capacity(n);
    let mut rest = bytes;
    while data.len() < n {
        let want = n - data.len();
        match rest[..want.min(rest.len())].iter().position(|&b| b == 0xFF) {
            Some(at) => {
                data.extend_from_slice(&rest[..=at]);
                rest = &rest[at + 2..]; // past the stuffed zero
            }
            None if data.is_empty() => return std::borrow::Cow::Borrowed(&rest[..want]),
            None => {
                data.extend_from_slice(&rest[..want]);
            }
        }
    }
    std::borrow::Cow::Owned(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoder::McuLayout;

    /// Two bands joined are byte for byte the scan of one pass over the frame: a frame whose
    /// DC jumps at every row and whose chroma is noise, split after the first row, in the
    /// middle and before the last; 4:2:0 and 4:2:2; quantisers 1 to 255.
    #[test]
    fn joined_bands_are_the_single_pass_scan() {
        for (w, h, v, q) in [
            (64, 128, 2, 1u8),
            (1280, 720, 2, 6),
            (320, 96, 1, 40),
            (48, 64, 1, 255),
        ] {
            let ch = if v == 2 { h / 2 } else { h };
            let noise = amljpeg_testkit::noise_bytes(w * h + w * ch, w as u32 * 7 + q as u32);
            let yd: Vec<u8> = (0..w * h)
                .map(|i| ((i / w) * 255 / h) as u8 ^ (noise[i] % 24))
                .collect();
            let cbd: Vec<u8> = (0..w / 2 * ch).map(|i| (i % 200) as u8).collect();
            let crd = &noise[w * h..w * h + w / 2 * ch];
            let (luma, chroma) = ([q; 64], std::array::from_fn(|i| (i as u8 % 50) + q / 2 + 1));
            let rows = h / (8 * v);
            let input = ScanInput {
                y: Plane::packed(&yd, w, h),
                cb: Plane::packed(&cbd, w / 2, ch),
                cr: Plane::packed(crd, w / 2, ch),
                layout: McuLayout { h: 2, v },
                mcu_cols: w / 16,
                mcu_rows: rows,
                luma: &luma,
                chroma: &chroma,
            };
            let frame = Frame {
                input: &input,
                luma: reciprocals(&luma),
                chroma: reciprocals(&chroma),
            };
            let mut single = Vec::new();
            join(&[frame.band(0, rows).unwrap()], &mut single);
            for split in [1, rows / 2, rows - 1] {
                let mut joined = Vec::new();
                let (a, b) = (
                    frame.band(0, split).unwrap(),
                    frame.band(split, rows - split).unwrap(),
                );
                join(&[a, b], &mut joined);
                assert_eq!(joined, single, "{w}x{h} v{v} q{q} split at {split}");
            }
            let mut via_threads = Vec::new();
            encode_scan(&input, &mut via_threads).unwrap();
            assert_eq!(via_threads, single);
        }
    }
}
