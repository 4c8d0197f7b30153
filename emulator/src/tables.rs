//! Constant tables of the encoder: the driver's base quantisation tables, the Annex K Huffman
//! tables, and the zig-zag order.

/// `ZIGZAG[k]` is the natural (row-major) index of the k-th coefficient in zig-zag order.
pub const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// The "Canon" luma table, the driver's default pair (id 0).
const CANON_LUMA: [u8; 64] = [
    6, 6, 8, 10, 10, 16, 21, 25, 6, 10, 10, 14, 18, 31, 41, 41, 8, 10, 14, 18, 33, 41, 41, 41, 10,
    14, 18, 20, 35, 41, 41, 41, 10, 18, 33, 35, 39, 41, 41, 41, 16, 31, 41, 41, 41, 41, 41, 41, 21,
    41, 41, 41, 41, 41, 41, 41, 25, 41, 41, 41, 41, 41, 41, 41,
];

const CANON_CHROMA: [u8; 64] = [
    10, 14, 16, 20, 21, 29, 43, 53, 14, 18, 20, 29, 37, 62, 84, 84, 16, 20, 25, 37, 64, 84, 84, 84,
    20, 29, 37, 39, 72, 84, 84, 84, 21, 37, 64, 72, 78, 84, 84, 84, 29, 62, 84, 84, 84, 84, 84, 84,
    43, 84, 84, 84, 84, 84, 84, 84, 53, 84, 84, 84, 84, 84, 84, 84,
];

/// ITU-T T.81 Annex K.1, luminance.
const ANNEX_K_LUMA: [u8; 64] = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113,
    92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];

/// Annex K.2, chrominance.
const ANNEX_K_CHROMA: [u8; 64] = [
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
];

/// The base (luma, chroma) pair a SEL_QUANT_TABLE id selects, in natural order. Ids outside
/// 0..=3 and the chroma half of id 3 read past the driver's 7-table array: what lies there is
/// unknown, so the model returns a fixed pseudo-random table (INFERRED; never use them).
pub fn base_tables(id: i32) -> ([u16; 64], [u16; 64]) {
    let widen = |t: &[u8; 64]| t.map(u16::from);
    match id {
        0 => (widen(&CANON_LUMA), widen(&CANON_CHROMA)),
        1 => (widen(&ANNEX_K_LUMA), widen(&ANNEX_K_CHROMA)),
        2 => {
            let (mut luma, mut chroma) = (widen(&ANNEX_K_LUMA), widen(&ANNEX_K_CHROMA));
            luma[63] = 16;
            chroma[63] = 17;
            (luma, chroma)
        }
        3 => ([1; 64], out_of_bounds_table(7)),
        other => (
            out_of_bounds_table(2 * other),
            out_of_bounds_table(2 * other + 1),
        ),
    }
}

fn out_of_bounds_table(index: i32) -> [u16; 64] {
    let mut state = (index as u32)
        .wrapping_mul(2_654_435_761)
        .wrapping_add(12345);
    std::array::from_fn(|_| {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
        ((state >> 16) & 0xFF) as u16
    })
}

/// A Huffman table as in a DHT segment: code counts per length 1..16, then the symbols.
pub struct HuffmanSpec {
    pub bits: [u8; 16],
    pub values: &'static [u8],
}

pub const DC_LUMA: HuffmanSpec = HuffmanSpec {
    bits: [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
    values: &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
};

pub const DC_CHROMA: HuffmanSpec = HuffmanSpec {
    bits: [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0],
    values: &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
};

pub const AC_LUMA: HuffmanSpec = HuffmanSpec {
    bits: [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d],
    values: &[
        0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61,
        0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52,
        0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25,
        0x26, 0x27, 0x28, 0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45,
        0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64,
        0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83,
        0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
        0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6,
        0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3,
        0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8,
        0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
    ],
};

pub const AC_CHROMA: HuffmanSpec = HuffmanSpec {
    bits: [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77],
    values: &[
        0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61,
        0x71, 0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33,
        0x52, 0xf0, 0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18,
        0x19, 0x1a, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44,
        0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63,
        0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a,
        0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97,
        0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4,
        0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca,
        0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7,
        0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
    ],
};

/// The driver's quality → scale rule (libjpeg's): q clamped to 1..=100.
pub fn quality_scale(quality: i32) -> u32 {
    let q = quality.clamp(1, 100) as u32;
    if q < 50 {
        5000 / q
    } else {
        200 - 2 * q
    }
}

/// Scales a base table: `clamp((base * scale + 50) / 100, 1, 255)` per entry (natural order).
pub fn scale_table(base: &[u16; 64], scale: u32) -> [u8; 64] {
    base.map(|b| ((b as u32 * scale + 50) / 100).clamp(1, 255) as u8)
}

/// The hardware's 16-bit reciprocal of a quantiser (≈ 65536 / q).
pub fn reciprocal(q: u8) -> u32 {
    match q {
        0 => 0,
        1 => 65535,
        q => 65536 / q as u32,
    }
}
