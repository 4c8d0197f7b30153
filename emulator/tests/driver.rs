//! The driver model against the spec's fidelity checklist (§12), in-process.

mod common;

use amljpeg_testkit::stat_in;
use common::*;
use jpegenc_emu::driver::{e, stage};
use jpegenc_emu::{Config, Driver, Fault, FaultKind, OutputSize};
use std::time::{Duration, Instant};

const NV12: u32 = 3;
const YUV420: u32 = 4;
const YUV422_SINGLE: u32 = 0;

#[test]
fn every_input_format_and_both_outputs_decode_and_match_at_odd_sizes() {
    let photo = photo("chelsea.png");
    let small = synthetic(37, 21);
    let s = Session::with(config());
    s.setup(451, 300, 90, 1);
    for img in [&photo, &small] {
        s.setup(img.width as u32, img.height as u32, 90, 1);
        for in_fmt in [0, 1, 2, 3, 4, 5, 6, 7] {
            for out_fmt in [YUV420, YUV422_SINGLE, NV12] {
                let jpeg = s.encode(img, in_fmt, out_fmt);
                let decoded =
                    decode(&jpeg).unwrap_or_else(|e| panic!("in {in_fmt} out {out_fmt}: {e}"));
                let p = psnr(&decoded, img);
                assert!(
                    p > 30.0,
                    "{}x{} in {in_fmt} out {out_fmt}: {p:.2} dB",
                    img.width,
                    img.height
                );
                let sof = &jpeg[556..];
                assert_eq!(sof[11], if out_fmt == YUV422_SINGLE { 0x21 } else { 0x22 });
                assert_eq!(*jpeg.last().unwrap(), 0xD9);
            }
        }
    }
}

#[test]
fn the_stats_a_job_writes_carry_the_cpu_its_hardware_thread_spent_on_it() {
    // A client reads the file when its call returns: the job's model CPU must be in it then,
    // not one job later (which put a first job's start-up cost into a benchmark's window).
    let stats = state_dir().join("stats.json");
    let s = Session::with(Config {
        stats_path: Some(stats.clone()),
        ..config()
    });
    s.setup(64, 48, 90, 1);
    s.encode(&synthetic(64, 48), NV12, YUV420);
    let json = std::fs::read_to_string(&stats).unwrap();
    assert_eq!(stat_in(&stats, "completions"), 1, "{json}");
    assert!(stat_in(&stats, "model_cpu_us") > 0, "{json}");
}

#[test]
fn header_is_the_spec_byte_map_with_libjpeg_tables_for_table_1() {
    let s = Session::with(config());
    for q in [1, 10, 50, 75, 90, 100] {
        s.setup(64, 48, q, 1);
        let jpeg = s.encode(&synthetic(64, 48), NV12, YUV420);
        assert_eq!(
            header_luma_table(&jpeg),
            libjpeg_table(&ANNEX_K_LUMA, q),
            "quality {q}"
        );
        assert_eq!(&jpeg[136..140], &[0xFF, 0xC4, 0x01, 0xA2]);
        assert_eq!(&jpeg[556..565], &[0xFF, 0xC0, 0, 17, 8, 0, 48, 0, 64]);
        assert_eq!(&jpeg[565..575], &[3, 0, 0x22, 0, 1, 0x11, 1, 2, 0x11, 1]);
        assert_eq!(&jpeg[575..578], &[0xFF; 3]);
        assert_eq!(&jpeg[578..580], &[0xFF, 0xDA]);
    }
}

