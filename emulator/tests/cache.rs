//! The output side of the cache model, the guard region past the block, and CONFIG_INIT
//! without microcode: where the real driver serves stale data, corrupts or overruns, so does
//! the model.

mod common;

use common::*;
use jpegenc_emu::config::{Fault, FaultKind, Generation};
use jpegenc_emu::driver::{e, j};
use jpegenc_emu::Config;
use std::time::{Duration, Instant};

const NV12: u32 = 3;
const YUV420: u32 = 4;

/// Encodes a frame on E and returns GET_OUTPUT_SIZE's count (`total`: header included).
fn run_e(s: &Session, img: &Rgb) -> usize {
    let data = layout(img, NV12);
    s.write_input(&data);
    s.new_cmd(NV12, YUV420, data.len() as u32, true);
    assert!(s.poll(5000), "no completion");
    let mut size = 0u32;
    s.ioctl(e::GET_OUTPUT_SIZE, &mut size).unwrap();
    size as usize
}

fn invalidate(s: &Session, end: usize) {
    let mut range = [1u32, 0, end as u32];
    s.ioctl(e::FLUSH_DMA, &mut range).unwrap();
}

#[test]
fn the_cpu_reads_stale_output_until_it_invalidates() {
    let s = Session::with(config());
    s.setup(64, 48, 90, 1);
    let size = run_e(&s, &synthetic(64, 48));
    // Never invalidated: the CPU's view still holds what it had (zeros), header included.
    assert!(s.bitstream()[..size].iter().all(|&b| b == 0));
    invalidate(&s, 100);
    assert_eq!(&s.bitstream()[..2], &[0xFF, 0xD8]);
    assert!(
        s.bitstream()[100..size].iter().all(|&b| b == 0),
        "only the range asked"
    );
    invalidate(&s, size);
    assert!(decode(&s.bitstream()[..size]).is_ok());
    // A second, different frame: the old one is what the CPU sees until it invalidates again.
    let first = s.bitstream()[..size].to_vec();
    let size2 = run_e(&s, &photo_crop(64, 48));
    assert_eq!(&s.bitstream()[..size], &first[..]);
    invalidate(&s, size2);
    assert_ne!(&s.bitstream()[..size2.min(size)], &first[..size2.min(size)]);

    // The relaxed model: the output is visible at once.
    let s = Session::with(Config {
        strict_output_cache: false,
        ..config()
    });
    s.setup(64, 48, 90, 1);
    let size = run_e(&s, &synthetic(64, 48));
    assert!(decode(&s.bitstream()[..size]).is_ok());
}

fn photo_crop(width: usize, height: usize) -> Rgb {
    let p = photo("chelsea.png");
    let pixels = (0..height)
        .flat_map(|y| p.pixels[y * p.width * 3..(y * p.width + width) * 3].to_vec())
        .collect();
    Rgb {
        width,
        height,
        pixels,
    }
}

#[test]
fn cpu_writes_into_the_bitstream_buffer_are_written_back_over_later_output() {
    // Frame A is long, then the CPU puts an EOI in the middle of where B's scan goes and
    // never cleans it: B's output carries the EOI after the job, and the model counts it.
    let s = Session::with(config());
    s.setup(64, 48, 90, 1);
    let photo = photo_crop(64, 48);
    let size = run_e(&s, &photo);
    invalidate(&s, size);
    let at = size / 2;
    // SAFETY: inside our mapping of the bitstream buffer.
    unsafe {
        std::ptr::copy_nonoverlapping([0xFF, 0xD9].as_ptr(), s.map.add(s.info[3] as usize + at), 2)
    };
    let size = run_e(&s, &photo);
    invalidate(&s, size);
    assert_eq!(
        &s.bitstream()[at..at + 2],
        &[0xFF, 0xD9],
        "written back over the scan"
    );
    assert!(
        decode(&s.bitstream()[..size])
            .map(|d| psnr(&d, &photo))
            .unwrap_or(0.0)
            < 30.0
    );
    let stats = s.driver.stats();
    assert_eq!((stats.hazards, stats.writeback_bytes), (1, 64));

    // Cleaned with FLUSH_CACHE over the bitstream buffer: no writeback, no hazard.
    let s = Session::with(config());
    s.setup(64, 48, 90, 1);
    let size = run_e(&s, &photo);
    invalidate(&s, size);
    // SAFETY: as above.
    unsafe {
        std::ptr::copy_nonoverlapping(
            [0xFF, 0xD9].as_ptr(),
            s.map.add(s.info[3] as usize + size),
            2,
        )
    };
    let mut clean = [1u32, size as u32, size as u32 + 2];
    s.ioctl(e::FLUSH_CACHE, &mut clean).unwrap();
    let size = run_e(&s, &photo);
    invalidate(&s, size);
    assert!(
        decode(&s.bitstream()[..size])
            .map(|d| psnr(&d, &photo))
            .unwrap()
            > 30.0
    );
    assert_eq!(s.driver.stats().hazards, 0);
}

