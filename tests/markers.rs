//! Every JPEG starts the same way whichever backend made it: SOI, JFIF APP0, the caller's
//! segments (`Encoder::set_markers`), then libjpeg-turbo's tables, frame (ids 1/2/3) and scan
//! headers. Hardware runs against the emulated E and J drivers (common/emulator.rs).

mod common;

use amljpeg::hw::session::{Coding, Session};
use amljpeg::quant::Quantisation;
use amljpeg::{BackendChoice, Encoder, ErrorKind, Frame, PixelFormat, Subsampling};
use common::emulator::{deadline_ms, emu_stat, generation, in_emulator};
use common::*;
use std::time::Instant;

fn segment(code: u8, body: &[u8]) -> Vec<u8> {
    let mut s = vec![0xFF, code];
    s.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
    s.extend_from_slice(body);
    s
}

/// An EXIF APP1 (a little-endian TIFF with one entry: orientation 6) and a comment.
fn exif_and_comment() -> Vec<u8> {
    let mut tiff = b"Exif\0\0II*\0\x08\0\0\0".to_vec();
    tiff.extend_from_slice(&[1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0]);
    [segment(0xE1, &tiff), segment(0xFE, b"made by amljpeg")].concat()
}

/// The JPEG's bytes up to the end of its SOS segment.
fn header_of(jpeg: &[u8]) -> &[u8] {
    let mut at = 2;
    loop {
        assert_eq!(jpeg[at], 0xFF, "a marker at {at}");
        let len = u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]) as usize;
        if jpeg[at + 1] == 0xDA {
            return &jpeg[..at + 2 + len];
        }
        at += 2 + len;
    }
}

fn handle(choice: BackendChoice, subsampling: Subsampling, markers: &[u8]) -> Encoder {
    let mut enc = Encoder::open(None, choice).unwrap();
    enc.set_timeout(Some(deadline_ms(10_000)));
    enc.set_subsampling(subsampling);
    enc.set_markers(markers).unwrap();
    enc
}

/// What every JPEG must look like: libjpeg-turbo's header with the markers after APP0, and
/// a picture as good as libjpeg-turbo's.
fn check_like_software(hw: &[u8], sw: &[u8], markers: &[u8], what: &str) {
    assert_eq!(&hw[..6], &[0xFF, 0xD8, 0xFF, 0xE0, 0, 16], "{what}");
    assert_eq!(&hw[6..11], b"JFIF\0", "{what}");
    assert_eq!(&hw[20..20 + markers.len()], markers, "{what}");
    assert_eq!(
        header_of(hw),
        header_of(sw),
        "{what}: the header is libjpeg-turbo's"
    );
    let ids: Vec<u8> = sof_components(hw).iter().map(|c| c.0).collect();
    assert_eq!(ids, [1, 2, 3], "{what}");
    assert_eq!(&hw[hw.len() - 2..], &[0xFF, 0xD9], "{what}");
}

#[test]
fn every_backend_starts_the_jpeg_the_same_way() {
    if !in_emulator("every_backend_starts_the_jpeg_the_same_way", &[]) {
        return;
    }
    let img = load_rgb("chelsea.png");
    let markers = exif_and_comment();
    let mut frames = 0;
    for subsampling in [Subsampling::S420, Subsampling::S422] {
        let mut hw = handle(BackendChoice::Hardware, subsampling, &markers);
        let mut sw = handle(BackendChoice::Software, subsampling, &markers);
        for format in [PixelFormat::Nv12, PixelFormat::Rgb24, PixelFormat::Yuyv] {
            for quality in [60, 90] {
                let data = convert(&img, format);
                let (w, h) = (img.width as u32, img.height as u32);
                let frame = Frame::new(&data, w, h, 0, format).unwrap();
                let ours = hw.encode(&frame, quality).unwrap().to_vec();
                frames += 1;
                let theirs = sw.encode(&frame, quality).unwrap().to_vec();
                let what = format!("{subsampling:?} {} q{quality}", format.name());
                check_like_software(&ours, &theirs, &markers, &what);
                let (p_hw, p_sw) = (
                    psnr(&decode_rgb(&ours).pixels, &img.pixels),
                    psnr(&decode_rgb(&theirs).pixels, &img.pixels),
                );
                assert!(p_hw > p_sw - 1.0, "{what}: {p_hw:.2} dB against {p_sw:.2}");
            }
        }
        // A pipelined batch (on E) and zero-copy input give the same start.
        let nv12 = convert(&img, PixelFormat::Nv12);
        let (w, h) = (img.width as u32, img.height as u32);
        let frame = Frame::new(&nv12, w, h, 0, PixelFormat::Nv12).unwrap();
        let theirs = sw.encode(&frame, 90).unwrap().to_vec();
        let mut batch = Vec::new();
        hw.encode_batch(&[frame, frame, frame], 90, |_, jpeg| {
            batch.push(jpeg.unwrap().to_vec())
        })
        .unwrap();
        frames += 3;
        for jpeg in &batch {
            check_like_software(jpeg, &theirs, &markers, "batch");
        }
        let input = hw.input_buffer(PixelFormat::Nv12, w, h).unwrap();
        write_lent(&frame, &input);
        let zero_copy = hw.encode_input(90).unwrap().to_vec();
        frames += 1;
        check_like_software(&zero_copy, &theirs, &markers, "zero-copy input");
        assert_eq!(zero_copy, batch[0]);
    }
    assert_eq!(emu_stat("new_cmds"), frames);
    assert_eq!(
        emu_stat("hazards"),
        0,
        "no dirty line over the device's output"
    );
    assert_eq!(emu_stat("writeback_bytes"), 0);
}

