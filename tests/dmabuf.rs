//! `Encoder::encode_dmabuf` (aml_jpeg_encode_dmabuf) on every driver: the emulated E and J,
//! and the media_modules driver ("MM"), where the device reads a frame in its own geometry
//! from the dma-buf itself. A memfd stands in for a dma-buf (and /dev/udmabuf makes a real one
//! where the kernel has it).

mod common;

use amljpeg::{Backend, BackendChoice, Encoder, ErrorKind, Frame, InputPath, PixelFormat};
use amljpeg_testkit::memfd;
use common::emulator::{deadline_ms, emu_stat, generation, in_emulator};
use common::*;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

/// A real dma-buf holding `bytes`, from /dev/udmabuf, where the kernel offers it.
fn udmabuf(bytes: &[u8]) -> Option<OwnedFd> {
    #[repr(C)]
    struct Create {
        memfd: u32,
        flags: u32,
        offset: u64,
        size: u64,
    }
    nix::ioctl_write_ptr!(udmabuf_create, b'u', 0x42, Create);
    let device = std::fs::File::open("/dev/udmabuf").ok()?;
    let size = bytes.len().next_multiple_of(4096);
    // SAFETY: memfd_create with a NUL-terminated name (the system call: glibc's
    // wrapper is newer than the boards' 2.17 floor); the descriptor is ours.
    let fd = unsafe {
        OwnedFd::from_raw_fd(libc::syscall(
            libc::SYS_memfd_create,
            c"udmabuf".as_ptr(),
            libc::MFD_ALLOW_SEALING,
        ) as libc::c_int)
    };
    let file = std::fs::File::from(fd.try_clone().unwrap());
    file.set_len(size as u64).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&file, bytes, 0).unwrap();
    // SAFETY: sealing our own memfd against shrinking, as udmabuf requires.
    let sealed = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, libc::F_SEAL_SHRINK) };
    assert_eq!(sealed, 0);
    let create = Create {
        memfd: fd.as_raw_fd() as u32,
        flags: 1, // UDMABUF_FLAGS_CLOEXEC
        offset: 0,
        size: size as u64,
    };
    // SAFETY: the struct the driver reads; it returns a new dma-buf descriptor.
    let buf = unsafe { udmabuf_create(device.as_raw_fd(), &create) }.ok()?;
    // SAFETY: a fresh descriptor we own.
    Some(unsafe { OwnedFd::from_raw_fd(buf) })
}

/// The photograph scaled to `width`×`height` (nearest neighbour).
fn photo(width: usize, height: usize) -> Rgb {
    let img = load_rgb("astronaut.png");
    let pixels = (0..width * height)
        .flat_map(|i| {
            let (x, y) = (
                i % width * img.width / width,
                i / width * img.height / height,
            );
            img.pixels[(y * img.width + x) * 3..][..3].to_vec()
        })
        .collect();
    Rgb {
        width,
        height,
        pixels,
    }
}

fn hardware() -> Encoder {
    let mut enc = Encoder::open(None, BackendChoice::Hardware).unwrap();
    enc.set_timeout(Some(deadline_ms(10_000)));
    enc
}

/// Whether the device reads this frame from the dma-buf itself on this driver.
fn zero_copy_expected(width: usize, height: usize, format: PixelFormat, offset: usize) -> bool {
    let strided = std::env::var("JPEGENC_EMU_SOC").is_ok_and(|s| s == "t7");
    let native = matches!(
        format,
        PixelFormat::Nv12 | PixelFormat::Nv21 | PixelFormat::Yuyv | PixelFormat::Rgb24
    ) || (format == PixelFormat::I420 && strided);
    generation() == "MM" && offset == 0 && width % 16 == 0 && height % 16 == 0 && native
}