#[test]
fn the_8m_window_runs_into_the_guard_region_past_the_block() {
    // 8M level: the driver reports (and programs) a 64 MiB bitstream window that starts 4 MiB
    // before the end of the block. A noisy 1600x1600 frame at quality 100 writes past it.
    let s = Session::with(Config {
        reserve: 0x2300000,
        ..config()
    });
    assert_eq!(s.info[4], 0x4000000);
    s.setup(1600, 1600, 100, 1);
    let noise = amljpeg_testkit::noise(1600, 1600);
    let size = run_e(&s, &noise);
    assert!(size > 0x400000, "{size}");
    let stats = s.driver.stats();
    assert_eq!(stats.hazards, 1, "the write past the block is counted");
    // A small frame stays inside: no hazard.
    let (mut w, mut h) = (64u32, 48u32);
    s.ioctl(e::SET_ENCODER_WIDTH, &mut w).unwrap();
    s.ioctl(e::SET_ENCODER_HEIGHT, &mut h).unwrap();
    run_e(&s, &synthetic(64, 48));
    assert_eq!(s.driver.stats().hazards, 1);
}

/// J: one NV12 frame; returns GET_OUTPUT_SIZE's two words.
fn run_j(d: &jpegenc_emu::Driver, mem: *mut u8, img: &Rgb) -> [u32; 2] {
    let data = layout(img, NV12);
    // SAFETY: inside the mapped input area (offset 0).
    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), mem, data.len()) };
    let mut cmd = [0u32; 30];
    cmd[..10].copy_from_slice(&[
        0,
        NV12,
        YUV420,
        img.width as u32,
        img.height as u32,
        data.len() as u32,
        0,
        90,
        1,
        1,
    ]);
    assert_eq!(
        // SAFETY: a 30-word command.
        unsafe { d.ioctl(j::NEW_CMD as u64, cmd.as_mut_ptr().cast()) },
        Ok(0)
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !d.poll_consume() {
        assert!(Instant::now() < deadline, "no completion");
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut sizes = [0u32; 2];
    // SAFETY: two words.
    unsafe { d.ioctl(j::GET_OUTPUT_SIZE as u64, sizes.as_mut_ptr().cast()) }.unwrap();
    sizes
}

#[test]
fn j_invalidates_the_scan_and_its_header_may_be_stale() {
    for coherent in [false, true] {
        let d = jpegenc_emu::Driver::new(Config {
            generation: Generation::J,
            j_header_coherent: coherent,
            ..config()
        });
        let fd = d.open().unwrap();
        let mut info = [0u32; 7];
        // SAFETY: seven words.
        unsafe { d.ioctl(j::GET_BUFFINFO as u64, info.as_mut_ptr().cast()) }.unwrap();
        let mem = map_device(&fd, info[0] as usize);
        // SAFETY: no argument.
        unsafe { d.ioctl(j::CONFIG_INIT as u64, std::ptr::null_mut()) }.unwrap();
        let img = synthetic(64, 48);
        let [head, size] = run_j(&d, mem, &img);
        // SAFETY: inside the mapping.
        let (header, scan) = unsafe {
            (
                std::slice::from_raw_parts(mem.add(info[3] as usize), head as usize).to_vec(),
                std::slice::from_raw_parts(mem.add(info[5] as usize), size as usize).to_vec(),
            )
        };
        assert!(
            scan.ends_with(&[0xFF, 0xD9]),
            "GET_OUTPUT_SIZE invalidated the scan"
        );
        assert_eq!(
            header[..2] == [0xFF, 0xD8],
            coherent,
            "coherent: {coherent}"
        );
        let jpeg = [header, scan].concat();
        assert_eq!(decode(&jpeg).is_ok(), coherent);
    }
}

#[test]
fn config_init_without_microcode_returns_0_and_nothing_completes() {
    let s = Session::with(Config {
        faults: vec![Fault {
            kind: FaultKind::NoMicrocode,
            nth: Some(1),
            percent: None,
        }],
        init_delay: Duration::from_millis(10),
        ..config()
    });
    let t = Instant::now();
    s.setup(32, 32, 90, 1);
    assert!(
        t.elapsed() >= Duration::from_secs(1),
        "the microcode DMA's wait"
    );
    let data = layout(&synthetic(32, 32), NV12);
    s.write_input(&data);
    s.new_cmd(NV12, YUV420, data.len() as u32, true);
    assert!(!s.poll(300), "no microcode, no completion");
    // The next open's CONFIG_INIT (the 2nd) loads it.
    let driver = s.driver.clone();
    drop(s);
    let s = Session::open(driver);
    let t = Instant::now();
    s.setup(32, 32, 90, 1);
    assert!(t.elapsed() < Duration::from_secs(1));
    run_e(&s, &synthetic(32, 32));
}
