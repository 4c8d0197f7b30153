//! The 592-byte JPEG header the E driver writes at bitstream offset 0 (docs/driver.md §6), and the
//! sampling an output format implies (§4).

use crate::tables::{HuffmanSpec, AC_CHROMA, AC_LUMA, DC_CHROMA, DC_LUMA, ZIGZAG};

pub const HEADER_LEN: usize = 592;

/// JPEG sampling factors the header declares for the luma component (chroma are 1×1).
pub fn declared_luma_sampling(output_format: u32) -> (u8, u8) {
    match output_format {
        2..=4 => (2, 2), // NV21, NV12, YUV420: 4:2:0
        0 => (2, 1),     // YUV422_SINGLE: 4:2:2
        _ => (1, 1),     // 4:4:4 and the RGB values: declared 1x1 (the MFDIN disagrees)
    }
}

fn push_huffman(out: &mut Vec<u8>, class_id: u8, spec: &HuffmanSpec) {
    out.push(class_id);
    out.extend_from_slice(&spec.bits);
    out.extend_from_slice(spec.values);
}

/// Builds the header: SOI, one DQT (tables 0 and 1, zig-zag), one DHT (Annex K), SOF0 with
/// component ids 0, 1, 2, three 0xFF fill bytes, SOS.
pub fn build(
    width: u32,
    height: u32,
    output_format: u32,
    luma: &[u8; 64],
    chroma: &[u8; 64],
) -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER_LEN);
    h.extend_from_slice(&[0xFF, 0xD8]);
    h.extend_from_slice(&[0xFF, 0xDB, 0x00, 132]);
    for (id, table) in [(0u8, luma), (1, chroma)] {
        h.push(id);
        h.extend(ZIGZAG.iter().map(|&n| table[n]));
    }
    h.extend_from_slice(&[0xFF, 0xC4, 0x01, 0xA2]);
    push_huffman(&mut h, 0x00, &DC_LUMA);
    push_huffman(&mut h, 0x01, &DC_CHROMA);
    push_huffman(&mut h, 0x10, &AC_LUMA);
    push_huffman(&mut h, 0x11, &AC_CHROMA);
    let (hy, vy) = declared_luma_sampling(output_format);
    h.extend_from_slice(&[0xFF, 0xC0, 0x00, 17, 8]);
    h.extend_from_slice(&(height as u16).to_be_bytes());
    h.extend_from_slice(&(width as u16).to_be_bytes());
    h.extend_from_slice(&[3, 0, (hy << 4) | vy, 0, 1, 0x11, 1, 2, 0x11, 1]);
    h.extend_from_slice(&[0xFF, 0xFF, 0xFF]);
    h.extend_from_slice(&[0xFF, 0xDA, 0x00, 12, 3, 0, 0x00, 1, 0x11, 2, 0x11, 0, 63, 0]);
    debug_assert_eq!(h.len(), HEADER_LEN);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_map_matches_the_spec() {
        let h = build(1280, 720, 4, &[1; 64], &[2; 64]);
        assert_eq!(h.len(), 592);
        assert_eq!(&h[0..2], &[0xFF, 0xD8]);
        assert_eq!(&h[2..6], &[0xFF, 0xDB, 0, 132]);
        assert_eq!(h[70], 1); // Pq/Tq of table 1
        assert_eq!(&h[136..140], &[0xFF, 0xC4, 0x01, 0xA2]);
        assert_eq!(&h[556..561], &[0xFF, 0xC0, 0, 17, 8]);
        assert_eq!(&h[561..565], &[0x02, 0xD0, 0x05, 0x00]); // Y = 720, X = 1280
        assert_eq!(&h[565..575], &[3, 0, 0x22, 0, 1, 0x11, 1, 2, 0x11, 1]);
        assert_eq!(&h[575..578], &[0xFF; 3]);
        assert_eq!(
            &h[578..592],
            &[0xFF, 0xDA, 0, 12, 3, 0, 0, 1, 0x11, 2, 0x11, 0, 63, 0]
        );
        assert_eq!(build(8, 8, 0, &[1; 64], &[1; 64])[567], 0x21);
    }
}