#[test]
fn quant_table_ids_and_the_external_table() {
    let s = Session::with(config());
    s.setup(16, 16, 50, 0);
    let img = synthetic(16, 16);
    // id 0: Canon; 50 = scale 100 leaves the base table as it is.
    let canon = header_luma_table(&s.encode(&img, NV12, YUV420));
    assert_eq!(&canon[..8], &[6, 6, 8, 10, 10, 16, 21, 25]);
    let mut id = 2;
    s.ioctl(e::SEL_QUANT_TABLE, &mut id).unwrap();
    let k2 = header_luma_table(&s.encode(&img, NV12, YUV420));
    assert_eq!((k2[0], k2[63]), (16, 16));
    let mut id = 9; // >= 4 → 0
    s.ioctl(e::SEL_QUANT_TABLE, &mut id).unwrap();
    assert_eq!(header_luma_table(&s.encode(&img, NV12, YUV420)), canon);
    let before = s.driver.stats().hazards;
    for bad in [3, -1] {
        let mut id = bad;
        s.ioctl(e::SEL_QUANT_TABLE, &mut id).unwrap();
    }
    assert_eq!(s.driver.stats().hazards, before + 2);
    // External table: still scaled by quality; NULL clears it.
    let mut ext = [0u16; 128];
    for (i, v) in ext.iter_mut().enumerate() {
        *v = 2 + i as u16;
    }
    s.ioctl(e::SET_EXT_QUANT_TABLE, &mut ext).unwrap();
    let mut q = 100;
    s.ioctl(e::SET_QUALTIY, &mut q).unwrap();
    assert_eq!(header_luma_table(&s.encode(&img, NV12, YUV420)), [1; 64]);
    let mut q = 50;
    s.ioctl(e::SET_QUALTIY, &mut q).unwrap();
    assert_eq!(header_luma_table(&s.encode(&img, NV12, YUV420))[5], 7);
    assert_eq!(
        s.ioctl_raw(e::SET_EXT_QUANT_TABLE, 16 as *mut libc::c_void),
        Err(libc::EPERM)
    );
    s.ioctl_raw(e::SET_EXT_QUANT_TABLE, std::ptr::null_mut())
        .unwrap();
    let mut id = 0;
    s.ioctl(e::SEL_QUANT_TABLE, &mut id).unwrap();
    assert_eq!(header_luma_table(&s.encode(&img, NV12, YUV420)), canon);
}

#[test]
fn return_conventions_devinfo_and_addr() {
    let s = Session::with(config());
    let mut dev = [0xAAu8; 8];
    assert_eq!(s.ioctl(e::GET_DEVINFO, &mut dev), Ok(0));
    assert_eq!(&dev, b"AML-M8\xAA\xAA");
    let mut one = 0u32;
    s.ioctl(e::GET_ADDR, &mut one).unwrap();
    assert_eq!(one, 1);
    for request in [
        e::INPUT_UPDATE,
        e::GET_STATUS,
        0x4004_45ff,
        0x4004_4af0,
        0x4004_4a00,
    ] {
        assert_eq!(
            s.ioctl(request, &mut [0u32; 32]),
            Err(libc::EPERM),
            "{request:#x}"
        );
    }
    assert_eq!(s.ioctl(e::INPUT_FORMAT, &mut 7u32), Ok(0));
}

#[test]
fn buffer_levels_and_the_bitstream_size_bug() {
    let cases = [
        (0x1800000, [0x1800000, 0, 0x13B3000, 0x1400000, 0x400000]),
        (0x330000, [0x330000, 0, 0x12C000, 0x130000, 0x200000]),
        (0x2300000, [0x2300000, 0, 0x1E7B000, 0x1F00000, 0x4000000]),
    ];
    for (reserve, want) in cases {
        let s = Session::with(Config {
            reserve,
            ..config()
        });
        assert_eq!(s.info, want);
    }
    let d = Driver::new(Config {
        reserve: 0x32FFFF,
        ..config()
    });
    assert_eq!(d.open().err(), Some(libc::ENOENT));
}

#[test]
fn width_and_height_clamp_and_write_back() {
    let s = Session::with(config());
    s.setup(320, 240, 90, 1);
    let mut w = 5000u32;
    s.ioctl(e::SET_ENCODER_WIDTH, &mut w).unwrap();
    assert_eq!(w, 2624);
    let mut h = 2625u32;
    s.ioctl(e::SET_ENCODER_HEIGHT, &mut h).unwrap();
    assert_eq!(h, 2624);
    // The stored size is unchanged: the header still says 320x240.
    let jpeg = s.encode(&synthetic(320, 240), NV12, YUV420);
    assert_eq!(&jpeg[561..565], &[0, 240, 1, 64]);
}

