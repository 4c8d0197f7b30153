//! Soak: threads of mixed frames with the emulator injecting every fault kind at a few per
//! cent. Every call returns a JPEG that decodes and matches its input, or a negative status;
//! AUTO never fails; nothing deadlocks; the device is usable afterwards. Frames per thread:
//! `$AMLJPEG_SOAK_FRAMES` (default 40; 1000 for the long soak).

mod common;

use amljpeg::{BackendChoice, Encoder, ErrorKind, Frame, PixelFormat};
use common::emulator::{deadline_ms, in_emulator, slowdown};
use common::*;

const FAULTS: &str = "hang%1,lost-irq%1,overflow%2,no-eoi%3,corrupt%3,slow:3%3,eperm:NEW_CMD%1,eperm:GET_OUTPUT_SIZE%1";

#[test]
fn soak_with_faults() {
    in_emulator(
        "soak_child",
        &[
            ("JPEGENC_EMU_FAULT", FAULTS),
            ("JPEGENC_EMU_MPIXPS", "300"),
            ("AML_JPEG_TIMEOUT_MS", &(150 * slowdown()).to_string()),
            ("AMLJPEG_SOAK", "1"),
        ],
    );
}

/// A crop of a photograph (smooth enough that 4:2:0 keeps it above 28 dB).
fn crop(photo: &Rgb, w: usize, h: usize, at: usize) -> Rgb {
    let (x0, y0) = (at % (photo.width - w + 1), at % (photo.height - h + 1));
    let mut pixels = Vec::with_capacity(w * h * 3);
    for y in y0..y0 + h {
        pixels.extend_from_slice(
            &photo.pixels[(y * photo.width + x0) * 3..(y * photo.width + x0 + w) * 3],
        );
    }
    Rgb {
        width: w,
        height: h,
        pixels,
    }
}

#[test]
fn soak_child() {
    if std::env::var_os("AMLJPEG_SOAK").is_none() {
        return;
    }
    let frames: usize = std::env::var("AMLJPEG_SOAK_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let photo = load_rgb("astronaut.png");
    let sizes = [(64, 48), (451, 300), (320, 240), (97, 131), (512, 384)];
    let formats = [
        PixelFormat::Nv12,
        PixelFormat::Rgb24,
        PixelFormat::I420,
        PixelFormat::Yuyv,
        PixelFormat::Bgra32,
    ];
    let (ok, failed) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let photo = &photo;
                s.spawn(move || {
                    let choice = if t % 2 == 0 {
                        BackendChoice::Hardware
                    } else {
                        BackendChoice::Auto
                    };
                    let mut enc = Encoder::open(None, choice).unwrap();
                    let mut out = vec![0u8; 4 << 20];
                    let (mut ok, mut failed) = (0, 0);
                    for i in 0..frames {
                        let (w, h) = sizes[(t + i) % sizes.len()];
                        let format = formats[(t * 3 + i) % formats.len()];
                        let img = crop(photo, w, h, i * 37 + t);
                        let data = convert(&img, format);
                        let frame = Frame::new(&data, w as u32, h as u32, 0, format).unwrap();
                        match enc.encode_into(&frame, 85, &mut out) {
                            Ok(n) => {
                                let decoded = decode_rgb(&out[..n]);
                                assert_eq!((decoded.width, decoded.height), (w, h));
                                let p = psnr(&decoded.pixels, &img.pixels);
                                assert!(
                                    p > 26.0,
                                    "thread {t} frame {i} {w}x{h} {}: {p:.1} dB",
                                    format.name()
                                );
                                ok += 1;
                            }
                            Err(e) => {
                                assert_eq!(
                                    choice,
                                    BackendChoice::Hardware,
                                    "AUTO must not fail: {e}"
                                );
                                assert!(
                                    matches!(
                                        e.kind(),
                                        ErrorKind::Timeout | ErrorKind::Device | ErrorKind::Busy
                                    ),
                                    "{e}"
                                );
                                failed += 1;
                            }
                        }
                    }
                    (ok, failed)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    });
    eprintln!("soak: {ok} frames good, {failed} refused with a negative status");
    assert_eq!(ok + failed, 8 * frames);
    assert!(ok > failed, "{ok} good, {failed} refused");
    // The device is neither left open nor busy: a fresh handle gets it at once.
    let mut enc = Encoder::open(None, BackendChoice::Hardware).unwrap();
    enc.set_timeout(Some(deadline_ms(2000)));
    let img = crop(&photo, 128, 96, 5);
    let data = convert(&img, PixelFormat::Nv12);
    let frame = Frame::new(&data, 128, 96, 0, PixelFormat::Nv12).unwrap();
    for _ in 0..5 {
        if enc.encode(&frame, 85).is_ok() {
            return;
        }
    }
    panic!("the device stayed unusable after the soak");
}