#[test]
fn every_format_from_a_dmabuf_on_every_driver() {
    let name = "every_format_from_a_dmabuf_on_every_driver";
    let emulated = in_emulator(name, &[]);
    if !emulated {
        in_emulator(name, &[("JPEGENC_EMU_GEN", "MM")]);
        return;
    }
    let formats = [
        PixelFormat::Nv12,
        PixelFormat::Nv21,
        PixelFormat::I420,
        PixelFormat::Yuyv,
        PixelFormat::Rgb24,
    ];
    let mut hw = hardware();
    let mut sw = Encoder::open(None, BackendChoice::Software).unwrap();
    let (mut frames, mut zero_copy) = (0, 0);
    for (w, h) in [(1280, 720), (1920, 1080)] {
        let img = photo(w, h);
        for format in formats {
            let data = convert(&img, format);
            let frame = Frame::new(&data, w as u32, h as u32, 0, format).unwrap();
            let reference = sw.encode(&frame, 85).unwrap().to_vec();
            let reference_psnr = psnr(&decode_rgb(&reference).pixels, &img.pixels);
            for offset in [0, 8192] {
                let what = format!("{}: {w}x{h} {} at {offset}", generation(), format.name());
                let buffer = memfd(&data, offset);
                let fd = buffer.as_fd();
                let jpeg = hw
                    .encode_dmabuf(fd, offset, data.len(), w as u32, h as u32, 0, format, 85)
                    .unwrap_or_else(|e| panic!("{what}: {e}"))
                    .to_vec();
                frames += 1;
                let expected = zero_copy_expected(w, h, format, offset);
                let path = hw.last_input().unwrap();
                assert_eq!(path == InputPath::DmaBuf, expected, "{what}: {path:?}");
                zero_copy += expected as u64;
                assert_eq!(hw.last_backend(), Some(Backend::Hardware));
                let p = psnr(&decode_rgb(&jpeg).pixels, &img.pixels);
                assert!(
                    p > reference_psnr - 1.0,
                    "{what}: {p:.2} dB, libjpeg-turbo {reference_psnr:.2} dB"
                );
                // The descriptor is still the caller's, open and unmoved.
                assert_eq!(
                    nix::unistd::lseek(fd.as_raw_fd(), 0, nix::unistd::Whence::SeekCur),
                    Ok(0)
                );
                // Software reads it as well.
                let soft = sw
                    .encode_dmabuf(fd, offset, data.len(), w as u32, h as u32, 0, format, 85)
                    .unwrap();
                assert_eq!(soft, &reference[..], "{what}: software");
                assert_eq!(sw.last_input(), Some(InputPath::Cpu));
            }
        }
    }
    assert_eq!(emu_stat("new_cmds"), frames);
    assert_eq!(
        emu_stat("dma_jobs"),
        zero_copy,
        "one dma_jobs per zero-copy frame"
    );
    let cmd2 = if generation() == "MM" { frames } else { 0 };
    assert_eq!(
        emu_stat("cmd2_jobs"),
        cmd2,
        "NEW_CMD2 wherever the driver has it"
    );
    assert_eq!(emu_stat("hazards"), 0);
    if generation() == "MM" {
        assert_eq!(
            zero_copy, 4,
            "1280x720 NV12, NV21, YUYV and RGB24, at offset 0"
        );
    }
    // A real dma-buf where the kernel makes them (the descriptor the device imports).
    let img = photo(1280, 720);
    let data = convert(&img, PixelFormat::Nv12);
    match udmabuf(&data) {
        Some(buffer) => {
            hw.encode_dmabuf(
                buffer.as_fd(),
                0,
                data.len(),
                1280,
                720,
                0,
                PixelFormat::Nv12,
                85,
            )
            .unwrap();
            assert_eq!(
                hw.last_input() == Some(InputPath::DmaBuf),
                generation() == "MM"
            );
            println!("udmabuf: encoded from a real dma-buf");
        }
        None => println!("udmabuf: /dev/udmabuf is not on this machine; memfd only"),
    }
}

