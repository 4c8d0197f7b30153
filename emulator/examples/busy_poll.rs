//! The Odroid C1 article's way of driving the E device, repeated: copy a frame into the input
//! area, NEW_CMD, spin on GET_STAGE until it reads 4. A foreign client (raw request numbers, no
//! library), the reference `amljpeg bench` holds the library against.
//!
//!   busy_poll DEVICE nv12|rgb24 WIDTH HEIGHT FRAMES
//!
//! Prints the wall and CPU seconds per frame (after one warm-up frame).

use std::os::fd::AsRawFd;
use std::time::Instant;

const GET_BUFFINFO: libc::c_ulong = 0x4004_450c;
const CONFIG_INIT: libc::c_ulong = 0x4004_4509;
const SET_ENCODER_WIDTH: libc::c_ulong = 0x4004_4507;
const SET_ENCODER_HEIGHT: libc::c_ulong = 0x4004_4508;
const NEW_CMD: libc::c_ulong = 0x4004_4503;
const GET_STAGE: libc::c_ulong = 0x4004_4504;

fn cpu_seconds() -> f64 {
    // SAFETY: rusage is plain data; all-zero is a valid value.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage into a zeroed struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 * 1e-6;
    t(u.ru_utime) + t(u.ru_stime)
}

/// The driver's ioctl on a word array we own, as large as it reads or writes.
fn ioctl(fd: i32, request: libc::c_ulong, words: &mut [u32]) -> i32 {
    // SAFETY: `words` is ours and at least as long as the driver accesses for `request`.
    unsafe { libc::ioctl(fd, request as _, words.as_mut_ptr()) }
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let [_, device, format, w, h, frames] = &args[..] else {
        return Err("usage: busy_poll DEVICE nv12|rgb24 WIDTH HEIGHT FRAMES".into());
    };
    let num = |s: &str| s.parse::<usize>().map_err(|e| format!("{s}: {e}"));
    let (w, h, frames) = (num(w)?, num(h)?, num(frames)?.max(1));
    // Input format, output format (NV12 -> 4:2:0; packed RGB888 -> 4:2:2), bytes.
    let (in_fmt, out_fmt, len) = match format.as_str() {
        "nv12" => (3, 4, w * h + 2 * w.div_ceil(2) * h.div_ceil(2)),
        "rgb24" => (6, 0, w * h * 3),
        other => return Err(format!("unknown format {other}")),
    };
    let data: Vec<u8> = (0..len)
        .map(|i| ((i % 251) as f32 * 0.7 + ((i / 997) % 60) as f32) as u8)
        .collect();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(device)
        .map_err(|e| format!("{device}: {e}"))?;
    let fd = file.as_raw_fd();
    let mut info = [0u32; 32];
    if ioctl(fd, GET_BUFFINFO, &mut info) != 0 || (info[2] as usize) < len {
        return Err("GET_BUFFINFO failed, or the frame does not fit".into());
    }
    let map = memmap2::MmapOptions::new()
        .len(info[0] as usize)
        .map_raw(&file)
        .map_err(|e| e.to_string())?;
    ioctl(fd, CONFIG_INIT, &mut [0]);
    ioctl(fd, SET_ENCODER_WIDTH, &mut [w as u32]);
    ioctl(fd, SET_ENCODER_HEIGHT, &mut [h as u32]);
    let input = info[1] as usize;
    let one = || {
        // SAFETY: the input area starts inside the map and holds `len` bytes (checked above).
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), map.as_mut_ptr().add(input), len) };
        ioctl(fd, NEW_CMD, &mut [0, in_fmt, out_fmt, 0, 0, len as u32, 1]);
        let mut stage = [0u32];
        while ioctl(fd, GET_STAGE, &mut stage) == 0 && stage[0] != 4 {}
    };
    one(); // warm-up
    let (t0, c0) = (Instant::now(), cpu_seconds());
    for _ in 0..frames {
        one();
    }
    let n = frames as f64;
    println!(
        "{} {}",
        t0.elapsed().as_secs_f64() / n,
        (cpu_seconds() - c0) / n
    );
    drop(map);
    Ok(())
}
