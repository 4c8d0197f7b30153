//! The hardware backend against the emulated E driver (each test runs in a child process with
//! libjpegenc_emu.so preloaded; see common/emulator.rs).

mod common;

use amljpeg::{Backend, BackendChoice, Encoder, ErrorKind, Frame, PixelFormat, Subsampling};
use common::emulator::{deadline_ms, emu_stat, generation, in_emulator, slowdown};
use common::*;
use std::time::Duration;

/// A HARDWARE handle with a generous deadline: a loaded machine makes the emulated encoder
/// slow, never wrong (tests that need a short one set it).
fn hardware() -> Encoder {
    let mut enc = Encoder::open(None, BackendChoice::Hardware).expect("hardware handle");
    enc.set_timeout(Some(deadline_ms(10_000)));
    enc
}

/// What libjpeg-turbo (our software backend) achieves on the same input: the bar for the
/// hardware path.
fn software_psnr(img: &Rgb, format: PixelFormat, quality: i32) -> f64 {
    let mut sw = Encoder::open(None, BackendChoice::Software).unwrap();
    psnr(
        &decode_rgb(&encode(&mut sw, img, format, quality).unwrap()).pixels,
        &img.pixels,
    )
}

fn encode(
    enc: &mut Encoder,
    img: &Rgb,
    format: PixelFormat,
    quality: i32,
) -> amljpeg::Result<Vec<u8>> {
    let data = convert(img, format);
    let frame = Frame::new(&data, img.width as u32, img.height as u32, 0, format).unwrap();
    enc.encode(&frame, quality).map(|j| j.to_vec())
}

#[test]
fn every_format_encodes_photos_close_to_libjpeg_turbo() {
    if !in_emulator("every_format_encodes_photos_close_to_libjpeg_turbo", &[]) {
        return;
    }
    let mut enc = hardware();
    let mut frames = 0;
    for name in ["chelsea.png", "coffee.png", "astronaut.png"] {
        let img = load_rgb(name);
        let reference = psnr(
            &decode_rgb(&reference_jpeg(&img, 90, turbojpeg::Subsamp::Sub2x2)).pixels,
            &img.pixels,
        );
        for &format in PixelFormat::ALL {
            let jpeg = encode(&mut enc, &img, format, 90)
                .unwrap_or_else(|e| panic!("{name} {}: {e}", format.name()));
            frames += 1;
            assert_eq!(enc.last_backend(), Some(Backend::Hardware));
            let decoded = decode_rgb(&jpeg);
            assert_eq!((decoded.width, decoded.height), (img.width, img.height));
            if format == PixelFormat::Gray8 {
                // Grey goes in as NV12 with neutral chroma: the JPEG is grey.
                assert!(decoded
                    .pixels
                    .chunks(3)
                    .all(|p| p[0].abs_diff(p[1]) <= 2 && p[1].abs_diff(p[2]) <= 2));
                continue;
            }
            let p = psnr(&decoded.pixels, &img.pixels);
            // YUV inputs went through the test's own RGB->YCbCr conversion first.
            let slack = if format.is_yuv() { 1.5 } else { 1.0 };
            assert!(
                p > reference - slack,
                "{name} {}: {p:.2} dB, libjpeg-turbo {reference:.2} dB",
                format.name()
            );
        }
    }
    assert_eq!(emu_stat("new_cmds"), frames, "one NEW_CMD per frame");
    assert_eq!(
        emu_stat("stale_input_jobs"),
        0,
        "every frame was cleaned before the hardware read it"
    );
    assert_eq!(emu_stat("hazards"), 0);
}

#[test]
fn quantisation_tables_are_libjpegs_at_every_quality() {
    if !in_emulator(
        "quantisation_tables_are_libjpegs_at_every_quality",
        &[("JPEGENC_EMU_MPIXPS", "0")],
    ) {
        return;
    }
    let img = synthetic(32, 32);
    let mut enc = hardware();
    for q in 1..=100 {
        let ours = encode(&mut enc, &img, PixelFormat::Rgb24, q).unwrap();
        let theirs = reference_jpeg(&img, q, turbojpeg::Subsamp::Sub2x2);
        assert_eq!(dqt_tables(&ours), dqt_tables(&theirs), "quality {q}");
    }
}

/// A batch of different frames (sizes, formats): each result is its own frame, in order; on
/// E the next frame is laid out while the device encodes (the NEW_CMD offset alternates).
fn batch_of_frames() -> Vec<(Rgb, PixelFormat, Vec<u8>)> {
    let photo = load_rgb("chelsea.png");
    [
        (synthetic(320, 240), PixelFormat::Nv12),
        (photo.clone(), PixelFormat::Rgb24),
        (synthetic(96, 64), PixelFormat::Yuyv),
        (photo, PixelFormat::I420),
        (synthetic(640, 480), PixelFormat::Bgra32),
        (synthetic(33, 17), PixelFormat::Nv12),
    ]
    .into_iter()
    .map(|(img, f)| {
        let data = convert(&img, f);
        (img, f, data)
    })
    .collect()
}