/// On SoCs that honour NEW_CMD2's strides (T7 class) a frame whose rows are wider than the
/// driver's geometry still goes zero-copy; elsewhere it is mapped and laid out.
#[test]
fn strides_count_where_the_soc_honours_them() {
    let name = "strides_count_where_the_soc_honours_them";
    if !in_emulator(
        name,
        &[("JPEGENC_EMU_GEN", "MM"), ("JPEGENC_EMU_SOC", "t7")],
    ) {
        in_emulator(
            name,
            &[("JPEGENC_EMU_GEN", "MM"), ("JPEGENC_EMU_SOC", "sm1")],
        );
        return;
    }
    let strided = std::env::var("JPEGENC_EMU_SOC").unwrap() == "t7";
    let img = photo(1280, 720);
    let mut hw = hardware();
    let mut sw = Encoder::open(None, BackendChoice::Software).unwrap();
    let mut expected_dma = 0;
    for (format, stride) in [(PixelFormat::Nv12, 1536), (PixelFormat::I420, 1536)] {
        let packed = convert(&img, format);
        let tight = Frame::new(&packed, 1280, 720, 0, format).unwrap();
        // The same frame, its rows `stride` apart.
        let layout = amljpeg::FrameLayout::new(format, 1280, 720, stride).unwrap();
        let mut data = vec![0u8; layout.min_len];
        for (index, plane) in layout.planes().iter().enumerate() {
            for y in 0..plane.rows {
                let row = tight.row(index, y);
                let at = plane.offset + y * plane.stride;
                data[at..at + row.len()].copy_from_slice(row);
            }
        }
        let buffer = memfd(&data, 0);
        let jpeg = hw
            .encode_dmabuf(buffer.as_fd(), 0, data.len(), 1280, 720, stride, format, 85)
            .unwrap()
            .to_vec();
        let dma = hw.last_input() == Some(InputPath::DmaBuf);
        assert_eq!(dma, strided, "{}", format.name());
        expected_dma += dma as u64;
        let reference = sw.encode(&tight, 85).unwrap();
        let (ours, theirs) = (
            psnr(&decode_rgb(&jpeg).pixels, &img.pixels),
            psnr(&decode_rgb(reference).pixels, &img.pixels),
        );
        assert!(
            ours > theirs - 1.0,
            "{}: {ours:.2} against {theirs:.2}",
            format.name()
        );
    }
    assert_eq!(emu_stat("dma_jobs"), expected_dma);
    assert_eq!(emu_stat("strided_jobs"), expected_dma);
    assert_eq!(emu_stat("hazards"), 0);
}

/// Bad descriptors and sizes are refused with a clear error and change nothing.
#[test]
fn bad_dmabuf_arguments_are_refused() {
    if !in_emulator(
        "bad_dmabuf_arguments_are_refused",
        &[("JPEGENC_EMU_GEN", "MM")],
    ) {
        return;
    }
    let img = photo(64, 48);
    let data = convert(&img, PixelFormat::Nv12);
    let buffer = memfd(&data, 0);
    let fd = buffer.as_fd();
    let mut enc = hardware();
    let nv12 = PixelFormat::Nv12;
    let cases: Vec<(amljpeg::Result<Vec<u8>>, &str)> = vec![
        (
            enc.encode_dmabuf(fd, 0, data.len() - 1, 64, 48, 0, nv12, 85)
                .map(<[u8]>::to_vec),
            "too short",
        ),
        (
            enc.encode_dmabuf(fd, 100, data.len(), 64, 48, 0, nv12, 85)
                .map(<[u8]>::to_vec),
            "runs past the end",
        ),
        (
            enc.encode_dmabuf(fd, 0, data.len(), 64, 48, 0, nv12, 0)
                .map(<[u8]>::to_vec),
            "quality",
        ),
    ];
    for (result, why) in cases {
        let e = result.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{why}: {e}");
        assert!(e.message().contains(why), "{why}: {e}");
    }
    let (read, write) = nix::unistd::pipe().unwrap();
    let e = enc
        .encode_dmabuf(read.as_fd(), 0, data.len(), 64, 48, 0, nv12, 85)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "a pipe: {e}");
    drop(write);
    assert_eq!(emu_stat("new_cmds"), 0, "nothing reached the device");
    enc.encode_dmabuf(fd, 0, data.len(), 64, 48, 0, nv12, 85)
        .unwrap();
    assert_eq!(enc.last_input(), Some(InputPath::DmaBuf));
}
