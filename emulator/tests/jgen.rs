//! The J-generation model (GXBB / Odroid C2), in-process, against its fidelity checklist.

mod common;

use common::*;
use jpegenc_emu::config::Generation;
use jpegenc_emu::driver::{e, j};
use jpegenc_emu::{Config, Driver};

/// The 3.14 driver (K): the header is written through a cacheable alias, so the CPU sees it
/// (cache.rs covers the stale alternative).
fn jconfig() -> Config {
    Config {
        generation: Generation::J,
        j_header_coherent: true,
        ..config()
    }
}

fn open_j(config: Config) -> (Driver, std::os::fd::OwnedFd, [u32; 7], *mut u8) {
    let d = Driver::new(config);
    let fd = d.open().unwrap();
    let mut info = [0u32; 7];
    assert_eq!(
        // SAFETY: a 7-word array.
        unsafe { d.ioctl(j::GET_BUFFINFO as u64, info.as_mut_ptr().cast()) },
        Ok(0)
    );
    let mem = map_device(&fd, info[0] as usize);
    (d, fd, info, mem)
}

fn ioctl<T>(d: &Driver, request: u32, arg: &mut T) -> Result<i32, i32> {
    // SAFETY: `arg` is a live value of the size the test intends.
    unsafe { d.ioctl(request as u64, (arg as *mut T).cast()) }
}

/// Encodes `img` as NV12 with a 30-word command; returns header + bitstream.
fn encode(d: &Driver, info: &[u32; 7], mem: *mut u8, img: &Rgb, quality: u32) -> Vec<u8> {
    let data = layout(img, 3);
    // SAFETY: inside the mapped input area.
    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), mem.add(info[1] as usize), data.len()) };
    let mut cmd = [0u32; 30];
    cmd[..10].copy_from_slice(&[
        0,
        3,
        4,
        img.width as u32,
        img.height as u32,
        data.len() as u32,
        0,
        quality,
        1,
        1,
    ]);
    assert_eq!(ioctl(d, j::NEW_CMD, &mut cmd), Ok(0));
    let fd = d.ready_fd().unwrap();
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one pollfd.
    assert_eq!(unsafe { libc::poll(&mut p, 1, 5000) }, 1);
    assert!(d.poll_consume());
    let mut sizes = [0u32; 2];
    ioctl(d, j::GET_OUTPUT_SIZE, &mut sizes).unwrap();
    assert_eq!(sizes[0], 592);
    // SAFETY: header and bitstream lie inside the mapping.
    unsafe {
        let mut out = std::slice::from_raw_parts(mem.add(info[3] as usize), 592).to_vec();
        out.extend_from_slice(std::slice::from_raw_parts(
            mem.add(info[5] as usize),
            sizes[1] as usize,
        ));
        out
    }
}

#[test]
fn buffer_info_has_seven_words_and_the_j_levels() {
    let (_d, _fd, info, _) = open_j(jconfig());
    assert_eq!(
        info,
        [0x1800000, 0, 0x13B3000, 0x13B4000, 0x2000, 0x1400000, 0x400000]
    );
    let (_d, _fd, info, _) = open_j(Config {
        reserve: 0x2300000,
        ..jconfig()
    });
    assert_eq!(
        &info[5..],
        &[0x1F00000, 0x400000],
        "8M: the E size bug is fixed"
    );
}

#[test]
fn devinfo_and_the_other_generations_numbers() {
    let (d, _fd, _, _) = open_j(jconfig());
    let mut id = [0u8; 16];
    ioctl(&d, j::GET_DEVINFO, &mut id).unwrap();
    assert_eq!(&id[..9], b"AML-GXBB\0");
    for request in [e::GET_DEVINFO, e::GET_BUFFINFO, e::NEW_CMD, 0x4004_4a09] {
        assert_eq!(
            ioctl(&d, request, &mut [0u32; 32]),
            Err(libc::EPERM),
            "{request:#x}"
        );
    }
    assert_eq!(
        ioctl(&d, j::SET_EXT_QUANT_TABLE, &mut [7u16; 128]),
        Ok(0),
        "a no-op"
    );
    let (d, _fd, _, _) = open_j(Config {
        devinfo: "AML-GXTVBB".into(),
        ..jconfig()
    });
    let mut id = [0u8; 16];
    ioctl(&d, j::GET_DEVINFO, &mut id).unwrap();
    assert_eq!(&id[..11], b"AML-GXTVBB\0");
}

