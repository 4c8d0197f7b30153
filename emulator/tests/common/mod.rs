//! Helpers for the emulator tests: an in-process client of the model, input layouts with the
//! driver's geometry, test images and decoding.
#![allow(dead_code, unused_imports)]

use jpegenc_emu::driver::{e, Errno};
use jpegenc_emu::{Config, Driver};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::Duration;

pub const LOCAL_BUFF: u32 = 0;

/// A fresh directory for one test's lock and state files, so tests do not share a device.
pub fn state_dir() -> PathBuf {
    amljpeg_testkit::scratch_dir("jpegenc-emu-test")
}

pub fn config() -> Config {
    Config {
        state_dir: state_dir(),
        mpixps: 0.0,
        init_delay: Duration::ZERO,
        ..Config::default()
    }
}

/// Maps `len` bytes of a device descriptor (shared, read-write), as a client does.
pub fn map_device(fd: &OwnedFd, len: usize) -> *mut u8 {
    // SAFETY: a shared mapping of the device's memfd, which is at least `len` long.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd.as_raw_fd(),
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED);
    p.cast()
}

/// An open device with its memory mapped, driven in-process.
pub struct Session {
    pub driver: Driver,
    pub fd: Option<OwnedFd>,
    pub map: *mut u8,
    pub info: [u32; 5],
}

impl Session {
    pub fn open(driver: Driver) -> Session {
        let fd = driver.open().expect("open");
        let mut s = Session {
            driver,
            fd: Some(fd),
            map: std::ptr::null_mut(),
            info: [0; 5],
        };
        let mut info = [0u32; 5];
        s.ioctl(e::GET_BUFFINFO, &mut info).unwrap();
        s.info = info;
        s.map = map_device(s.fd.as_ref().unwrap(), info[0] as usize);
        s
    }

    pub fn with(config: Config) -> Session {
        Session::open(Driver::new(config))
    }

    pub fn ioctl<T>(&self, request: u32, arg: &mut T) -> Result<i32, Errno> {
        // SAFETY: `arg` is a live, correctly sized value.
        unsafe { self.driver.ioctl(request as u64, (arg as *mut T).cast()) }
    }

    pub fn ioctl_raw(&self, request: u32, arg: *mut libc::c_void) -> Result<i32, Errno> {
        // SAFETY: tests pass pointers they own, or NULL.
        unsafe { self.driver.ioctl(request as u64, arg) }
    }

    pub fn memory(&self) -> &[u8] {
        // SAFETY: our mapping of info[0] bytes, alive while the session is.
        unsafe { std::slice::from_raw_parts(self.map, self.info[0] as usize) }
    }

    /// Writes a frame at the start of the input area, as a client's CPU would.
    pub fn write_input(&self, data: &[u8]) {
        assert!(data.len() <= self.info[2] as usize);
        // SAFETY: inside our mapping (checked against the input area's size).
        unsafe {
            std::ptr::copy_nonoverlapping(
                data.as_ptr(),
                self.map.add(self.info[1] as usize),
                data.len(),
            )
        };
    }

    pub fn bitstream(&self) -> &[u8] {
        let start = self.info[3] as usize;
        let cap = (self.info[4] as usize).min(self.info[0] as usize - start);
        &self.memory()[start..start + cap]
    }

