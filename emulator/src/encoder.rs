//! The encoder hardware's entropy path, written from the JPEG standard: forward DCT (AAN),
//! quantisation with the hardware's 16-bit reciprocals, Annex K Huffman coding, byte stuffing.

use crate::bits::BitWriter;
use crate::tables::{reciprocal, HuffmanSpec, AC_CHROMA, AC_LUMA, DC_CHROMA, DC_LUMA, ZIGZAG};

/// A plane of samples: `width`×`height` inside a buffer of `stride`.
pub struct Plane<'a> {
    pub data: &'a [u8],
    pub stride: usize,
    pub width: usize,
    pub height: usize,
}

impl<'a> Plane<'a> {
    /// `width`×`height` samples packed row after row.
    pub fn packed(data: &'a [u8], width: usize, height: usize) -> Plane<'a> {
        Plane {
            data,
            stride: width,
            width,
            height,
        }
    }

    /// Sample at (x, y), clamped into the plane (the hardware fetches whole MCUs).
    #[inline]
    fn at(&self, x: usize, y: usize) -> u8 {
        self.data[y.min(self.height - 1) * self.stride + x.min(self.width - 1)]
    }
}

/// The coded layout: luma blocks per MCU (h × v); chroma is one block each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct McuLayout {
    pub h: usize,
    pub v: usize,
}

struct HuffmanCodes {
    code: [u16; 256],
    size: [u8; 256],
}

impl HuffmanCodes {
    fn new(spec: &HuffmanSpec) -> Self {
        let mut codes = HuffmanCodes {
            code: [0; 256],
            size: [0; 256],
        };
        let mut code = 0u16;
        let mut k = 0;
        for (len, &count) in spec.bits.iter().enumerate() {
            for _ in 0..count {
                let symbol = spec.values[k] as usize;
                codes.code[symbol] = code;
                codes.size[symbol] = len as u8 + 1;
                code += 1;
                k += 1;
            }
            code <<= 1;
        }
        codes
    }
}

/// Quantisation state for one table: per-coefficient multipliers folding the AAN output
/// scale, and the hardware reciprocals.
struct Quantizer {
    scale: [f32; 64],
    recip: [u32; 64],
}

impl Quantizer {
    fn new(table: &[u8; 64]) -> Self {
        const AAN: [f32; 8] = [
            1.0,
            1.387_039_8,
            1.306_563,
            1.175_875_6,
            1.0,
            0.785_694_96,
            0.541_196_1,
            0.275_899_38,
        ];
        Quantizer {
            scale: std::array::from_fn(|n| 1.0 / (8.0 * AAN[n / 8] * AAN[n % 8])),
            recip: std::array::from_fn(|n| reciprocal(table[n])),
        }
    }

    /// Quantises natural-order AAN output into zig-zag order.
    fn quantize(&self, block: &[f32; 64], out: &mut [i32; 64]) {
        // Natural order first (a straight loop the compiler vectorises), then the gather.
        let mut natural = [0i32; 64];
        for ((q, &v), (&s, &r)) in natural
            .iter_mut()
            .zip(block)
            .zip(self.scale.iter().zip(&self.recip))
        {
            let v = v * s;
            // Round half away from zero (f32::round is a libm call on baseline x86_64).
            let c = (v + 0.5f32.copysign(v)) as i32;
            let m = ((c.unsigned_abs() * r + 0x8000) >> 16) as i32;
            *q = if c < 0 { -m } else { m };
        }
        for (o, &n) in out.iter_mut().zip(&ZIGZAG) {
            *o = natural[n & 63];
        }
    }
}

