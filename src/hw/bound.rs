//! A bound on the bytes a baseline scan can take, whatever the picture: the hardware has to be
//! kept from writing past its real buffer where the E driver programs its output window larger
//! than the reserved block (levels 8M, 13M and HD: 64 MiB against 4 MiB). Content-independent,
//! so it is sound for noise at quality 100 as for a flat frame.
//!
//! Per 8×8 block: each quantised coefficient is at most its DCT bound over 8-bit samples
//! divided by its quantiser (plus rounding slack), so its magnitude category is known; a
//! non-zero coefficient costs at most the longest Annex K code of that category over every
//! zero run, plus the category's bits; the zeros cost at most three ZRLs, and one EOB ends
//! the block. The DC difference spans twice the DC bound. Every byte may need a stuffed 0x00.

use super::annex_k::{HuffmanSpec, AC_CHROMA, AC_LUMA, DC_CHROMA, DC_LUMA};
use crate::format::Subsampling;
use crate::quant::{QuantTables, ZIGZAG};

/// The largest |DCT coefficient| at natural index `n` over samples in -128..=127:
/// 128 · ¼ · C(u)·C(v) · Σx|cos((2x+1)uπ/16)| · Σy|cos((2y+1)vπ/16)|.
fn dct_bound(n: usize) -> f64 {
    let factor = |u: usize| -> f64 {
        if u == 0 {
            8.0 / std::f64::consts::SQRT_2
        } else {
            (0..8)
                .map(|x| {
                    ((2 * x + 1) as f64 * u as f64 * std::f64::consts::PI / 16.0)
                        .cos()
                        .abs()
                })
                .sum()
        }
    };
    128.0 * 0.25 * factor(n % 8) * factor(n / 8)
}

/// The magnitude category (bit count) of values up to `m`.
fn category(m: u64) -> usize {
    (u64::BITS - m.leading_zeros()) as usize
}

/// The most bits one block can take with quantisers `q` (natural order) and these tables.
fn block_bits(q: &[u16; 64], dc: &HuffmanSpec, ac: &HuffmanSpec) -> usize {
    // 2 % slack and +1 for the hardware's reciprocal rounding of an unknown DCT.
    let magnitude = |n: usize| (dct_bound(n) * 1.02 / f64::from(q[n].max(1))) as u64 + 1;
    let dc_lengths = dc.code_lengths();
    let ac_lengths = ac.code_lengths();
    let dc_cat = category(2 * magnitude(0)).min(11);
    let mut bits = (0..=dc_cat)
        .map(|c| dc_lengths[c] as usize)
        .max()
        .unwrap_or(16)
        + dc_cat;
    for &n in &ZIGZAG[1..] {
        let size = category(magnitude(n)).min(10);
        if size > 0 {
            let code = (0..16)
                .map(|run| ac_lengths[(run << 4) | size] as usize)
                .max()
                .unwrap_or(16);
            bits += code + size;
        }
    }
    bits + 3 * ac_lengths[0xF0] as usize + ac_lengths[0x00] as usize
}

/// The most bytes the entropy-coded data (with EOI) of a `width`×`height` frame can take.
pub fn max_scan_bytes(
    width: usize,
    height: usize,
    subsampling: Subsampling,
    tables: &QuantTables,
) -> usize {
    let luma = block_bits(&tables.luma, &DC_LUMA, &AC_LUMA);
    let chroma = block_bits(&tables.chroma, &DC_CHROMA, &AC_CHROMA);
    let (rows, luma_blocks) = match subsampling {
        Subsampling::S422 => (8, 2),
        _ => (16, 4),
    };
    let mcus = width.div_ceil(16).saturating_mul(height.div_ceil(rows));
    let bits = mcus.saturating_mul(luma_blocks * luma + 2 * chroma);
    // Every byte stuffed, the final partial byte, EOI.
    bits.div_ceil(8).saturating_mul(2).saturating_add(3)
}

/// The side of the largest square frame whose scan surely fits `space` bytes (for `info`).
pub fn largest_square(space: usize, subsampling: Subsampling, tables: &QuantTables) -> usize {
    let (mut lo, mut hi) = (0usize, 1 << 16);
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if max_scan_bytes(mid, mid, subsampling, tables) <= space {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dct_bounds_are_the_known_ones() {
        assert!((dct_bound(0) - 1024.0).abs() < 1e-9);
        // (u, v) = (1, 0) and (1, 1).
        assert!((dct_bound(1) - 927.9).abs() < 0.5, "{}", dct_bound(1));
        assert!((dct_bound(9) - 840.8).abs() < 0.5, "{}", dct_bound(9));
    }

    #[test]
    fn the_bound_grows_with_quality_and_size() {
        let q = |n| QuantTables::for_quality(n);
        let b = |w, h, s, t: &QuantTables| max_scan_bytes(w, h, s, t);
        assert!(b(640, 480, Subsampling::S420, &q(50)) < b(640, 480, Subsampling::S420, &q(100)));
        assert!(b(640, 480, Subsampling::S420, &q(90)) < b(640, 480, Subsampling::S422, &q(90)));
        assert!(b(64, 64, Subsampling::S420, &q(90)) < b(640, 480, Subsampling::S420, &q(90)));
        // At quality 100 a block can take 1,695 bits: about 10 bytes a pixel in 4:2:0.
        let per_pixel = b(1600, 1600, Subsampling::S420, &q(100)) as f64 / (1600.0 * 1600.0);
        assert!((9.5..10.5).contains(&per_pixel), "{per_pixel}");
        let side = largest_square(4 << 20, Subsampling::S420, &q(100));
        assert!(b(side, side, Subsampling::S420, &q(100)) <= 4 << 20);
        assert!(b(side + 1, side + 1, Subsampling::S420, &q(100)) > 4 << 20);
    }
}