fn frames_of(batch: &[(Rgb, PixelFormat, Vec<u8>)]) -> Vec<Frame<'_>> {
    batch
        .iter()
        .map(|(img, f, data)| Frame::new(data, img.width as u32, img.height as u32, 0, *f).unwrap())
        .collect()
}

#[test]
fn a_batch_is_pipelined_and_every_frame_is_its_own() {
    if !in_emulator("a_batch_is_pipelined_and_every_frame_is_its_own", &[]) {
        return;
    }
    let batch = batch_of_frames();
    let frames = frames_of(&batch);
    let mut enc = hardware();
    let mut got = Vec::new();
    enc.encode_batch(&frames, 90, |i, jpeg| {
        got.push((i, jpeg.map(|j| j.to_vec())))
    })
    .unwrap();
    assert_eq!(
        got.iter().map(|g| g.0).collect::<Vec<_>>(),
        (0..6).collect::<Vec<_>>()
    );
    // The model is deterministic: each frame's JPEG is byte for byte the one it gets alone.
    for ((_, jpeg), frame) in got.iter().zip(&frames) {
        let jpeg = jpeg
            .as_ref()
            .unwrap_or_else(|e| panic!("{}: {e}", frame.format().name()));
        let alone = enc.encode(frame, 90).unwrap().to_vec();
        assert!(
            *jpeg == alone,
            "{} {}x{}",
            frame.format().name(),
            frame.width(),
            frame.height()
        );
    }
    enc.release();
    assert_eq!(emu_stat("new_cmds"), 12);
    // E: the odd frames went to the second slot; J has no input offset (one by one).
    let expected = if generation() == "E" { 3 } else { 0 };
    assert_eq!(emu_stat("offset_jobs"), expected);
    assert_eq!(
        emu_stat("stale_input_jobs"),
        0,
        "a slot was overwritten while read"
    );
    assert_eq!(emu_stat("hazards"), 0);
    // The device is free afterwards, for this handle and others.
    assert!(encode(&mut hardware(), &synthetic(64, 64), PixelFormat::Nv12, 80).is_ok());
}

#[test]
fn a_device_fault_in_a_batch_hits_that_frame_only() {
    if !in_emulator(
        "a_device_fault_in_a_batch_hits_that_frame_only",
        &[("JPEGENC_EMU_FAULT", "corrupt@3")],
    ) {
        return;
    }
    let batch = batch_of_frames();
    let frames = frames_of(&batch);
    for (choice, failures) in [(BackendChoice::Hardware, 1), (BackendChoice::Auto, 0)] {
        let mut enc = Encoder::open(None, choice).unwrap();
        let mut results = Vec::new();
        enc.encode_batch(&frames, 90, |i, jpeg| {
            results.push((i, jpeg.map(|j| decode_rgb(j).pixels)))
        })
        .unwrap();
        assert_eq!(results.len(), 6, "{choice:?}");
        let failed = results.iter().filter(|r| r.1.is_err()).count();
        assert_eq!(failed, failures, "{choice:?}");
        for ((_, pixels), (img, _, _)) in results.iter().zip(&batch) {
            if let Ok(pixels) = pixels {
                assert_eq!(pixels.len(), img.pixels.len());
                assert!(psnr(pixels, &img.pixels) > 20.0);
            }
        }
    }
}

#[test]
fn custom_quantisation_tables() {
    if !in_emulator("custom_quantisation_tables", &[("JPEGENC_EMU_MPIXPS", "0")]) {
        return;
    }
    let img = load_rgb("chelsea.png");
    // A linear ramp no quality reproduces, and libjpeg's own quality-70 tables.
    let ramp: [u16; 64] = std::array::from_fn(|i| 2 + (i as u16) * 3 / 2);
    let custom = amljpeg::QuantTables::custom(ramp, ramp.map(|v| (v * 2).min(255))).unwrap();
    let q70 = amljpeg::QuantTables::for_quality(70);
    let zigzag = |t: &[u16; 64]| amljpeg::quant::ZIGZAG.map(|n| t[n] as u8).to_vec();
    let mut hw = hardware();
    let mut sw = Encoder::open(None, BackendChoice::Software).unwrap();
    for enc in [&mut hw, &mut sw] {
        enc.set_quant_tables(Some(q70.clone()));
        let jpeg = encode(enc, &img, PixelFormat::Rgb24, 5).unwrap();
        assert_eq!(
            dqt_tables(&jpeg),
            dqt_tables(&reference_jpeg(&img, 70, turbojpeg::Subsamp::Sub2x2)),
            "tables equal to a quality's work everywhere, whatever the quality argument"
        );
        enc.set_quant_tables(Some(custom.clone()));
    }
    assert_eq!(
        encode(&mut sw, &img, PixelFormat::Rgb24, 75)
            .unwrap_err()
            .kind(),
        ErrorKind::Unsupported
    );
    let result = encode(&mut hw, &img, PixelFormat::Nv12, 75);
    if generation() != "E" {
        assert_eq!(result.unwrap_err().kind(), ErrorKind::Unsupported);
    } else {
        let jpeg = result.unwrap();
        assert_eq!(
            dqt_tables(&jpeg),
            vec![(0, zigzag(&custom.luma)), (1, zigzag(&custom.chroma))]
        );
        assert!(psnr(&decode_rgb(&jpeg).pixels, &img.pixels) > 30.0);
        // Back to quality: the external table is cleared and the quality's tables return.
        hw.set_quant_tables(None);
        let jpeg = encode(&mut hw, &img, PixelFormat::Nv12, 70).unwrap();
        assert_eq!(
            dqt_tables(&jpeg),
            dqt_tables(&reference_jpeg(&img, 70, turbojpeg::Subsamp::Sub2x2))
        );
    }
}

