//! The dma-buf path against the copy path, on the media_modules driver: the same NV12 frame
//! from memory (the library lays it out in the device's input area), and from a dma-buf
//! (a memfd here) that the device reads itself where its geometry allows, or that the library
//! maps and lays out. The encoder is instant, so what remains is the library's own work.

use super::{frame_bytes, library_cpu, time, Report};
use amljpeg::hw::geometry::{hardware_format, Geometry};
use amljpeg::{BackendChoice, Encoder, Frame, InputPath, PixelFormat};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};

/// A memfd holding `bytes`: what a camera's exported buffer is to the library.
fn memfd(bytes: &[u8]) -> Result<OwnedFd, String> {
    // SAFETY: memfd_create with a NUL-terminated name (the system call: glibc's
    // wrapper is newer than the boards' 2.17 floor).
    let raw = unsafe {
        libc::syscall(
            libc::SYS_memfd_create,
            c"bench-frame".as_ptr(),
            libc::MFD_CLOEXEC,
        ) as libc::c_int
    };
    if raw < 0 {
        return Err(format!("memfd_create: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: a fresh descriptor we own.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let file = std::fs::File::from(fd.try_clone().map_err(|e| e.to_string())?);
    std::os::unix::fs::FileExt::write_all_at(&file, bytes, 0).map_err(|e| e.to_string())?;
    Ok(fd)
}

pub fn section(r: &mut Report, frames: usize) -> Result<(), String> {
    for (w, h) in [(1280, 720), (1920, 1080)] {
        let format = PixelFormat::Nv12;
        let case = format!("{w}x{h} NV12");
        r.step(&format!("dma-buf {case}"));
        let data = frame_bytes(format, w, h);
        let frame = Frame::new(&data, w as u32, h as u32, 0, format).unwrap();
        let buffer = memfd(&data)?;
        let mut enc = Encoder::open(None, BackendChoice::Hardware).map_err(|e| e.to_string())?;
        enc.set_timeout(Some(std::time::Duration::from_secs(30)));
        let generation = enc
            .device_info()
            .map_err(|e| e.to_string())?
            .ok_or("no device")?
            .generation;
        // What the library copies when it lays a frame out: the input area's extent.
        let laid_out = Geometry::new(hardware_format(format, generation), w, h).extent as f64;
        let copies = |path: Option<InputPath>| match path {
            Some(InputPath::DmaBuf) => 0.0,
            _ => laid_out / data.len() as f64,
        };
        let copy_path = library_cpu(frames, || {
            enc.encode(&frame, 90).expect("hardware encode");
        });
        let copy_path_copies = copies(enc.last_input());
        let (len, (w32, h32)) = (data.len(), (w as u32, h as u32));
        let dma_path = library_cpu(frames, || {
            enc.encode_dmabuf(buffer.as_fd(), 0, len, w32, h32, 0, format, 90)
                .expect("dma-buf encode");
        });
        let path = enc.last_input();
        let dma_path_copies = copies(path);
        enc.release();
        let mut copy = vec![0u8; data.len()];
        let (one_copy, _) = time(frames, || copy.copy_from_slice(&data));
        let how = if path == Some(InputPath::DmaBuf) {
            "read by the device"
        } else {
            "mapped and laid out"
        };
        r.add(
            "dma-buf",
            format!("{case}: frames the CPU copies per frame, copy path"),
            copy_path_copies,
            "x",
        );
        r.add(
            "dma-buf",
            format!("{case}: frames the CPU copies per frame, dma-buf ({how})"),
            dma_path_copies,
            "x",
        );
        r.add(
            "dma-buf",
            format!("{case}: library CPU per frame / one copy, copy path"),
            copy_path / one_copy,
            "x",
        );
        r.add(
            "dma-buf",
            format!("{case}: library CPU per frame / one copy, dma-buf ({how})"),
            dma_path / one_copy,
            "x",
        );
    }
    Ok(())
}
