//! The software backend through the engine: every format, every subsampling, real photographs.

mod common;

use amljpeg::{Backend, BackendChoice, Encoder, ErrorKind, Frame, PixelFormat, Subsampling};
use common::*;

fn software() -> Encoder {
    Encoder::open(None, BackendChoice::Software).unwrap()
}

#[test]
fn every_format_encodes_a_photo_close_to_libjpeg_turbo() {
    let img = load_rgb("chelsea.png");
    let reference = decode_rgb(&reference_jpeg(&img, 90, turbojpeg::Subsamp::Sub2x2));
    let ref_psnr = psnr(&reference.pixels, &img.pixels);
    let mut enc = software();
    for &format in PixelFormat::ALL {
        let data = convert(&img, format);
        let frame = Frame::new(&data, img.width as u32, img.height as u32, 0, format).unwrap();
        let jpeg = enc.encode(&frame, 90).unwrap().to_vec();
        assert_eq!(enc.last_backend(), Some(Backend::Software));
        let decoded = decode_rgb(&jpeg);
        assert_eq!((decoded.width, decoded.height), (img.width, img.height));
        let p = psnr(&decoded.pixels, &img.pixels);
        if format == PixelFormat::Gray8 {
            assert_eq!(
                sof_components(&jpeg).len(),
                1,
                "grey JPEG has one component"
            );
            continue;
        }
        // The YUV inputs went through our own RGB->YCbCr conversion first: allow a little more.
        let slack = if format.is_yuv() { 1.0 } else { 0.5 };
        assert!(
            p > ref_psnr - slack,
            "{}: {p:.2} dB vs libjpeg-turbo {ref_psnr:.2} dB",
            format.name()
        );
        assert_eq!(
            sof_components(&jpeg)[0],
            (1, 2, 2),
            "{} is 4:2:0",
            format.name()
        );
    }
}

#[test]
fn rgb_output_is_libjpeg_turbos_own() {
    let img = load_rgb("coffee.png");
    let mut enc = software();
    let frame = Frame::new(
        &img.pixels,
        img.width as u32,
        img.height as u32,
        0,
        PixelFormat::Rgb24,
    )
    .unwrap();
    let ours = enc.encode(&frame, 75).unwrap().to_vec();
    assert_eq!(ours, reference_jpeg(&img, 75, turbojpeg::Subsamp::Sub2x2));
}

#[test]
fn subsampling_is_honoured_for_every_source() {
    let img = synthetic(37, 21);
    let mut enc = software();
    let tj = [
        turbojpeg::Subsamp::Sub2x2,
        turbojpeg::Subsamp::Sub2x1,
        turbojpeg::Subsamp::None,
    ];
    // libjpeg-turbo's own quality at each subsampling, from the RGB original.
    let reference: Vec<f64> = tj
        .iter()
        .map(|&s| {
            psnr(
                &decode_rgb(&reference_jpeg(&img, 90, s)).pixels,
                &img.pixels,
            )
        })
        .collect();
    for (sub, luma) in [
        (Subsampling::S420, (1, 2, 2)),
        (Subsampling::S422, (1, 2, 1)),
        (Subsampling::S444, (1, 1, 1)),
    ] {
        enc.set_subsampling(sub);
        for (format, source) in [
            (PixelFormat::Rgb24, 2),
            (PixelFormat::Nv12, 0),
            (PixelFormat::I420, 0),
            (PixelFormat::Yuyv, 1),
        ] {
            let data = convert(&img, format);
            let frame = Frame::new(&data, 37, 21, 0, format).unwrap();
            let jpeg = enc.encode(&frame, 90).unwrap().to_vec();
            assert_eq!(
                sof_components(&jpeg)[0],
                luma,
                "{} {}",
                format.name(),
                sub.name()
            );
            // A YUV source cannot beat its own chroma resolution.
            let expected = reference[(sub as usize).min(source)];
            let p = psnr(&decode_rgb(&jpeg).pixels, &img.pixels);
            assert!(
                p > expected - 1.5,
                "{} {}: {p:.2} dB vs {expected:.2}",
                format.name(),
                sub.name()
            );
        }
    }
}

#[test]
fn strided_frames_match_packed_ones() {
    let img = synthetic(33, 17);
    let mut enc = software();
    for &format in PixelFormat::ALL {
        let packed = convert(&img, format);
        let layout = amljpeg::FrameLayout::new(format, 33, 17, 0).unwrap();
        let row = layout.planes()[0].stride;
        let stride = row + 13;
        // Re-lay every plane with the wider stride (chroma strides derive from it).
        let wide = amljpeg::FrameLayout::new(format, 33, 17, stride as u32).unwrap();
        let mut data = vec![0xA5; wide.min_len];
        for (p, q) in layout.planes().iter().zip(wide.planes()) {
            for y in 0..p.rows {
                let src = &packed[p.offset + y * p.stride..][..p.row_bytes];
                data[q.offset + y * q.stride..][..p.row_bytes].copy_from_slice(src);
            }
        }
        let a = enc
            .encode(&Frame::new(&packed, 33, 17, 0, format).unwrap(), 80)
            .unwrap()
            .to_vec();
        let b = enc
            .encode(
                &Frame::new(&data, 33, 17, stride as u32, format).unwrap(),
                80,
            )
            .unwrap()
            .to_vec();
        assert_eq!(a, b, "{}", format.name());
    }
}

#[test]
fn quantisation_tables_are_libjpegs_at_every_quality() {
    let img = synthetic(16, 16);
    let mut enc = software();
    let frame = Frame::new(&img.pixels, 16, 16, 0, PixelFormat::Rgb24).unwrap();
    for q in [1, 10, 25, 49, 50, 51, 75, 90, 99, 100] {
        let ours = enc.encode(&frame, q).unwrap().to_vec();
        let theirs = reference_jpeg(&img, q, turbojpeg::Subsamp::Sub2x2);
        assert_eq!(dqt_tables(&ours), dqt_tables(&theirs), "quality {q}");
    }
}

#[test]
fn bad_arguments_are_refused_and_the_encoder_keeps_working() {
    let img = synthetic(8, 8);
    let mut enc = software();
    let frame = Frame::new(&img.pixels, 8, 8, 0, PixelFormat::Rgb24).unwrap();
    for q in [0, 101, -5] {
        assert_eq!(
            enc.encode(&frame, q).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }
    let mut small = [0u8; 10];
    assert_eq!(
        enc.encode_into(&frame, 90, &mut small).unwrap_err().kind(),
        ErrorKind::BufferTooSmall
    );
    let mut big = vec![0u8; enc.max_output_size(8, 8).unwrap()];
    let n = enc.encode_into(&frame, 90, &mut big).unwrap();
    assert_eq!(&big[..n], enc.encode(&frame, 90).unwrap());
}

#[test]
fn hardware_only_without_a_device_is_no_device() {
    let err = Encoder::open(
        Some(std::path::Path::new("/nonexistent/jpegenc")),
        BackendChoice::Hardware,
    )
    .err()
    .unwrap();
    assert_eq!(err.kind(), ErrorKind::NoDevice);
}