#[test]
fn level_limits_and_what_the_hardware_cannot_do() {
    if !in_emulator(
        "level_limits_and_what_the_hardware_cannot_do",
        &[("JPEGENC_EMU_MPIXPS", "0")],
    ) {
        return;
    }
    let mut enc = hardware();
    // The largest frame takes long on a loaded machine: a generous deadline, not the default.
    enc.set_timeout(Some(deadline_ms(20_000)));
    let max = synthetic(2624, 2624);
    let jpeg = encode(&mut enc, &max, PixelFormat::Nv12, 75).unwrap();
    assert!(
        psnr(&decode_rgb(&jpeg).pixels, &max.pixels)
            > software_psnr(&max, PixelFormat::Nv12, 75) - 1.0
    );
    let over = synthetic(2625, 16);
    assert_eq!(
        encode(&mut enc, &over, PixelFormat::Nv12, 75)
            .unwrap_err()
            .kind(),
        ErrorKind::Unsupported
    );
    enc.set_subsampling(Subsampling::S444);
    assert_eq!(
        encode(&mut enc, &synthetic(64, 64), PixelFormat::Nv12, 75)
            .unwrap_err()
            .kind(),
        ErrorKind::Unsupported
    );
    enc.set_subsampling(Subsampling::S422);
    let jpeg = encode(&mut enc, &synthetic(99, 41), PixelFormat::Yuyv, 90).unwrap();
    assert_eq!(sof_components(&jpeg)[0].1, 2);
    assert_eq!(sof_components(&jpeg)[0].2, 1, "4:2:2");
    // AUTO takes software for what the hardware cannot do, and the hardware for the rest.
    let mut auto = Encoder::open(None, BackendChoice::Auto).unwrap();
    encode(&mut auto, &over, PixelFormat::Nv12, 75).unwrap();
    assert_eq!(auto.last_backend(), Some(Backend::Software));
    // While `enc` still holds the device (its JPEG lives there), AUTO does not wait for it.
    encode(&mut auto, &synthetic(64, 64), PixelFormat::Nv12, 75).unwrap();
    assert_eq!(auto.last_backend(), Some(Backend::Software));
    enc.release();
    encode(&mut auto, &synthetic(64, 64), PixelFormat::Nv12, 75).unwrap();
    assert_eq!(auto.last_backend(), Some(Backend::Hardware));
    auto.set_subsampling(Subsampling::S444);
    encode(&mut auto, &synthetic(64, 64), PixelFormat::Nv12, 75).unwrap();
    assert_eq!(auto.last_backend(), Some(Backend::Software));
}

#[test]
fn every_output_size_and_eoi_alternative_gives_the_same_jpeg() {
    // Both readings of GET_OUTPUT_SIZE, with and without an EOI from the microcode.
    for (size, eoi) in [
        ("total", "1"),
        ("payload", "1"),
        ("total", "0"),
        ("payload", "0"),
    ] {
        let name = "output_alternatives_child";
        in_emulator(
            name,
            &[("JPEGENC_EMU_OUTPUT_SIZE", size), ("JPEGENC_EMU_EOI", eoi)],
        );
    }
}

#[test]
fn output_alternatives_child() {
    if std::env::var_os("AMLJPEG_IN_EMULATOR").is_none() {
        return;
    }
    let mut enc = hardware();
    for (i, name) in ["chelsea.png", "coffee.png"].iter().enumerate() {
        let img = load_rgb(name);
        let jpeg = encode(&mut enc, &img, PixelFormat::Nv12, 85 + i as i32).unwrap();
        assert!(jpeg.ends_with(&[0xFF, 0xD9]));
        assert!(psnr(&decode_rgb(&jpeg).pixels, &img.pixels) > 30.0);
    }
}