    /// Waits for the completion event like a client's poll(POLLIN).
    pub fn poll(&self, timeout_ms: i32) -> bool {
        let Some(fd) = self.driver.ready_fd() else {
            return false;
        };
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut p, 1, timeout_ms) };
        r > 0 && self.driver.poll_consume()
    }

    pub fn stage(&self) -> u32 {
        let mut s = 99u32;
        self.ioctl(e::GET_STAGE, &mut s).unwrap();
        s
    }

    pub fn setup(&self, width: u32, height: u32, quality: i32, table: i32) {
        let (mut w, mut h, mut q, mut t) = (width, height, quality, table);
        self.ioctl(e::SET_ENCODER_WIDTH, &mut w).unwrap();
        self.ioctl(e::SET_ENCODER_HEIGHT, &mut h).unwrap();
        self.ioctl(e::SET_QUALTIY, &mut q).unwrap();
        self.ioctl(e::SEL_QUANT_TABLE, &mut t).unwrap();
        self.ioctl(e::CONFIG_INIT, &mut 0u32).unwrap();
    }

    pub fn new_cmd(&self, in_fmt: u32, out_fmt: u32, size: u32, flush: bool) {
        let mut cmd = [LOCAL_BUFF, in_fmt, out_fmt, 0, 0, size, flush as u32];
        assert_eq!(self.ioctl(e::NEW_CMD, &mut cmd), Ok(0));
    }

    /// The JPEG after completion, with GET_OUTPUT_SIZE read as header + payload (`total`).
    pub fn output_total(&self) -> Vec<u8> {
        let mut size = 0u32;
        self.ioctl(e::GET_OUTPUT_SIZE, &mut size).unwrap();
        let mut flush = [1u32, 0, size];
        self.ioctl(e::FLUSH_DMA, &mut flush).unwrap();
        self.bitstream()[..size as usize].to_vec()
    }

    /// Lays `img` out, encodes it and returns the JPEG (the HAL's call order).
    pub fn encode(&self, img: &Rgb, in_fmt: u32, out_fmt: u32) -> Vec<u8> {
        let data = layout(img, in_fmt);
        self.write_input(&data);
        self.new_cmd(in_fmt, out_fmt, data.len() as u32, true);
        assert!(self.poll(5000), "no completion");
        assert_eq!(self.stage(), 4);
        self.output_total()
    }

    pub fn close(&mut self) {
        // SAFETY: unmapping our mapping.
        unsafe { libc::munmap(self.map.cast(), self.info[0] as usize) };
        self.fd = None;
        self.driver.release();
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.fd.is_some() {
            self.close();
        }
    }
}

pub use amljpeg_testkit::{testdata, Rgb};

/// A test photograph as RGB.
pub fn photo(name: &str) -> Rgb {
    amljpeg_testkit::load_rgb(name)
}

/// A smooth synthetic frame with texture.
pub fn synthetic(width: usize, height: usize) -> Rgb {
    let mut pixels = Vec::with_capacity(width * height * 3);
    for y in 0..height {
        for x in 0..width {
            let r = (x * 255 / width.max(1)) as u8;
            let g = (y * 255 / height.max(1)) as u8;
            let b = (128.0 + 100.0 * ((x as f32 / 9.0).sin() * (y as f32 / 7.0).cos())) as u8;
            pixels.extend([r, g, b]);
        }
    }
    Rgb {
        width,
        height,
        pixels,
    }
}

fn clamp(v: f32) -> u8 {
    v.round().clamp(0.0, 255.0) as u8
}

fn ycc(p: &[u8]) -> [u8; 3] {
    let (r, g, b) = (p[0] as f32, p[1] as f32, p[2] as f32);
    [
        clamp(0.299 * r + 0.587 * g + 0.114 * b),
        clamp(-0.168736 * r - 0.331264 * g + 0.5 * b + 128.0),
        clamp(0.5 * r - 0.418688 * g - 0.081312 * b + 128.0),
    ]
}

fn align(v: usize, a: usize) -> usize {
    v.div_ceil(a) * a
}

