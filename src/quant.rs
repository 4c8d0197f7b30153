//! Quantisation tables: libjpeg's (the Annex K tables scaled by quality, as both drivers and
//! `jpeg_set_quality` compute them) and custom ones a caller sets.

use crate::error::{Error, Result};

/// `ZIGZAG[k]` is the natural (row-major) index of the k-th coefficient in zig-zag order.
pub const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// ITU-T T.81 Annex K.1 (luminance), natural order.
const ANNEX_K_LUMA: [u16; 64] = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113,
    92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];

/// ITU-T T.81 Annex K.2 (chrominance), natural order.
const ANNEX_K_CHROMA: [u16; 64] = [
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
];

/// A luma and a chroma table, natural order, each entry 1..=255 (baseline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantTables {
    pub luma: [u16; 64],
    pub chroma: [u16; 64],
}

/// libjpeg's `jpeg_quality_scaling`: the percentage the base tables are scaled by.
fn scale_for(quality: u8) -> u32 {
    let q = u32::from(quality.clamp(1, 100));
    if q < 50 {
        5000 / q
    } else {
        200 - 2 * q
    }
}

fn scaled(base: &[u16; 64], scale: u32) -> [u16; 64] {
    base.map(|b| ((u32::from(b) * scale + 50) / 100).clamp(1, 255) as u16)
}

impl QuantTables {
    /// The tables libjpeg's `jpeg_set_quality(quality, TRUE)` installs, which are also what
    /// the drivers make of SET_QUALTIY with the Annex K tables.
    pub fn for_quality(quality: u8) -> QuantTables {
        let scale = scale_for(quality);
        QuantTables {
            luma: scaled(&ANNEX_K_LUMA, scale),
            chroma: scaled(&ANNEX_K_CHROMA, scale),
        }
    }

    /// Custom tables, natural order; every entry must be 1..=255.
    pub fn custom(luma: [u16; 64], chroma: [u16; 64]) -> Result<QuantTables> {
        if luma.iter().chain(&chroma).any(|&v| !(1..=255).contains(&v)) {
            return Err(Error::invalid(
                "quantisation table entries must be 1..=255 (baseline)",
            ));
        }
        Ok(QuantTables { luma, chroma })
    }

    /// The quality whose libjpeg tables these are, if any: then every backend reproduces them.
    pub fn quality_equivalent(&self) -> Option<u8> {
        (1..=100u8).find(|&q| QuantTables::for_quality(q) == *self)
    }

    /// Luma then chroma, natural order: the E driver's SET_EXT_QUANT_TABLE argument.
    pub fn words(&self) -> [u16; 128] {
        let mut w = [0u16; 128];
        w[..64].copy_from_slice(&self.luma);
        w[64..].copy_from_slice(&self.chroma);
        w
    }

    /// Whether a DQT's two 8-bit tables (zig-zag order, as a JPEG stores them) are these.
    pub fn matches_zigzag(&self, luma: &[u8], chroma: &[u8]) -> bool {
        let same = |natural: &[u16; 64], zz: &[u8]| {
            zz.len() == 64
                && ZIGZAG
                    .iter()
                    .zip(zz)
                    .all(|(&n, &v)| natural[n] == u16::from(v))
        };
        same(&self.luma, luma) && same(&self.chroma, chroma)
    }
}

/// How a frame is quantised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Quantisation {
    /// libjpeg's tables at this quality.
    Quality(u8),
    /// Tables no quality reproduces (only the E driver's external table takes them).
    Custom(Box<QuantTables>),
}

impl Quantisation {
    /// Quality `quality`, or `tables` when set (as a quality when one reproduces them).
    pub fn new(quality: u8, tables: Option<&QuantTables>) -> Quantisation {
        match tables {
            None => Quantisation::Quality(quality),
            Some(t) => match t.quality_equivalent() {
                Some(q) => Quantisation::Quality(q),
                None => Quantisation::Custom(Box::new(t.clone())),
            },
        }
    }

    /// The tables a JPEG quantised this way carries.
    pub fn tables(&self) -> QuantTables {
        match self {
            Quantisation::Quality(q) => QuantTables::for_quality(*q),
            Quantisation::Custom(t) => (**t).clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libjpeg_quality_scaling() {
        assert_eq!(QuantTables::for_quality(50).luma, ANNEX_K_LUMA);
        assert!(QuantTables::for_quality(100).luma.iter().all(|&v| v == 1));
        // q 1 scales by 5000 %: everything clamps to 255.
        assert!(QuantTables::for_quality(1).chroma.iter().all(|&v| v == 255));
        assert_eq!(QuantTables::for_quality(90).luma[0], 3); // (16*20+50)/100
    }

    #[test]
    fn quality_equivalence_is_found_and_custom_tables_are_not_mistaken() {
        for q in [1, 10, 49, 50, 75, 85, 95, 100] {
            let eq = QuantTables::for_quality(q).quality_equivalent().unwrap();
            // Several low qualities clamp to the same tables; the tables must be equal.
            assert_eq!(QuantTables::for_quality(eq), QuantTables::for_quality(q));
        }
        let mut t = QuantTables::for_quality(75);
        t.luma[63] += 1;
        assert_eq!(t.quality_equivalent(), None);
        assert!(matches!(
            Quantisation::new(75, Some(&t)),
            Quantisation::Custom(_)
        ));
        assert_eq!(
            Quantisation::new(20, Some(&QuantTables::for_quality(85))),
            Quantisation::Quality(85)
        );
    }

    #[test]
    fn custom_tables_must_be_baseline() {
        assert!(QuantTables::custom([1; 64], [255; 64]).is_ok());
        assert!(QuantTables::custom([0; 64], [1; 64]).is_err());
        assert!(QuantTables::custom([1; 64], [256; 64]).is_err());
    }

    #[test]
    fn zigzag_comparison() {
        let t = QuantTables::for_quality(60);
        let zz = |n: &[u16; 64]| ZIGZAG.map(|i| n[i] as u8);
        assert!(t.matches_zigzag(&zz(&t.luma), &zz(&t.chroma)));
        assert!(!t.matches_zigzag(&zz(&t.chroma), &zz(&t.luma)));
        assert!(!t.matches_zigzag(&t.luma.map(|v| v as u8), &zz(&t.chroma)));
    }
}