#[test]
fn threads_share_the_device_on_shared_and_separate_handles() {
    if !in_emulator(
        "threads_share_the_device_on_shared_and_separate_handles",
        &[("JPEGENC_EMU_MPIXPS", "0")],
    ) {
        return;
    }
    // Nine handles take turns on one device: each waits as long as it takes (bounded), so
    // a loaded machine makes the test slower, never wrong.
    let patient = || {
        let mut enc = hardware();
        enc.set_busy_wait(Some(deadline_ms(30_000)));
        enc.set_timeout(Some(deadline_ms(30_000)));
        enc
    };
    let shared = std::sync::Mutex::new(patient());
    std::thread::scope(|s| {
        for t in 0..8 {
            let shared = &shared;
            s.spawn(move || {
                let mut own = patient();
                let img = synthetic(48 + 8 * t, 32 + 4 * t);
                let bar = software_psnr(&img, PixelFormat::Nv12, 80) - 1.0;
                let data = convert(&img, PixelFormat::Nv12);
                let frame = Frame::new(
                    &data,
                    img.width as u32,
                    img.height as u32,
                    0,
                    PixelFormat::Nv12,
                )
                .unwrap();
                let mut buf = vec![0; 1 << 20];
                for i in 0..100 {
                    let n = if i % 2 == 0 {
                        shared
                            .lock()
                            .unwrap()
                            .encode_into(&frame, 80, &mut buf)
                            .unwrap()
                    } else {
                        own.encode_into(&frame, 80, &mut buf).unwrap()
                    };
                    let p = psnr(&decode_rgb(&buf[..n]).pixels, &img.pixels);
                    assert!(
                        p > bar,
                        "thread {t} frame {i}: {p:.2} dB, software {bar:.2} + 1"
                    );
                }
            });
        }
    });
    assert_eq!(emu_stat("new_cmds"), 800);
}

#[test]
fn the_jpeg_is_the_devices_buffer_until_released() {
    if !in_emulator(
        "the_jpeg_is_the_devices_buffer_until_released",
        &[("JPEGENC_EMU_MPIXPS", "0")],
    ) {
        return;
    }
    let img = synthetic(64, 64);
    let mut a = hardware();
    let mut b = hardware();
    b.set_timeout(Some(deadline_ms(150)));
    let jpeg = encode(&mut a, &img, PixelFormat::Nv12, 80).unwrap();
    // `a` still holds the device: `b` waits, then reports busy.
    assert_eq!(
        encode(&mut b, &img, PixelFormat::Nv12, 80)
            .unwrap_err()
            .kind(),
        ErrorKind::Busy
    );
    a.release();
    assert_eq!(encode(&mut b, &img, PixelFormat::Nv12, 80).unwrap(), jpeg);
}

#[test]
fn zero_copy_input() {
    if !in_emulator("zero_copy_input", &[("JPEGENC_EMU_MPIXPS", "0")]) {
        return;
    }
    let img = load_rgb("chelsea.png");
    let mut enc = hardware();
    for format in [
        PixelFormat::Nv12,
        PixelFormat::Nv21,
        PixelFormat::I420,
        PixelFormat::Yuyv,
    ] {
        if format == PixelFormat::I420 && generation() != "E" {
            // J's driver mis-reads I420 (its U canvas is never set up): it goes as NV12,
            // converted on the way in, so there is no zero-copy I420.
            assert_eq!(
                enc.input_buffer(format, 64, 64).err().unwrap().kind(),
                ErrorKind::Unsupported
            );
            continue;
        }
        let data = convert(&img, format);
        let frame = Frame::new(&data, img.width as u32, img.height as u32, 0, format).unwrap();
        let copied = enc.encode(&frame, 90).unwrap().to_vec();
        let buffer = enc
            .input_buffer(format, img.width as u32, img.height as u32)
            .unwrap();
        write_lent(&frame, &buffer);
        let zero_copy = enc.encode_input(90).unwrap().to_vec();
        assert_eq!(zero_copy, copied, "{}", format.name());
    }
    assert_eq!(
        enc.encode_input(90).unwrap_err().kind(),
        ErrorKind::InvalidArgument,
        "no buffer taken"
    );
    assert_eq!(
        enc.input_buffer(PixelFormat::Rgb24, 16, 16)
            .err()
            .unwrap()
            .kind(),
        ErrorKind::Unsupported
    );
}

