//! JPEG headers from what the library asked for. [`build`]: the 592-byte header both drivers
//! write (SOI, DQT, DHT, SOF0 with component ids 0/1/2, three fill bytes, SOS), which the
//! library reads the scan against; on J the driver writes it into its assist buffer through a
//! kernel alias whose caching is not known (media_modules' `codec_mm_vmap`), so what the CPU
//! reads there may be stale, and the library never reads it. [`file_header`]: the header the
//! caller gets instead, byte for byte what libjpeg-turbo writes for the same frame (SOI, JFIF
//! APP0, the caller's segments, a DQT per table, SOF0 with ids 1/2/3, a DHT per table, SOS), so
//! a JPEG's start does not depend on the backend that made it.

use super::annex_k::{HuffmanSpec, AC_CHROMA, AC_LUMA, DC_CHROMA, DC_LUMA};
use super::protocol::HEADER_LEN;
use crate::format::Subsampling;
use crate::markers::{JFIF_APP0, SOI};
use crate::quant::{QuantTables, ZIGZAG};

fn push_huffman(out: &mut Vec<u8>, class_id: u8, spec: &HuffmanSpec) {
    out.push(class_id);
    out.extend_from_slice(&spec.bits);
    out.extend_from_slice(spec.values);
}

fn luma_sampling(subsampling: Subsampling) -> u8 {
    if subsampling == Subsampling::S422 {
        0x21
    } else {
        0x22
    }
}

fn zigzag(table: &[u16; 64]) -> impl Iterator<Item = u8> + '_ {
    ZIGZAG.iter().map(|&n| table[n] as u8)
}

/// The length of [`file_header`] without the caller's segments.
pub const FILE_HEADER_LEN: usize = 623;

/// The header a caller's JPEG starts with: libjpeg-turbo's for a `width`×`height` frame coded
/// with `tables`, the standard Huffman tables and `subsampling`, with `segments` after the
/// JFIF APP0. The driver's scan follows it unchanged (same tables, same component order).
pub fn file_header(
    width: u16,
    height: u16,
    subsampling: Subsampling,
    tables: &QuantTables,
    segments: &[u8],
) -> Vec<u8> {
    let mut h = Vec::with_capacity(FILE_HEADER_LEN + segments.len());
    h.extend_from_slice(&SOI);
    h.extend_from_slice(&JFIF_APP0);
    h.extend_from_slice(segments);
    for (id, table) in [(0u8, &tables.luma), (1, &tables.chroma)] {
        h.extend_from_slice(&[0xFF, 0xDB, 0x00, 67, id]);
        h.extend(zigzag(table));
    }
    h.extend_from_slice(&[0xFF, 0xC0, 0x00, 17, 8]);
    h.extend_from_slice(&height.to_be_bytes());
    h.extend_from_slice(&width.to_be_bytes());
    let sampling = luma_sampling(subsampling);
    h.extend_from_slice(&[3, 1, sampling, 0, 2, 0x11, 1, 3, 0x11, 1]);
    for (class_id, spec) in [
        (0x00, &DC_LUMA),
        (0x10, &AC_LUMA),
        (0x01, &DC_CHROMA),
        (0x11, &AC_CHROMA),
    ] {
        let len = 2 + 1 + 16 + spec.values.len();
        h.extend_from_slice(&[0xFF, 0xC4]);
        h.extend_from_slice(&(len as u16).to_be_bytes());
        push_huffman(&mut h, class_id, spec);
    }
    h.extend_from_slice(&[0xFF, 0xDA, 0x00, 12, 3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0]);
    debug_assert_eq!(h.len(), FILE_HEADER_LEN + segments.len());
    h
}

/// The header for a `width`×`height` frame (each at most 65,535) quantised with `tables`.
pub fn build(width: u16, height: u16, subsampling: Subsampling, tables: &QuantTables) -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER_LEN);
    h.extend_from_slice(&[0xFF, 0xD8, 0xFF, 0xDB, 0x00, 132]);
    for (id, table) in [(0u8, &tables.luma), (1, &tables.chroma)] {
        h.push(id);
        h.extend(zigzag(table));
    }
    h.extend_from_slice(&[0xFF, 0xC4, 0x01, 0xA2]);
    push_huffman(&mut h, 0x00, &DC_LUMA);
    push_huffman(&mut h, 0x01, &DC_CHROMA);
    push_huffman(&mut h, 0x10, &AC_LUMA);
    push_huffman(&mut h, 0x11, &AC_CHROMA);
    h.extend_from_slice(&[0xFF, 0xC0, 0x00, 17, 8]);
    h.extend_from_slice(&height.to_be_bytes());
    h.extend_from_slice(&width.to_be_bytes());
    let sampling = luma_sampling(subsampling);
    h.extend_from_slice(&[3, 0, sampling, 0, 1, 0x11, 1, 2, 0x11, 1]);
    h.extend_from_slice(&[0xFF, 0xFF, 0xFF]);
    h.extend_from_slice(&[0xFF, 0xDA, 0x00, 12, 3, 0, 0x00, 1, 0x11, 2, 0x11, 0, 63, 0]);
    debug_assert_eq!(h.len(), HEADER_LEN);
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hw::output::check_header;

    #[test]
    fn the_header_is_the_drivers_byte_map() {
        let h = build(1280, 720, Subsampling::S420, &QuantTables::for_quality(90));
        assert_eq!(h.len(), HEADER_LEN);
        assert_eq!(&h[136..140], &[0xFF, 0xC4, 0x01, 0xA2]);
        assert_eq!(&h[561..565], &[0x02, 0xD0, 0x05, 0x00]);
        assert_eq!(&h[575..578], &[0xFF; 3]);
        let info = check_header(&h).unwrap();
        assert_eq!((info.width, info.height, info.h, info.v), (1280, 720, 2, 2));
        let h = build(8, 8, Subsampling::S422, &QuantTables::for_quality(50));
        assert_eq!(h[567], 0x21);
    }

    /// The caller's header is libjpeg-turbo's, byte for byte, up to the scan.
    #[cfg(feature = "software")]
    #[test]
    fn the_file_header_is_libjpeg_turbos() {
        for (sub, tj_sub, q) in [
            (Subsampling::S420, turbojpeg::Subsamp::Sub2x2, 85),
            (Subsampling::S422, turbojpeg::Subsamp::Sub2x1, 100),
            (Subsampling::S420, turbojpeg::Subsamp::Sub2x2, 7),
        ] {
            let (w, h) = (100usize, 36usize);
            let pixels: Vec<u8> = (0..w * h * 3).map(|i| (i * 7 % 251) as u8).collect();
            let image = turbojpeg::Image {
                pixels: &pixels[..],
                width: w,
                pitch: w * 3,
                height: h,
                format: turbojpeg::PixelFormat::RGB,
            };
            let jpeg = turbojpeg::compress(image, q, tj_sub).unwrap();
            let ours = file_header(
                w as u16,
                h as u16,
                sub,
                &QuantTables::for_quality(q as u8),
                &[],
            );
            assert_eq!(ours.len(), FILE_HEADER_LEN);
            assert_eq!(&jpeg[..FILE_HEADER_LEN], &ours[..], "{sub:?} q{q}");
        }
        let com = [0xFF, 0xFE, 0, 4, b'h', b'i'];
        let with = file_header(8, 8, Subsampling::S420, &QuantTables::for_quality(50), &com);
        assert_eq!(&with[20..26], &com);
        assert_eq!(&with[26..28], &[0xFF, 0xDB]);
    }
}
