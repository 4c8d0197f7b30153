//! The media_modules ("MM") model, in-process: everything of J plus the inited checks, the
//! bounded mmap, the area size check, dma-buf input (a memfd stands in for a dma-buf), NEW_CMD2,
//! and the strides only C1+-class SoCs honour.

mod common;

use amljpeg_testkit::memfd;
use common::*;
use jpegenc_emu::config::Generation;
use jpegenc_emu::driver::j;
use jpegenc_emu::{Config, Driver};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

fn mm(soc: &str) -> Config {
    Config {
        generation: Generation::J,
        mm: true,
        soc: soc.into(),
        devinfo: jpegenc_emu::config::devinfo_of(soc).into(),
        j_header_coherent: true,
        ..config()
    }
}

fn ioctl<T>(d: &Driver, request: u32, arg: &mut T) -> Result<i32, i32> {
    // SAFETY: `arg` is a live value of the size the request moves.
    unsafe { d.ioctl(request as u64, (arg as *mut T).cast()) }
}

struct Open {
    d: Driver,
    _fd: OwnedFd,
    info: [u32; 7],
}

fn open(config: Config) -> Open {
    let d = Driver::new(config);
    let fd = d.open().unwrap();
    let mut info = [0u32; 7];
    ioctl(&d, j::GET_BUFFINFO, &mut info).unwrap();
    Open { d, _fd: fd, info }
}

/// NEW_CMD2's request: type, formats, size, quality 90 (Annex K), flush as given, strides.
fn request(
    mem_type: u32,
    in_fmt: u32,
    w: u32,
    h: u32,
    framesize: u32,
    strides: [u32; 4],
) -> [u32; 18] {
    let [y, u, v, hs] = strides;
    [
        0,
        w,
        h,
        framesize,
        90,
        1,
        (mem_type == 0) as u32,
        0,
        mem_type,
        in_fmt,
        4,
        0,
        0,
        0,
        y,
        u,
        v,
        hs,
    ]
}