/// Each fault: HARDWARE reports it (the expected kind) and the next frame works; AUTO
/// retries once on a fresh session and then falls back, so it always delivers a good JPEG.
#[test]
fn faults_give_an_error_and_the_next_frame_works() {
    // (fault, expected error, generations whose driver has the ioctl the fault hits)
    const ALL: &[&str] = &["E", "J", "MM"];
    let cases: [(&str, &str, &[&str]); 10] = [
        ("hang@1", "Timeout", ALL),
        ("lost-irq@1", "Timeout", ALL),
        ("overflow@1", "Device", ALL),
        ("corrupt@1", "Device", ALL),
        ("eperm:NEW_CMD@1", "Device", &["E", "J"]),
        ("eperm:NEW_CMD2@1", "Device", &["MM"]),
        ("eperm:GET_OUTPUT_SIZE@1", "Device", ALL),
        ("eperm:GET_STAGE@1", "Device", &["E"]),
        ("eperm:FLUSH_DMA@1", "Device", &["E"]),
        ("eperm:SET_ENCODER_WIDTH@2", "Device", &["E"]), // call 1 is the open-time limit probe
    ];
    let tested = amljpeg_testkit::generations();
    for (fault, kind, generations) in cases {
        for &g in generations.iter().filter(|g| tested.contains(g)) {
            let env = [
                ("JPEGENC_EMU_FAULT", fault),
                ("AMLJPEG_EXPECT", kind),
                ("JPEGENC_EMU_MPIXPS", "0"),
                ("JPEGENC_EMU_GEN", g),
            ];
            in_emulator("fault_child", &env);
        }
    }
}

#[test]
fn fault_child() {
    let Ok(expect) = std::env::var("AMLJPEG_EXPECT") else {
        return;
    };
    let img = load_rgb("chelsea.png");
    let mut enc = hardware();
    enc.set_timeout(Some(deadline_ms(300)));
    let fault = std::env::var("JPEGENC_EMU_FAULT").unwrap();
    let Err(err) = encode(&mut enc, &img, PixelFormat::Nv12, 90) else {
        panic!("{fault}: the fault did not show")
    };
    assert_eq!(format!("{:?}", err.kind()), expect, "{err}");
    enc.set_timeout(Some(deadline_ms(5000)));
    for _ in 0..2 {
        let jpeg = encode(&mut enc, &img, PixelFormat::Nv12, 90).expect("the next frame works");
        assert!(psnr(&decode_rgb(&jpeg).pixels, &img.pixels) > 30.0);
    }
}

#[test]
fn auto_rides_out_faults() {
    for fault in ["hang@1", "corrupt@1", "hang", "corrupt", "overflow", "busy"] {
        in_emulator(
            "auto_fault_child",
            &[
                ("JPEGENC_EMU_FAULT", fault),
                ("JPEGENC_EMU_MPIXPS", "0"),
                ("AML_JPEG_TIMEOUT_MS", &(200 * slowdown()).to_string()),
            ],
        );
    }
}

#[test]
fn auto_fault_child() {
    if std::env::var_os("AMLJPEG_IN_EMULATOR").is_none() {
        return;
    }
    let fault = std::env::var("JPEGENC_EMU_FAULT").unwrap();
    let img = load_rgb("coffee.png");
    let mut auto = Encoder::open(None, BackendChoice::Auto).unwrap();
    let mut backends = Vec::new();
    for _ in 0..3 {
        let jpeg = encode(&mut auto, &img, PixelFormat::Rgb24, 90).unwrap();
        backends.push(auto.last_backend().unwrap());
        assert!(psnr(&decode_rgb(&jpeg).pixels, &img.pixels) > 30.0);
    }
    // A corrupt first job is retried on a fresh session: hardware. A job that timed out is
    // not (it already cost the whole deadline): AUTO keeps away from the device for a while
    // (250 ms, doubling), so a device that fails every job costs one timeout now and then,
    // not one or two per frame.
    match fault.as_str() {
        "corrupt@1" => assert_eq!(backends, [Backend::Hardware; 3]),
        "hang@1" => assert_eq!(backends[0], Backend::Software),
        _ => assert_eq!(backends, [Backend::Software; 3], "{fault}"),
    }
    if fault == "hang" {
        // One timeout, a second only if a software frame outlasted the backoff (slow runs).
        let jobs = emu_stat("new_cmds");
        assert!((1..=2).contains(&jobs), "{fault}: {jobs} jobs for 3 frames");
    }
    if fault.ends_with("@1") {
        // After the backoff the device is tried again, and works.
        std::thread::sleep(Duration::from_millis(600));
        encode(&mut auto, &img, PixelFormat::Rgb24, 90).unwrap();
        assert_eq!(auto.last_backend(), Some(Backend::Hardware), "{fault}");
    }
    if fault == "busy" {
        // HARDWARE waits for its timeout, then reports busy.
        let mut hw = Encoder::open(None, BackendChoice::Hardware).unwrap();
        hw.set_timeout(Some(deadline_ms(100)));
        assert_eq!(
            encode(&mut hw, &img, PixelFormat::Rgb24, 90)
                .unwrap_err()
                .kind(),
            ErrorKind::Busy
        );
    }
}

