//! Prints how long the model's encoders take per frame (the MFDIN model and the scan: the
//! libjpeg-turbo one and the reference), against the modelled hardware time.
//!
//! `encode_speed [INPUT_FORMAT]` (3 = NV12, 6 = RGB888); `NOISE=1` codes a noise-like frame
//! (about four bits per pixel at this quality: the emulator's worst case) instead of a
//! photo-like one.
use jpegenc_emu::encoder::{encode_scan, McuLayout, Plane, ScanInput};
use jpegenc_emu::input;
use std::time::Instant;

fn main() {
    let format: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    for (w, h) in [(640usize, 480usize), (1280, 720), (1920, 1080)] {
        // A smooth photo-like frame: gradients with texture (or noise).
        let mut src = vec![0u8; input::extent(format, w, h)];
        let noise = std::env::var_os("NOISE").is_some();
        let stride = w.div_ceil(32) * 32;
        for (i, b) in src.iter_mut().enumerate() {
            let (x, y) = (i % stride, i / stride);
            *b = if noise {
                ((i % 251) as f32 * 0.7 + ((i / 997) % 60) as f32) as u8
            } else {
                (128.0
                    + 60.0 * ((x as f32 / 23.0).sin() + (y as f32 / 17.0).cos())
                    + ((x * y) % 7) as f32) as u8
            };
        }
        let (luma, chroma) = (
            jpegenc_emu::tables::base_tables(1).0,
            jpegenc_emu::tables::base_tables(1).1,
        );
        let luma = jpegenc_emu::tables::scale_table(&luma, 20);
        let chroma = jpegenc_emu::tables::scale_table(&chroma, 20);
        for reference in [false, true] {
            let t = Instant::now();
            let n = 20;
            let mut bytes = 0;
            for _ in 0..n {
                let p = input::read(&src, format, w, h, true);
                let scan = ScanInput {
                    y: Plane::packed(&p.y[..], p.luma_width, p.luma_height),
                    cb: Plane::packed(&p.cb[..], p.chroma_width, p.chroma_height),
                    cr: Plane::packed(&p.cr[..], p.chroma_width, p.chroma_height),
                    layout: McuLayout { h: 2, v: 2 },
                    mcu_cols: w.div_ceil(16),
                    mcu_rows: h.div_ceil(16),
                    luma: &luma,
                    chroma: &chroma,
                };
                let mut out = Vec::new();
                if reference {
                    encode_scan(&scan, &mut out);
                } else {
                    jpegenc_emu::scan::encode_scan(&scan, &mut out).unwrap();
                }
                bytes = out.len();
            }
            let per = t.elapsed().as_secs_f64() / n as f64;
            let modelled = (w.div_ceil(16) * 16 * h.div_ceil(16) * 16) as f64 / 150e6;
            println!(
                "{} {w}x{h}: {:.2} ms per frame, modelled {:.2} ms, ratio {:.2} ({bytes} bytes)",
                if reference { "reference" } else { "turbo" },
                per * 1e3,
                modelled * 1e3,
                per / modelled
            );
        }
    }
}