/// Waits for the job and returns header (assist buffer) + scan.
fn finish(o: &Open, memory: &[u8]) -> Vec<u8> {
    let mut p = libc::pollfd {
        fd: o.d.ready_fd().unwrap(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one pollfd.
    assert_eq!(unsafe { libc::poll(&mut p, 1, 10_000) }, 1, "no completion");
    assert!(o.d.poll_consume());
    let mut sizes = [0u32; 2];
    ioctl(&o.d, j::GET_OUTPUT_SIZE, &mut sizes).unwrap();
    let (assist, scan) = (o.info[3] as usize, o.info[5] as usize);
    let mut jpeg = memory[assist..assist + sizes[0] as usize].to_vec();
    jpeg.extend_from_slice(&memory[scan..scan + sizes[1] as usize]);
    jpeg
}

fn mapped(o: &Open) -> &'static [u8] {
    let map = map_device(&o._fd, o.info[0] as usize);
    // SAFETY: the mapping lives as long as the test process (never unmapped).
    unsafe { std::slice::from_raw_parts(map, o.info[0] as usize) }
}

#[test]
fn init_checks_and_the_dma_query() {
    let o = open(mm("sm1"));
    let mut req = request(0, 3, 64, 64, 0, [0; 4]);
    assert_eq!(
        ioctl(&o.d, j::NEW_CMD2, &mut req),
        Err(libc::EPERM),
        "before CONFIG_INIT"
    );
    assert_eq!(ioctl(&o.d, j::NEW_CMD, &mut [0u32; 30]), Err(libc::EPERM));
    let mut dma = 9u32;
    assert_eq!(ioctl(&o.d, j::QUERY_DMA_SUPPORT, &mut dma), Ok(0));
    assert_eq!(dma, 1);
    assert_eq!(ioctl(&o.d, j::CONFIG_INIT, &mut 0u32), Ok(0));
    assert_eq!(
        ioctl(&o.d, j::CONFIG_INIT, &mut 0u32),
        Err(libc::EPERM),
        "a second CONFIG_INIT"
    );
    assert_eq!(o.d.stats().hazards, 0, "refusals, not hazards");
    let mut id = [0u8; 16];
    ioctl(&o.d, j::GET_DEVINFO, &mut id).unwrap();
    assert_eq!(&id[..11], b"AML-GXTVBB\0");

    let off = open(Config {
        dma_io: false,
        ..mm("sm1")
    });
    ioctl(&off.d, j::QUERY_DMA_SUPPORT, &mut dma).unwrap();
    assert_eq!(dma, 0, "use_dma_io=0");

    // The 3.14 driver has none of it: unknown numbers are EPERM, a second init is a hazard.
    let k = open(Config {
        mm: false,
        ..mm("gxbb")
    });
    assert_eq!(
        ioctl(&k.d, j::QUERY_DMA_SUPPORT, &mut dma),
        Err(libc::EPERM)
    );
    assert_eq!(ioctl(&k.d, j::NEW_CMD2, &mut req), Err(libc::EPERM));
    assert_eq!(
        ioctl(&k.d, j::CONFIG_DMA_INPUT, &mut 0i32),
        Err(libc::EPERM)
    );
}

#[test]
fn mmap_is_bounded_and_the_size_check_is_by_area() {
    let o = open(mm("sm1"));
    assert_eq!(o.d.note_map(0, o.info[0] as usize), Ok(()));
    assert_eq!(o.d.note_map(4096, o.info[0] as usize), Err(libc::EAGAIN));
    let k = open(Config {
        mm: false,
        ..mm("gxbb")
    });
    assert_eq!(k.d.note_map(4096, k.info[0] as usize), Err(libc::EINVAL));
    assert_eq!(
        k.d.stats().hazards,
        1,
        "the 3.14 driver maps foreign memory"
    );

    ioctl(&o.d, j::CONFIG_INIT, &mut 0u32).unwrap();
    let memory = mapped(&o);
    // 2800x1200: wider than 2624 but a smaller area: MM takes it, K drops it.
    let img = synthetic(2800, 1200);
    let data = layout(&img, 3);
    let input = map_device(&o._fd, o.info[0] as usize);
    assert!(data.len() <= o.info[2] as usize);
    // SAFETY: inside the mapped input area (checked against its size).
    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), input, data.len()) };
    let mut req = request(0, 3, 2800, 1200, data.len() as u32, [0; 4]);
    assert_eq!(ioctl(&o.d, j::NEW_CMD2, &mut req), Ok(0));
    let jpeg = finish(&o, memory);
    assert!(psnr(&decode(&jpeg).unwrap(), &img) > 30.0);
    let mut too_big = request(0, 3, 4000, 2000, 0, [0; 4]);
    assert_eq!(
        ioctl(&o.d, j::NEW_CMD2, &mut too_big),
        Err(libc::EPERM),
        "NEW_CMD2 refuses"
    );
    assert_eq!(o.d.stats().cmd2_jobs, 1);
    assert_eq!(o.d.stats().hazards, 0);
}

/// A DMA_BUFF job reads the imported buffer (in the client's process, and in the encoder
/// process, which gets the descriptor over its socket).
#[test]
fn a_dma_buf_frame_is_read_by_the_device() {
    let helper = PathBuf::from(env!("CARGO_BIN_EXE_jpegenc-emu-hw"));
    for process in [None, Some(helper)] {
        let o = open(Config {
            encoder_process: process.clone(),
            ..mm("sm1")
        });
        ioctl(&o.d, j::CONFIG_INIT, &mut 0u32).unwrap();
        let memory = mapped(&o);
        let img = synthetic(1280, 720);
        let frame = layout(&img, 3);
        let buffer = memfd(&frame, 0);
        let mut fd = buffer.as_raw_fd();
        assert_eq!(ioctl(&o.d, j::CONFIG_DMA_INPUT, &mut fd), Ok(0));
        drop(buffer); // the driver keeps its own reference
        let mut req = request(3, 3, 1280, 720, frame.len() as u32, [0; 4]);
        assert_eq!(ioctl(&o.d, j::NEW_CMD2, &mut req), Ok(0));
        let jpeg = finish(&o, memory);
        let p = psnr(&decode(&jpeg).unwrap(), &img);
        assert!(p > 30.0, "{process:?}: {p:.1} dB");
        let stats = o.d.stats();
        assert_eq!((stats.dma_jobs, stats.cmd2_jobs, stats.hazards), (1, 1, 0));

        // Not a buffer: refused. After RELEASE_DMA_INPUT a DMA_BUFF job reads nothing.
        let (mut bad, mut pipe) = (9999, [0i32; 2]);
        assert_eq!(ioctl(&o.d, j::CONFIG_DMA_INPUT, &mut bad), Err(libc::EPERM));
        // SAFETY: a two-int array for pipe().
        assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
        assert_eq!(
            ioctl(&o.d, j::CONFIG_DMA_INPUT, &mut pipe[0]),
            Err(libc::EPERM)
        );
        // SAFETY: a NULL argument, which the driver's copy_from_user refuses.
        let null = unsafe { o.d.ioctl(j::CONFIG_DMA_INPUT as u64, std::ptr::null_mut()) };
        assert_eq!(null, Err(libc::EFAULT));
        ioctl(&o.d, j::RELEASE_DMA_INPUT, &mut 0u32).unwrap();
        ioctl(&o.d, j::NEW_CMD2, &mut req).unwrap();
        assert_eq!(
            o.d.stats().hazards,
            1,
            "DMA_BUFF without an imported buffer"
        );

        // A buffer shorter than what the device reads: it reads past its end.
        let short = memfd(&frame[..frame.len() / 2], 0);
        let mut fd = short.as_raw_fd();
        ioctl(&o.d, j::CONFIG_DMA_INPUT, &mut fd).unwrap();
        ioctl(&o.d, j::NEW_CMD2, &mut req).unwrap();
        assert_eq!(o.d.stats().hazards, 2);
    }
}