/// Starts this test binary's `holder` in another process on the same emulated device and
/// waits until it holds the device.
fn start_holder(mode: &str) -> std::process::Child {
    use std::io::BufRead;
    let mut child = common::emulator::target_command(std::env::current_exe().unwrap())
        .args(["holder", "--exact", "--nocapture", "--test-threads=1"])
        .env("AMLJPEG_HOLD", mode)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(
        lines.any(|l| l.unwrap().contains("holding")),
        "the holder never took the device"
    );
    child
}

#[test]
fn holder() {
    let Ok(mode) = std::env::var("AMLJPEG_HOLD") else {
        return;
    };
    let img = synthetic(640, 480);
    let mut enc = hardware();
    encode(&mut enc, &img, PixelFormat::Nv12, 80).unwrap();
    println!("holding");
    let until = std::time::Instant::now() + Duration::from_secs(3).max(deadline_ms(250));
    while std::time::Instant::now() < until {
        if mode == "loop" {
            encode(&mut enc, &img, PixelFormat::Nv12, 80).unwrap();
        } else {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

#[test]
fn two_processes_contend_for_the_device() {
    if !in_emulator("two_processes_contend_for_the_device", &[]) {
        return;
    }
    let img = synthetic(128, 96);
    let mut holder = start_holder("hold");
    let mut auto = Encoder::open(None, BackendChoice::Auto).unwrap();
    encode(&mut auto, &img, PixelFormat::Nv12, 80).unwrap();
    assert_eq!(
        auto.last_backend(),
        Some(Backend::Software),
        "the other process has the device"
    );
    let mut hw = hardware();
    // With no busy wait HARDWARE gives up at once, however long its frames may take.
    hw.set_timeout(Some(Duration::from_secs(20)));
    hw.set_busy_wait(Some(Duration::ZERO));
    let asked = std::time::Instant::now();
    assert_eq!(
        encode(&mut hw, &img, PixelFormat::Nv12, 80)
            .unwrap_err()
            .kind(),
        ErrorKind::Busy
    );
    assert!(asked.elapsed() < Duration::from_secs(10), "it waited");
    hw.set_busy_wait(None);
    hw.set_timeout(Some(deadline_ms(100)));
    assert_eq!(
        encode(&mut hw, &img, PixelFormat::Nv12, 80)
            .unwrap_err()
            .kind(),
        ErrorKind::Busy
    );
    holder.wait().unwrap();
    // Once it is gone, HARDWARE gets the device; AUTO after its back-off too.
    drop(auto);
    let mut auto = Encoder::open(None, BackendChoice::Auto).unwrap();
    hw.set_timeout(None);
    encode(&mut hw, &img, PixelFormat::Nv12, 80).unwrap();
    hw.release();
    encode(&mut auto, &img, PixelFormat::Nv12, 80).unwrap();
    assert_eq!(auto.last_backend(), Some(Backend::Hardware));
    // Closing every handle gives the device back to the system.
    drop((auto, hw));
    let mut other = start_holder("hold");
    other.wait().unwrap();
}

#[test]
fn a_client_killed_mid_encode_leaves_the_device_usable() {
    if !in_emulator(
        "a_client_killed_mid_encode_leaves_the_device_usable",
        &[("JPEGENC_EMU_MPIXPS", "20")],
    ) {
        return;
    }
    let mut holder = start_holder("loop");
    std::thread::sleep(Duration::from_millis(50));
    holder.kill().unwrap(); // SIGKILL, most likely while a job runs
    holder.wait().unwrap();
    let img = synthetic(320, 240);
    let mut hw = hardware();
    let jpeg = encode(&mut hw, &img, PixelFormat::Nv12, 80).unwrap();
    assert!(
        psnr(&decode_rgb(&jpeg).pixels, &img.pixels)
            > software_psnr(&img, PixelFormat::Nv12, 80) - 1.0
    );
}

#[test]
fn the_device_descriptor_is_closed_on_exec() {
    if !in_emulator(
        "the_device_descriptor_is_closed_on_exec",
        &[("JPEGENC_EMU_MPIXPS", "0")],
    ) {
        return;
    }
    let mut enc = hardware();
    encode(&mut enc, &synthetic(32, 32), PixelFormat::Nv12, 80).unwrap();
    // The device is open now. A program exec'd from here lists its descriptors: the device's
    // (a memfd named jpegenc-emu under the emulator) must not be among them.
    let out = std::process::Command::new("/bin/sh")
        .args(["-c", "ls -l /proc/self/fd/"])
        .env_remove("LD_PRELOAD")
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && listing.contains(" -> "),
        "no descriptor listing:\n{listing}"
    );
    assert!(
        !listing.contains("jpegenc-emu"),
        "the device descriptor leaked into an exec'd program:\n{listing}"
    );
}

#[test]
fn one_thread_two_handles_never_hang_on_the_lease() {
    if !in_emulator("one_thread_two_handles_never_hang_on_the_lease", &[]) {
        return;
    }
    let img = synthetic(64, 48);
    let mut a = hardware();
    encode(&mut a, &img, PixelFormat::Rgb24, 90).unwrap();
    // A holds the device (its JPEG lives there); B opens and asks without waiting for it.
    let t = std::time::Instant::now();
    let mut b = hardware();
    assert!(b.device_info().unwrap().is_some());
    assert!(b.max_output_size(64, 48).unwrap() > 0);
    assert!(t.elapsed() < deadline_ms(2000), "{:?}", t.elapsed());
    // B's encode follows the busy-wait rules, and says why.
    b.set_busy_wait(Some(Duration::from_millis(50)));
    let t = std::time::Instant::now();
    let err = encode(&mut b, &img, PixelFormat::Rgb24, 90).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Busy);
    assert!(
        err.message().contains("this thread holds the device"),
        "{err}"
    );
    assert!(t.elapsed() < deadline_ms(2000));
    // The default busy wait is bounded too (the frame's timeout).
    b.set_busy_wait(None);
    b.set_timeout(Some(deadline_ms(200)));
    let t = std::time::Instant::now();
    assert_eq!(
        encode(&mut b, &img, PixelFormat::Rgb24, 90)
            .unwrap_err()
            .kind(),
        ErrorKind::Busy
    );
    assert!(t.elapsed() < deadline_ms(3000));
    let mut auto = Encoder::open(None, BackendChoice::Auto).unwrap();
    encode(&mut auto, &img, PixelFormat::Rgb24, 90).unwrap();
    assert_eq!(auto.last_backend(), Some(Backend::Software));
    a.release();
    encode(&mut b, &img, PixelFormat::Rgb24, 90).unwrap();
    assert_eq!(b.last_backend(), Some(Backend::Hardware));
}

#[test]
fn the_8m_level_keeps_frames_that_could_overrun_the_block_off_the_device() {
    if !in_emulator(
        "the_8m_level_keeps_frames_that_could_overrun_the_block_off_the_device",
        &[
            ("JPEGENC_EMU_RESERVE", "0x2300000"),
            ("JPEGENC_EMU_MPIXPS", "0"),
        ],
    ) {
        return;
    }
    // Its scan can take 40 MiB; noise at quality 100 does take about 8.
    let img = noise(2048, 2048);
    // The model's encoder takes a while for this much noise on a loaded machine.
    let mut hw = hardware();
    hw.set_timeout(Some(deadline_ms(20_000)));
    let err = encode(&mut hw, &img, PixelFormat::Rgb24, 100).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    // E: its 64 MiB window would run past the block, so the frame never reaches the device.
    // J: the window is the real 4 MiB; the device stops there and the JPEG does not fit.
    let (said, sent) = if generation() == "E" {
        ("real bitstream buffer", 0)
    } else {
        ("does not fit", 1)
    };
    assert!(err.message().contains(said), "{err}");
    assert_eq!(emu_stat("new_cmds"), sent);
    // AUTO delivers it whole, in software.
    let mut auto = Encoder::open(None, BackendChoice::Auto).unwrap();
    auto.set_timeout(Some(deadline_ms(20_000)));
    let jpeg = encode(&mut auto, &img, PixelFormat::Rgb24, 100).unwrap();
    assert_eq!(auto.last_backend(), Some(Backend::Software));
    assert!(jpeg.len() > 6 << 20, "{}", jpeg.len());
    let decoded = decode_rgb(&jpeg);
    assert_eq!((decoded.width, decoded.height), (2048, 2048));
    let sent_by_auto = emu_stat("new_cmds") - sent;
    // A frame whose worst case fits the real 4 MiB still goes to the hardware.
    let small = noise(320, 240);
    encode(&mut hw, &small, PixelFormat::Rgb24, 100).unwrap();
    assert_eq!(hw.last_backend(), Some(Backend::Hardware));
    assert_eq!(
        emu_stat("new_cmds"),
        2 * sent + 1,
        "AUTO sent it {sent_by_auto} times"
    );
    assert_eq!(emu_stat("hazards"), 0);
}

#[test]
fn the_output_bound_holds_for_the_worst_inputs() {
    if !in_emulator(
        "the_output_bound_holds_for_the_worst_inputs",
        &[("JPEGENC_EMU_MPIXPS", "0")],
    ) {
        return;
    }
    // Noise at quality 100 in both subsamplings, through the hardware and libjpeg-turbo.
    for sub in [Subsampling::S420, Subsampling::S422] {
        for (w, h) in [(512, 512), (100, 36)] {
            let img = noise(w, h);
            let bound = amljpeg::hw::bound::max_scan_bytes(
                w,
                h,
                sub,
                &amljpeg::QuantTables::for_quality(100),
            );
            for choice in [BackendChoice::Hardware, BackendChoice::Software] {
                let mut enc = Encoder::open(None, choice).unwrap();
                enc.set_subsampling(sub);
                let jpeg = encode(&mut enc, &img, PixelFormat::Rgb24, 100).unwrap();
                let scan = jpeg.len() - 600; // the header and tables are at least this
                assert!(
                    scan <= bound,
                    "{choice:?} {sub:?} {w}x{h}: {scan} > {bound}"
                );
                // Sound, not tight: about five times what noise takes.
                assert!(bound < 6 * jpeg.len(), "{bound} vs {}", jpeg.len());
            }
        }
    }
    assert_eq!(emu_stat("hazards"), 0);
}

#[test]
fn e_heights_past_the_size_register_stay_off_the_device() {
    // The HD level (196 MiB) allows 8192 rows; E's MFDIN size field holds 4095.
    if !in_emulator(
        "e_heights_past_the_size_register_stay_off_the_device",
        &[
            ("JPEGENC_EMU_RESERVE", "0xC400000"),
            ("JPEGENC_EMU_MPIXPS", "0"),
        ],
    ) {
        return;
    }
    let img = synthetic(64, 4096);
    let mut hw = hardware();
    let result = encode(&mut hw, &img, PixelFormat::Nv12, 80);
    if generation() == "E" {
        assert_eq!(result.unwrap_err().kind(), ErrorKind::Unsupported);
        let mut auto = Encoder::open(None, BackendChoice::Auto).unwrap();
        encode(&mut auto, &img, PixelFormat::Nv12, 80).unwrap();
        assert_eq!(auto.last_backend(), Some(Backend::Software));
        assert_eq!(emu_stat("new_cmds"), 0);
    } else {
        // J's driver has room for the height.
        let p = psnr(&decode_rgb(&result.unwrap()).pixels, &img.pixels);
        let reference = software_psnr(&img, PixelFormat::Nv12, 80);
        assert!(p > reference - 1.5, "{p} vs {reference}");
    }
    // 4080 rows still fit E's register.
    encode(&mut hw, &synthetic(64, 4080), PixelFormat::Nv12, 80).unwrap();
    assert_eq!(emu_stat("hazards"), 0);
}

#[test]
fn a_device_without_microcode_costs_auto_one_timeout() {
    if !in_emulator(
        "a_device_without_microcode_costs_auto_one_timeout",
        &[("JPEGENC_EMU_FAULT", "no-microcode")],
    ) {
        return;
    }
    let img = synthetic(64, 48);
    // HARDWARE: the first frame reports the failure (it never completes).
    let mut hw = hardware();
    hw.set_timeout(Some(deadline_ms(200)));
    assert_eq!(
        encode(&mut hw, &img, PixelFormat::Nv12, 80)
            .unwrap_err()
            .kind(),
        ErrorKind::Timeout
    );
    drop(hw);
    // AUTO: every frame is delivered; the device is left alone after it failed.
    let mut auto = Encoder::open(None, BackendChoice::Auto).unwrap();
    auto.set_timeout(Some(deadline_ms(200)));
    let t = std::time::Instant::now();
    for _ in 0..20 {
        encode(&mut auto, &img, PixelFormat::Nv12, 80).unwrap();
        assert_eq!(auto.last_backend(), Some(Backend::Software));
    }
    assert!(t.elapsed() < deadline_ms(5000), "{:?}", t.elapsed());
    assert!(emu_stat("new_cmds") <= 3, "{}", emu_stat("new_cmds"));
}

#[test]
fn output_cache_alternatives_give_the_same_jpeg() {
    // J's header coherent (3.14) or stale (media_modules), and no EOI from the microcode
    // (the library must not leave its EOI dirty in the DMA buffer): frames of falling and
    // rising size in a row, so a written-back line would land inside a later scan.
    for (header, eoi) in [("stale", "0"), ("coherent", "1"), ("coherent", "0")] {
        in_emulator(
            "output_cache_child",
            &[("JPEGENC_EMU_J_HEADER", header), ("JPEGENC_EMU_EOI", eoi)],
        );
    }
}

#[test]
fn output_cache_child() {
    if std::env::var_os("AMLJPEG_IN_EMULATOR").is_none() {
        return;
    }
    let mut enc = hardware();
    for (name, q) in [
        ("coffee.png", 95),
        ("chelsea.png", 60),
        ("coffee.png", 90),
        ("chelsea.png", 30),
    ] {
        let img = load_rgb(name);
        for format in [PixelFormat::Nv12, PixelFormat::Rgb24] {
            let jpeg = encode(&mut enc, &img, format, q).unwrap();
            assert!(jpeg.ends_with(&[0xFF, 0xD9]));
            assert!(
                psnr(&decode_rgb(&jpeg).pixels, &img.pixels) > 26.0,
                "{name} q{q}"
            );
        }
    }
    assert_eq!(emu_stat("hazards"), 0);
    assert_eq!(emu_stat("writeback_bytes"), 0);
}