/// A bad list is refused and changes nothing; an empty one clears; the output bound grows by
/// the segments' length.
#[test]
fn bad_segment_lists_are_refused_and_the_handle_keeps_working() {
    if !in_emulator(
        "bad_segment_lists_are_refused_and_the_handle_keeps_working",
        &[("JPEGENC_EMU_MPIXPS", "0")],
    ) {
        return;
    }
    let img = synthetic(96, 64);
    let data = convert(&img, PixelFormat::Rgb24);
    let frame = Frame::new(&data, 96, 64, 0, PixelFormat::Rgb24).unwrap();
    let good = exif_and_comment();
    let mut wrong_length = good.clone();
    wrong_length[3] += 1;
    let bad = [
        wrong_length,
        good[..good.len() - 1].to_vec(),
        [&good[..], &[0xFF]].concat(),
        segment(0xE0, b"JFIF\0\x01\x02\0\0\x01\0\x01\0\0"),
        segment(0xDB, &[0; 65]),
        [&good[..], &[0xFF, 0xD9]].concat(),
    ];
    for choice in [BackendChoice::Software, BackendChoice::Hardware] {
        let mut enc = handle(choice, Subsampling::S420, &good);
        let plain = Encoder::open(None, choice)
            .unwrap()
            .max_output_size(96, 64)
            .unwrap();
        assert_eq!(
            enc.max_output_size(96, 64).unwrap(),
            plain + good.len(),
            "{choice:?}"
        );
        for list in &bad {
            let e = enc.set_markers(list).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{list:x?}");
            let jpeg = enc.encode(&frame, 80).unwrap();
            assert_eq!(&jpeg[20..20 + good.len()], &good[..], "{choice:?}: kept");
        }
        enc.set_markers(&[]).unwrap();
        let jpeg = enc.encode(&frame, 80).unwrap();
        assert_eq!(&jpeg[20..22], &[0xFF, 0xDB], "{choice:?}: cleared");
        decode_rgb(jpeg);
    }
}

/// The header goes into the gap before the scan in the device's memory when it fits (no copy
/// of the JPEG), and the JPEG is copied out when it does not: E's HD level has no gap, J's VGA
/// level 4 KiB, the 5M level some 300 KiB.
#[test]
fn the_gap_holds_the_header_or_the_jpeg_is_copied() {
    for (generation, reserve) in [("E", "0x1800000"), ("J", "0x330000"), ("E", "0xC400000")] {
        in_emulator(
            "gap_child",
            &[
                ("JPEGENC_EMU_GEN", generation),
                ("JPEGENC_EMU_RESERVE", reserve),
                ("JPEGENC_EMU_MPIXPS", "0"),
            ],
        );
    }
}

#[test]
fn gap_child() {
    if std::env::var_os("AMLJPEG_IN_EMULATOR").is_none() {
        return; // run by the_gap_holds_the_header_or_the_jpeg_is_copied
    }
    let reserve = std::env::var("JPEGENC_EMU_RESERVE").unwrap();
    let comment = |n: usize| segment(0xFE, &vec![b'c'; n - 4]);
    let (small, big) = (comment(200), comment(5000));
    // (segments, copied): E 5M (a 308 KiB gap), J VGA (4 KiB), E HD (none).
    let cases: Vec<(Vec<u8>, bool)> = match (generation().as_str(), reserve.as_str()) {
        ("E", "0x1800000") => vec![
            (small.clone(), false),
            (big.clone(), false),
            ([&big[..], &comment(65535).repeat(5)].concat(), true),
        ],
        ("J", "0x330000") => vec![(small.clone(), false), (big.clone(), true)],
        ("E", "0xC400000") => vec![(Vec::new(), true), (small.clone(), true)],
        other => panic!("no case for {other:?}"),
    };
    let img = load_rgb("coffee.png");
    let data = convert(&img, PixelFormat::Nv12);
    let frame = Frame::new(
        &data,
        img.width as u32,
        img.height as u32,
        0,
        PixelFormat::Nv12,
    )
    .unwrap();
    let mut sw = Encoder::open(None, BackendChoice::Software).unwrap();
    let mut session = Session::open(std::path::Path::new("/dev/jpegenc")).unwrap();
    let quant = Quantisation::Quality(85);
    for (segments, copied) in cases {
        let before = session.copied_bytes();
        let coding = Coding {
            quant: &quant,
            subsampling: Subsampling::S420,
            segments: &segments,
        };
        let deadline = Instant::now() + deadline_ms(10_000);
        session.encode(&frame, coding, deadline).unwrap();
        let jpeg = session.output().to_vec();
        let what = format!("{reserve} {} segment bytes", segments.len());
        assert_eq!(
            session.copied_bytes() - before,
            if copied { jpeg.len() as u64 } else { 0 },
            "{what}"
        );
        sw.set_markers(&segments).unwrap();
        check_like_software(&jpeg, sw.encode(&frame, 85).unwrap(), &segments, &what);
        decode_rgb(&jpeg);
    }
    assert_eq!(emu_stat("hazards"), 0);
}