/// In-place 8×8 forward DCT (Arai, Agui, Nakajima), unscaled output in natural order.
fn fdct(d: &mut [f32; 64]) {
    fn pass(d: &mut [f32; 64], step: usize, stride: usize) {
        for i in 0..8 {
            let p = |k: usize| i * stride + k * step;
            let (t0, t7) = (d[p(0)] + d[p(7)], d[p(0)] - d[p(7)]);
            let (t1, t6) = (d[p(1)] + d[p(6)], d[p(1)] - d[p(6)]);
            let (t2, t5) = (d[p(2)] + d[p(5)], d[p(2)] - d[p(5)]);
            let (t3, t4) = (d[p(3)] + d[p(4)], d[p(3)] - d[p(4)]);
            let (t10, t13) = (t0 + t3, t0 - t3);
            let (t11, t12) = (t1 + t2, t1 - t2);
            d[p(0)] = t10 + t11;
            d[p(4)] = t10 - t11;
            let z1 = (t12 + t13) * std::f32::consts::FRAC_1_SQRT_2;
            d[p(2)] = t13 + z1;
            d[p(6)] = t13 - z1;
            let (t10, t11, t12) = (t4 + t5, t5 + t6, t6 + t7);
            let z5 = (t10 - t12) * 0.382_683_43;
            let z2 = 0.541_196_1 * t10 + z5;
            let z4 = 1.306_563 * t12 + z5;
            let z3 = t11 * std::f32::consts::FRAC_1_SQRT_2;
            let (z11, z13) = (t7 + z3, t7 - z3);
            d[p(5)] = z13 + z2;
            d[p(3)] = z13 - z2;
            d[p(1)] = z11 + z4;
            d[p(7)] = z11 - z4;
        }
    }
    pass(d, 1, 8); // rows
    pass(d, 8, 1); // columns
}

struct Component<'a> {
    dc: &'a HuffmanCodes,
    ac: &'a HuffmanCodes,
    pred: i32,
}

fn magnitude(v: i32) -> (u32, u32) {
    let a = v.unsigned_abs();
    let size = 32 - a.leading_zeros();
    let bits = if v < 0 { (v - 1) as u32 } else { v as u32 };
    (bits, size)
}

/// DCT and quantisation of the 8×8 block at (bx, by): zig-zag coefficients.
fn transform(p: &Plane<'_>, quant: &Quantizer, bx: usize, by: usize, q: &mut [i32; 64]) {
    let mut block = [0f32; 64];
    if bx + 8 <= p.width && by + 8 <= p.height {
        for (y, row) in block.chunks_exact_mut(8).enumerate() {
            let src = &p.data[(by + y) * p.stride + bx..][..8];
            for (d, &s) in row.iter_mut().zip(src) {
                *d = s as f32 - 128.0;
            }
        }
    } else {
        for y in 0..8 {
            for x in 0..8 {
                block[y * 8 + x] = p.at(bx + x, by + y) as f32 - 128.0;
            }
        }
    }
    fdct(&mut block);
    quant.quantize(&block, q);
}

/// Huffman-codes one block of zig-zag coefficients.
fn encode_block(w: &mut BitWriter<'_>, c: &mut Component<'_>, q: &[i32; 64]) {
    let diff = q[0] - c.pred;
    c.pred = q[0];
    let (bits, size) = magnitude(diff);
    w.put(
        c.dc.code[size as usize] as u32,
        c.dc.size[size as usize] as u32,
    );
    w.put(bits, size);
    // Visit only the non-zero AC coefficients: a bit per coefficient, scanned with tzcnt.
    let mut nonzero = 0u64;
    for (k, &v) in q.iter().enumerate().skip(1) {
        nonzero |= ((v != 0) as u64) << k;
    }
    let mut last = 0usize;
    while nonzero != 0 {
        let k = nonzero.trailing_zeros() as usize;
        nonzero &= nonzero - 1;
        let mut run = k - last - 1;
        while run >= 16 {
            w.put(c.ac.code[0xF0] as u32, c.ac.size[0xF0] as u32);
            run -= 16;
        }
        let (bits, size) = magnitude(q[k]);
        let symbol = (run << 4) | size as usize;
        w.put(c.ac.code[symbol] as u32, c.ac.size[symbol] as u32);
        w.put(bits, size);
        last = k;
    }
    if last != 63 {
        w.put(c.ac.code[0] as u32, c.ac.size[0] as u32);
    }
}