#[test]
fn one_open_at_a_time_and_state_that_survives_it() {
    let cfg = config();
    let d = Driver::new(cfg.clone());
    let mut s = Session::open(d.clone());
    assert_eq!(d.open().err(), Some(libc::EBUSY));
    // Another driver on the same device (as another process would be): busy too.
    let other = Driver::new(cfg.clone());
    assert_eq!(other.open().err(), Some(libc::EBUSY));
    s.setup(100, 60, 10, 1);
    s.encode(&synthetic(100, 60), NV12, YUV420);
    s.close();
    // The next open, even from "another process", sees the stale stage and the old settings.
    let s2 = Session::open(other);
    assert_eq!(s2.stage(), stage::DONE);
    s2.ioctl(e::CONFIG_INIT, &mut 0u32).unwrap();
    let mut id = 1;
    s2.ioctl(e::SEL_QUANT_TABLE, &mut id).unwrap();
    let jpeg = s2.encode(&synthetic(100, 60), NV12, YUV420);
    assert_eq!(&jpeg[561..565], &[0, 60, 0, 100]);
    assert_eq!(header_luma_table(&jpeg), libjpeg_table(&ANNEX_K_LUMA, 10));
    assert_eq!(s2.driver.stats().opens, 1);
}

#[test]
fn poll_gives_exactly_one_event_per_completion() {
    let s = Session::with(config());
    s.setup(64, 64, 90, 1);
    assert!(!s.poll(0), "nothing before a job");
    s.encode(&synthetic(64, 64), NV12, YUV420);
    assert!(!s.poll(0), "encode consumed the only event");
    // A NEW_CMD before DONE aborts the first job: one completion, one event.
    let d = Driver::new(Config {
        mpixps: 1.0,
        ..config()
    });
    let s = Session::open(d);
    s.setup(64, 64, 90, 1);
    s.new_cmd(NV12, YUV420, 6144, true);
    s.new_cmd(NV12, YUV420, 6144, true);
    assert!(s.poll(2000));
    assert!(!s.poll(50));
    assert_eq!(s.driver.stats().completions, 1);
}

#[test]
fn rejected_format_returns_zero_and_runs_with_the_stale_setup() {
    let s = Session::with(config());
    let img = synthetic(64, 32);
    s.setup(64, 32, 90, 1);
    s.encode(&img, NV12, YUV420);
    // RGB565: the ioctl says 0 and the hardware runs the previous (NV12) setup again.
    s.new_cmd(8, YUV422_SINGLE, 0, false);
    assert!(s.poll(2000));
    let jpeg = s.output_total();
    assert_eq!(jpeg[567], 0x22, "previous output format");
    assert!(psnr(&decode(&jpeg).unwrap(), &img) > 30.0);
    assert!(s.driver.stats().hazards >= 1);
}

#[test]
fn broken_paths_come_out_broken() {
    let s = Session::with(config());
    let img = synthetic(64, 48);
    s.setup(64, 48, 90, 1);
    // RGBA8888's linear path reads 3 bytes per pixel of a 4-byte format.
    let jpeg = s.encode(&img, 9, YUV420);
    assert!(decode(&jpeg).map(|d| psnr(&d, &img)).unwrap_or(0.0) < 20.0);
    // 4:4:4 output: the header says 1x1, the MFDIN codes 4:2:0.
    let jpeg = s.encode(&img, 6, 1);
    assert!(decode(&jpeg).map(|d| psnr(&d, &img)).unwrap_or(0.0) < 20.0);
}