#[test]
fn the_header_is_in_the_assist_buffer_and_the_stage_is_sticky() {
    let cfg = jconfig();
    let (d, fd, info, mem) = open_j(cfg.clone());
    let mut stage = 9u32;
    ioctl(&d, j::GET_STAGE, &mut stage).unwrap();
    assert_eq!(stage, 0, "no completion since boot");
    ioctl(&d, j::CONFIG_INIT, &mut 0u32).unwrap();
    let img = synthetic(96, 64);
    let jpeg = encode(&d, &info, mem, &img, 90);
    assert!(psnr(&decode(&jpeg).unwrap(), &img) > 30.0);
    assert_eq!(
        header_luma_table(&jpeg),
        libjpeg_table(&ANNEX_K_LUMA, 90),
        "table id 1 + quality = libjpeg"
    );
    // Sticky: 4 even right after the next NEW_CMD, and in the next open.
    let mut cmd = [0u32; 30];
    cmd[..10].copy_from_slice(&[0, 3, 4, 96, 64, 0, 0, 90, 1, 0]);
    ioctl(&d, j::NEW_CMD, &mut cmd).unwrap();
    ioctl(&d, j::GET_STAGE, &mut stage).unwrap();
    assert_eq!(stage, 4);
    // SAFETY: unmapping our mapping.
    unsafe { libc::munmap(mem.cast(), info[0] as usize) };
    drop(fd);
    d.release();
    let (d2, _fd2, _, _) = open_j(cfg);
    ioctl(&d2, j::GET_STAGE, &mut stage).unwrap();
    assert_eq!(stage, 4, "sticky across opens and processes");
}

#[test]
fn oversize_commands_are_dropped_and_the_size_stays_stale() {
    let (d, _fd, info, mem) = open_j(jconfig());
    ioctl(&d, j::CONFIG_INIT, &mut 0u32).unwrap();
    let first = encode(&d, &info, mem, &synthetic(64, 32), 80);
    let mut cmd = [0u32; 30];
    cmd[..10].copy_from_slice(&[0, 3, 4, 2625, 16, 0, 0, 80, 1, 1]);
    assert_eq!(ioctl(&d, j::NEW_CMD, &mut cmd), Ok(0), "refused, yet 0");
    let mut p = libc::pollfd {
        fd: d.ready_fd().unwrap(),
        events: libc::POLLIN,
        revents: 0,
    };
    assert_eq!(
        // SAFETY: one pollfd.
        unsafe { libc::poll(&mut p, 1, 200) },
        0,
        "and it never completes"
    );
    let mut sizes = [0u32; 2];
    ioctl(&d, j::GET_OUTPUT_SIZE, &mut sizes).unwrap();
    assert_eq!(
        sizes[1] as usize,
        first.len() - 592,
        "the previous job's size"
    );
}

#[test]
fn i420_reads_u_through_the_unconfigured_canvas() {
    let (d, _fd, info, mem) = open_j(jconfig());
    ioctl(&d, j::CONFIG_INIT, &mut 0u32).unwrap();
    let img = synthetic(64, 48);
    let data = layout(&img, 4);
    // SAFETY: inside the mapped input area.
    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), mem.add(info[1] as usize), data.len()) };
    let mut cmd = [0u32; 30];
    cmd[..10].copy_from_slice(&[0, 4, 4, 64, 48, data.len() as u32, 0, 90, 1, 1]);
    ioctl(&d, j::NEW_CMD, &mut cmd).unwrap();
    assert!(d.stats().hazards >= 1);
}