/// NV12 at `pitch` bytes a row with the chroma right after `height` rows (a camera's or a
/// decoder's frame), not the driver's canvas geometry.
fn strided_nv12(img: &Rgb, pitch: usize) -> Vec<u8> {
    let canvas = layout(img, 3);
    let (w, h) = (img.width, img.height);
    let (s, ph) = (w.div_ceil(32) * 32, h.div_ceil(16) * 16);
    let mut out = vec![0u8; pitch * h * 3 / 2];
    for y in 0..h {
        out[y * pitch..y * pitch + w].copy_from_slice(&canvas[y * s..y * s + w]);
    }
    for y in 0..h / 2 {
        let (from, to) = (s * ph + y * s, pitch * h + y * pitch);
        out[to..to + w].copy_from_slice(&canvas[from..from + w]);
    }
    out
}

#[test]
fn strides_count_on_c1_class_socs_only() {
    let img = photo("astronaut.png");
    let big = Rgb {
        width: 1920,
        height: 1080,
        pixels: (0..1920 * 1080)
            .flat_map(|i| {
                let (x, y) = (i % 1920 * img.width / 1920, i / 1920 * img.height / 1080);
                img.pixels[(y * img.width + x) * 3..][..3].to_vec()
            })
            .collect(),
    };
    let pitch = 2048;
    let frame = strided_nv12(&big, pitch);
    let mut results = Vec::new();
    for soc in ["t7", "sm1"] {
        let o = open(mm(soc));
        ioctl(&o.d, j::CONFIG_INIT, &mut 0u32).unwrap();
        let memory = mapped(&o);
        let buffer = memfd(&frame, 0);
        let mut fd = buffer.as_raw_fd();
        ioctl(&o.d, j::CONFIG_DMA_INPUT, &mut fd).unwrap();
        let p = pitch as u32;
        let mut req = request(3, 3, 1920, 1080, frame.len() as u32, [p, p, p, 1080]);
        ioctl(&o.d, j::NEW_CMD2, &mut req).unwrap();
        let decoded = decode(&finish(&o, memory)).unwrap();
        results.push((soc, psnr(&decoded, &big), o.d.stats().strided_jobs));
        assert!(String::from_utf8_lossy(&o.d.compatible()).contains(&format!("amlogic,{soc}\0")));
    }
    let [(_, t7, t7_strided), (_, sm1, sm1_strided)] = results[..] else {
        unreachable!()
    };
    assert!(
        t7 > 30.0,
        "T7 reads the planes where the strides say: {t7:.1} dB"
    );
    assert!(
        sm1 < 15.0,
        "SM1 reads the canvas geometry, so this frame is garbage: {sm1:.1} dB"
    );
    assert_eq!((t7_strided, sm1_strided), (1, 0));
}