#[test]
fn output_size_switch_and_eoi_switch() {
    for (output_size, eoi) in [
        (OutputSize::Total, true),
        (OutputSize::Payload, true),
        (OutputSize::Total, false),
    ] {
        let s = Session::with(Config {
            output_size,
            eoi,
            ..config()
        });
        s.setup(32, 32, 90, 1);
        let data = layout(&synthetic(32, 32), NV12);
        s.write_input(&data);
        s.new_cmd(NV12, YUV420, data.len() as u32, true);
        assert!(s.poll(2000));
        let mut size = 0u32;
        s.ioctl(e::GET_OUTPUT_SIZE, &mut size).unwrap();
        let total = if output_size == OutputSize::Total {
            size as usize
        } else {
            size as usize + 592
        };
        // The CPU's view is stale until invalidated (past the end too: nothing is there).
        let mut flush = [1u32, 0, total as u32 + 64];
        s.ioctl(e::FLUSH_DMA, &mut flush).unwrap();
        let bs = s.bitstream();
        assert_eq!(bs[total], 0, "nothing written past the end");
        assert_eq!(bs[total - 2..total] == [0xFF, 0xD9], eoi);
        let mut jpeg = bs[..total].to_vec();
        if !eoi {
            jpeg.extend([0xFF, 0xD9]);
        }
        assert!(decode(&jpeg).is_ok());
    }
}

#[test]
fn strict_cache_shows_the_last_cleaned_frame() {
    let s = Session::with(config());
    s.setup(64, 32, 90, 1);
    let (a, b) = (
        synthetic(64, 32),
        Rgb {
            width: 64,
            height: 32,
            pixels: vec![30; 64 * 32 * 3],
        },
    );
    s.encode(&a, NV12, YUV420);
    let data = layout(&b, NV12);
    s.write_input(&data);
    s.new_cmd(NV12, YUV420, data.len() as u32, false);
    assert!(s.poll(2000));
    let stale = decode(&s.output_total()).unwrap();
    assert!(psnr(&stale, &a) > 30.0, "the hardware saw frame A");
    assert_eq!(s.driver.stats().stale_input_jobs, 1);
    // FLUSH_CACHE over the input makes B visible.
    let mut flush = [0u32, 0, data.len() as u32];
    s.ioctl(e::FLUSH_CACHE, &mut flush).unwrap();
    s.new_cmd(NV12, YUV420, 0, false);
    assert!(s.poll(2000));
    assert!(psnr(&decode(&s.output_total()).unwrap(), &b) > 30.0);
    // Without the strict model the live memory is what the hardware reads.
    let s = Session::with(Config {
        strict_cache: false,
        ..config()
    });
    s.setup(64, 32, 90, 1);
    s.write_input(&data);
    s.new_cmd(NV12, YUV420, 0, false);
    assert!(s.poll(2000));
    assert!(psnr(&decode(&s.output_total()).unwrap(), &b) > 30.0);
}

fn with_fault(kind: FaultKind, nth: Option<u64>) -> Config {
    Config {
        faults: vec![Fault {
            kind,
            nth,
            percent: None,
        }],
        ..config()
    }
}