/// What a scan encoder codes: `mcu_cols`×`mcu_rows` MCUs of Y/Cb/Cr planes, quantised with
/// the natural-order tables `luma` and `chroma`.
pub struct ScanInput<'a> {
    pub y: Plane<'a>,
    pub cb: Plane<'a>,
    pub cr: Plane<'a>,
    pub layout: McuLayout,
    pub mcu_cols: usize,
    pub mcu_rows: usize,
    pub luma: &'a [u8; 64],
    pub chroma: &'a [u8; 64],
}

/// Encodes the MCUs of `input` into `out` (entropy bytes, no EOI).
pub fn encode_scan(input: &ScanInput<'_>, out: &mut Vec<u8>) {
    let (y, cb, cr) = (&input.y, &input.cb, &input.cr);
    let (layout, mcu_cols, mcu_rows) = (input.layout, input.mcu_cols, input.mcu_rows);
    let (ql, qc) = (Quantizer::new(input.luma), Quantizer::new(input.chroma));
    let blocks_per_mcu = layout.h * layout.v + 2;
    // Transform every block, MCU rows split between two threads; then code them in order.
    let mut coefficients = vec![[0i32; 64]; mcu_cols * mcu_rows * blocks_per_mcu];
    let row_len = mcu_cols * blocks_per_mcu;
    let transform_rows = |first_row: usize, out: &mut [[i32; 64]]| {
        for (r, row) in out.chunks_mut(row_len.max(1)).enumerate() {
            let my = first_row + r;
            let mut blocks = row.iter_mut();
            for mx in 0..mcu_cols {
                for v in 0..layout.v {
                    for h in 0..layout.h {
                        let (bx, by) = ((mx * layout.h + h) * 8, (my * layout.v + v) * 8);
                        transform(y, &ql, bx, by, blocks.next().unwrap());
                    }
                }
                transform(cb, &qc, mx * 8, my * 8, blocks.next().unwrap());
                transform(cr, &qc, mx * 8, my * 8, blocks.next().unwrap());
            }
        }
    };
    let split = mcu_rows / 2;
    let (top, bottom) = coefficients.split_at_mut(split * row_len);
    std::thread::scope(|scope| {
        scope.spawn(|| transform_rows(split, bottom));
        transform_rows(0, top);
    });
    let (dcl, dcc) = (HuffmanCodes::new(&DC_LUMA), HuffmanCodes::new(&DC_CHROMA));
    let (acl, acc) = (HuffmanCodes::new(&AC_LUMA), HuffmanCodes::new(&AC_CHROMA));
    let mut comps = [
        Component {
            dc: &dcl,
            ac: &acl,
            pred: 0,
        },
        Component {
            dc: &dcc,
            ac: &acc,
            pred: 0,
        },
        Component {
            dc: &dcc,
            ac: &acc,
            pred: 0,
        },
    ];
    let mut w = BitWriter::new(out);
    for mcu in coefficients.chunks(blocks_per_mcu.max(1)) {
        let luma_blocks = blocks_per_mcu - 2;
        for (i, q) in mcu.iter().enumerate() {
            let component = i.saturating_sub(luma_blocks - 1).min(2);
            encode_block(&mut w, &mut comps[component], q);
        }
    }
    w.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dct_of_a_flat_block_is_dc_only() {
        let mut b = [10f32; 64];
        fdct(&mut b);
        let q = Quantizer::new(&[1; 64]);
        let mut out = [0; 64];
        q.quantize(&b, &mut out);
        assert_eq!(out[0], 80); // 8 * mean
        assert!(out[1..].iter().all(|&v| v == 0));
    }
}
