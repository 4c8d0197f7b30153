//! The 592-byte header both drivers write (SOI, DQT, DHT, SOF0 with component ids 0/1/2,
//! three fill bytes, SOS), rebuilt from what the library asked for. On J the driver writes it
//! into its assist buffer through a kernel alias whose caching is not known (media_modules'
//! `codec_mm_vmap`), so what the CPU reads there may be a stale copy; the header depends only
//! on the frame's size, sampling and tables, so the library does not need to read it.

use super::annex_k::{HuffmanSpec, AC_CHROMA, AC_LUMA, DC_CHROMA, DC_LUMA};
use super::protocol::HEADER_LEN;
use crate::format::Subsampling;
use crate::quant::{QuantTables, ZIGZAG};

fn push_huffman(out: &mut Vec<u8>, class_id: u8, spec: &HuffmanSpec) {
    out.push(class_id);
    out.extend_from_slice(&spec.bits);
    out.extend_from_slice(spec.values);
}

/// The header for a `width`×`height` frame (each at most 65,535) quantised with `tables`.
pub fn build(width: u16, height: u16, subsampling: Subsampling, tables: &QuantTables) -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER_LEN);
    h.extend_from_slice(&[0xFF, 0xD8, 0xFF, 0xDB, 0x00, 132]);
    for (id, table) in [(0u8, &tables.luma), (1, &tables.chroma)] {
        h.push(id);
        h.extend(ZIGZAG.iter().map(|&n| table[n] as u8));
    }
    h.extend_from_slice(&[0xFF, 0xC4, 0x01, 0xA2]);
    push_huffman(&mut h, 0x00, &DC_LUMA);
    push_huffman(&mut h, 0x01, &DC_CHROMA);
    push_huffman(&mut h, 0x10, &AC_LUMA);
    push_huffman(&mut h, 0x11, &AC_CHROMA);
    let luma_sampling = if subsampling == Subsampling::S422 {
        0x21
    } else {
        0x22
    };
    h.extend_from_slice(&[0xFF, 0xC0, 0x00, 17, 8]);
    h.extend_from_slice(&height.to_be_bytes());
    h.extend_from_slice(&width.to_be_bytes());
    h.extend_from_slice(&[3, 0, luma_sampling, 0, 1, 0x11, 1, 2, 0x11, 1]);
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
}