#[test]
fn faults() {
    let img = synthetic(48, 32);
    let data = layout(&img, NV12);
    let start = |s: &Session| {
        s.setup(48, 32, 90, 1);
        s.write_input(&data);
        s.new_cmd(NV12, YUV420, data.len() as u32, true);
    };
    // hang on the 2nd job only.
    let s = Session::with(with_fault(FaultKind::Hang, Some(2)));
    s.setup(48, 32, 90, 1);
    s.encode(&img, NV12, YUV420);
    s.new_cmd(NV12, YUV420, data.len() as u32, true);
    assert!(!s.poll(200));
    assert_eq!(s.stage(), stage::IDLE);
    s.encode(&img, NV12, YUV420);
    // lost-irq: done, but poll never fires.
    let s = Session::with(with_fault(FaultKind::LostIrq, None));
    start(&s);
    assert!(!s.poll(200));
    assert_eq!(s.stage(), stage::DONE);
    // overflow: a size beyond the bitstream buffer.
    let s = Session::with(with_fault(FaultKind::Overflow, None));
    start(&s);
    assert!(s.poll(2000));
    let mut size = 0u32;
    s.ioctl(e::GET_OUTPUT_SIZE, &mut size).unwrap();
    assert!(size as usize > s.bitstream().len());
    // no-eoi and corrupt.
    let s = Session::with(with_fault(FaultKind::NoEoi, None));
    start(&s);
    assert!(s.poll(2000));
    assert!(!s.output_total().ends_with(&[0xFF, 0xD9]));
    let s = Session::with(with_fault(FaultKind::Corrupt, None));
    start(&s);
    assert!(s.poll(2000));
    assert!(
        decode(&s.output_total())
            .map(|d| psnr(&d, &img))
            .unwrap_or(0.0)
            < 20.0
    );
    // eperm on a named ioctl, busy on the first open.
    let s = Session::with(with_fault(FaultKind::Eperm("GET_STAGE".into()), None));
    assert_eq!(s.ioctl(e::GET_STAGE, &mut 0u32), Err(libc::EPERM));
    let d = Driver::new(with_fault(FaultKind::Busy, Some(1)));
    assert_eq!(d.open().err(), Some(libc::EBUSY));
    assert!(d.open().is_ok());
    // slow: the modelled time times the factor.
    let s = Session::with(Config {
        mpixps: 10.0,
        ..with_fault(FaultKind::Slow(4.0), None)
    });
    let t = Instant::now();
    start(&s);
    assert!(s.poll(5000));
    assert!(
        t.elapsed() >= Duration::from_micros(4 * 48 * 32 / 10),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn completion_takes_the_modelled_time_and_stages_can_be_visible() {
    let s = Session::with(Config {
        mpixps: 150.0,
        stages_visible: true,
        ..config()
    });
    s.setup(1280, 720, 90, 1);
    let data = layout(&synthetic(1280, 720), NV12);
    s.write_input(&data);
    let t = Instant::now();
    s.new_cmd(NV12, YUV420, data.len() as u32, true);
    let seen = s.driver.wait_stage(Duration::from_secs(5), |v| {
        v == stage::START || v == stage::MCU || v == stage::DONE
    });
    assert!(seen == stage::START || seen == stage::MCU, "saw {seen}");
    assert!(s.poll(5000));
    // 1280x720 at 150 Mpixel/s is 6.1 ms: completion cannot come earlier.
    assert!(
        t.elapsed() >= Duration::from_micros(6144),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn hazards_are_refused_or_counted() {
    let s = Session::with(config());
    let mut cmd = [0u32, NV12, YUV420, 0, 0, 0, 0];
    assert_eq!(
        s.ioctl(e::NEW_CMD, &mut cmd),
        Err(libc::EFAULT),
        "NEW_CMD before CONFIG_INIT"
    );
    assert_eq!(
        s.ioctl_raw(e::GET_STAGE, std::ptr::null_mut()),
        Err(libc::EFAULT)
    );
    assert_eq!(s.driver.note_map(0, 0x1800001), Err(libc::EINVAL));
    s.ioctl(e::CONFIG_INIT, &mut 0u32).unwrap();
    s.ioctl(e::CONFIG_INIT, &mut 0u32).unwrap();
    s.ioctl(e::FLUSH_CACHE, &mut [0u32, 100, 10]).unwrap();
    assert_eq!(s.driver.stats().hazards, 5);
}

/// The libjpeg-turbo scan (the default) pictures what the reference encoder does: within
/// 0.1 dB of it against the source, at odd and even sizes, every MFDIN output sampling.
#[test]
fn the_fast_scan_matches_the_reference_encoder_within_a_tenth_of_a_db() {
    let reference = Session::with(Config {
        reference_scan: true,
        ..config()
    });
    let fast = Session::with(config());
    for img in [
        photo("chelsea.png"),
        photo("astronaut.png"),
        synthetic(451, 300),
    ] {
        for quality in [30, 95] {
            for s in [&reference, &fast] {
                s.setup(img.width as u32, img.height as u32, quality, 1);
            }
            for (in_fmt, out_fmt) in [(NV12, YUV420), (6, YUV420), (6, YUV422_SINGLE), (0, NV12)] {
                let [r, f] = [&reference, &fast].map(|s| {
                    let jpeg = s.encode(&img, in_fmt, out_fmt);
                    psnr(&decode(&jpeg).expect("decodes"), &img)
                });
                assert!(
                    (r - f).abs() <= 0.1,
                    "{}x{} q{quality} in {in_fmt} out {out_fmt}: reference {r:.3} dB, fast {f:.3} dB",
                    img.width,
                    img.height
                );
            }
        }
    }
}