/// Lays out `img` in E input format `in_fmt` with the driver geometry of docs/driver.md §4, padding
/// by edge replication.
pub fn layout(img: &Rgb, in_fmt: u32) -> Vec<u8> {
    let (w, h) = (img.width, img.height);
    let (pw, ph) = (align(w, 16), align(h, 16));
    let px = |x: usize, y: usize| {
        let (x, y) = (x.min(w - 1), y.min(h - 1));
        &img.pixels[(y * w + x) * 3..(y * w + x) * 3 + 3]
    };
    let chroma = |cx: usize, cy: usize| {
        let c = ycc(px(2 * cx, 2 * cy));
        (c[1], c[2])
    };
    match in_fmt {
        0 => {
            let s = align(2 * pw, 32);
            let mut out = vec![0; s * ph];
            for y in 0..ph {
                for cx in 0..pw / 2 {
                    let (a, b) = (ycc(px(2 * cx, y)), ycc(px(2 * cx + 1, y)));
                    out[y * s + 4 * cx..][..4].copy_from_slice(&[a[0], a[1], b[0], a[2]]);
                }
            }
            out
        }
        1 | 6 => {
            let s = align(3 * pw, 32);
            let mut out = vec![0; s * ph];
            for y in 0..ph {
                for x in 0..pw {
                    let v = if in_fmt == 6 {
                        px(x, y).try_into().unwrap()
                    } else {
                        ycc(px(x, y))
                    };
                    out[y * s + 3 * x..][..3].copy_from_slice(&v);
                }
            }
            out
        }
        2 | 3 => {
            let s = align(w, 32);
            let mut out = vec![0; s * ph * 3 / 2];
            for y in 0..ph {
                for x in 0..s {
                    out[y * s + x] = ycc(px(x, y))[0];
                }
            }
            for cy in 0..ph / 2 {
                for cx in 0..s / 2 {
                    let (u, v) = chroma(cx, cy);
                    let pair = if in_fmt == 3 { [u, v] } else { [v, u] };
                    out[s * ph + cy * s + 2 * cx..][..2].copy_from_slice(&pair);
                }
            }
            out
        }
        4 => {
            let sy = align(w, 64);
            let sc = sy / 2;
            let mut out = vec![0; sy * ph * 3 / 2];
            for y in 0..ph {
                for x in 0..sy {
                    out[y * sy + x] = ycc(px(x, y))[0];
                }
            }
            for cy in 0..ph / 2 {
                for cx in 0..sc {
                    let (u, v) = chroma(cx, cy);
                    out[sy * ph + cy * sc + cx] = u;
                    out[sy * ph * 5 / 4 + cy * sc + cx] = v;
                }
            }
            out
        }
        5 | 7 => {
            let s = align(w, 32);
            let mut out = vec![0; s * ph * 3];
            for y in 0..ph {
                for x in 0..s {
                    let v: [u8; 3] = if in_fmt == 7 {
                        px(x, y).try_into().unwrap()
                    } else {
                        ycc(px(x, y))
                    };
                    for k in 0..3 {
                        out[k * s * ph + y * s + x] = v[k];
                    }
                }
            }
            out
        }
        9 => {
            let mut out = Vec::with_capacity(pw * ph * 4);
            for y in 0..ph {
                for x in 0..pw {
                    out.extend_from_slice(px(x, y));
                    out.push(255);
                }
            }
            out
        }
        other => panic!("no layout for input format {other}"),
    }
}

pub fn decode(jpeg: &[u8]) -> Result<Rgb, String> {
    amljpeg_testkit::decode_rgb(jpeg)
}

pub fn psnr(a: &Rgb, b: &Rgb) -> f64 {
    assert_eq!((a.width, a.height), (b.width, b.height));
    amljpeg_testkit::psnr(&a.pixels, &b.pixels)
}

/// libjpeg's table at `quality` (jpeg_set_quality with force_baseline), natural order.
pub fn libjpeg_table(base: &[u16; 64], quality: i32) -> [u8; 64] {
    let scale = if quality < 50 {
        5000 / quality
    } else {
        200 - 2 * quality
    } as u32;
    base.map(|b| ((b as u32 * scale + 50) / 100).clamp(1, 255) as u8)
}

pub const ANNEX_K_LUMA: [u16; 64] = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113,
    92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];

pub const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// The luma DQT of a header, back in natural order.
pub fn header_luma_table(jpeg: &[u8]) -> [u8; 64] {
    assert_eq!(&jpeg[2..6], &[0xFF, 0xDB, 0, 132]);
    let mut t = [0u8; 64];
    for k in 0..64 {
        t[ZIGZAG[k]] = jpeg[7 + k];
    }
    t
}
