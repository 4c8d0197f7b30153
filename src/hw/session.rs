//! One open of the device: open, identify, map, CONFIG_INIT, then encode frames until an
//! error makes the caller drop it (which unmaps, closes, and so powers the block down).

use super::layout::{hardware_format, write_frame, InputLayout};
use super::output::{self, SizeRule};
use super::protocol::{self as p, fmt, ioctl};
use crate::error::{Error, ErrorKind, Result};
use crate::format::{Frame, PixelFormat, Subsampling};
use memmap2::{MmapOptions, MmapRaw};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use std::fs::File;
use std::ops::Range;
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;
use std::time::Instant;

fn device_error(what: &str, errno: Errno) -> Error {
    Error::device(format!("{what} failed: {}", errno.desc()))
}

/// The device's buffer layout, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BufferInfo {
    pub total: usize,
    pub input: Range<usize>,
    pub bitstream: Range<usize>,
}

impl BufferInfo {
    /// Checks the numbers GET_BUFFINFO returned: every area inside the map, input before the
    /// bitstream, bitstream capacity min(size, total − start) (the 8M/HD size bug).
    pub fn from_words(w: &[u32]) -> Result<BufferInfo> {
        let [total, in_start, in_size, bs_start, bs_size] =
            [w[0], w[1], w[2], w[3], w[4]].map(|v| v as usize);
        if total == 0 || total > 1 << 30 {
            return Err(Error::device(format!(
                "implausible reserved size {total:#x}"
            )));
        }
        if in_start >= total || bs_start >= total || in_start >= bs_start || in_size == 0 {
            return Err(Error::device(format!("implausible buffer layout {w:x?}")));
        }
        let input_cap = in_size.min(bs_start - in_start);
        let bitstream_cap = bs_size.min(total - bs_start);
        if bitstream_cap < 64 * 1024 {
            return Err(Error::device(format!(
                "bitstream buffer of {bitstream_cap} bytes is too small"
            )));
        }
        Ok(BufferInfo {
            total,
            input: in_start..in_start + input_cap,
            bitstream: bs_start..bs_start + bitstream_cap,
        })
    }
}

/// What the device is, for `amljpeg info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    pub generation: &'static str,
    pub soc: String,
    pub max_width: u32,
    pub max_height: u32,
    pub buffers: BufferInfo,
}

pub struct Session {
    // Field order is drop order: unmap before close, or the driver keeps the device open.
    map: MmapRaw,
    file: File,
    info: DeviceInfo,
    rule: Option<SizeRule>,
}

fn open_error(path: &Path, e: std::io::Error) -> Error {
    let kind = match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENXIO) | Some(libc::ENODEV) => ErrorKind::NoDevice,
        Some(libc::EACCES) | Some(libc::EPERM) => ErrorKind::PermissionDenied,
        Some(libc::EBUSY) => ErrorKind::Busy,
        _ => ErrorKind::Device,
    };
    Error::new(kind, format!("cannot open {}: {e}", path.display()))
}

impl Session {
    pub fn open(path: &Path) -> Result<Session> {
        // std opens with O_CLOEXEC: the descriptor never leaks into an exec'd program.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| open_error(path, e))?;
        let soc = Self::identify(&file)?;
        let fd = file.as_raw_fd();
        let mut words = [0u32; p::SCRATCH_WORDS];
        // SAFETY: `words` is larger than any generation writes.
        unsafe { ioctl::get_buffinfo(fd, &mut words) }
            .map_err(|e| device_error("GET_BUFFINFO", e))?;
        let buffers = BufferInfo::from_words(&words)?;
        // The level's limits: asking for more than the maximum writes the maximum back and
        // changes nothing.
        let (mut max_w, mut max_h) = (u32::MAX, u32::MAX);
        // SAFETY: u32s we own, the size the driver reads and writes.
        unsafe {
            ioctl::set_encoder_width(fd, &mut max_w).and(ioctl::set_encoder_height(fd, &mut max_h))
        }
        .map_err(|e| device_error("SET_ENCODER_WIDTH/HEIGHT", e))?;
        if [max_w, max_h].iter().any(|&m| m == u32::MAX || m == 0) {
            return Err(Error::device("the driver did not report its size limits"));
        }
        let map = MmapOptions::new()
            .len(buffers.total)
            .map_raw(&file)
            .map_err(|e| Error::device(format!("mmap of {} bytes failed: {e}", buffers.total)))?;
        // SAFETY: CONFIG_INIT takes no argument.
        unsafe { ioctl::config_init(fd) }.map_err(|e| device_error("CONFIG_INIT", e))?;
        // Quantisation from the Annex K base tables: with SET_QUALTIY they are libjpeg's.
        // SAFETY: an int we own.
        unsafe { ioctl::sel_quant_table(fd, &1) }
            .map_err(|e| device_error("SEL_QUANT_TABLE", e))?;
        // SAFETY: NULL clears the external table; the driver copies nothing.
        unsafe { ioctl::set_ext_quant_table(fd, std::ptr::null()) }
            .map_err(|e| device_error("SET_EXT_QUANT_TABLE", e))?;
        let info = DeviceInfo {
            generation: "E",
            soc,
            max_width: max_w,
            max_height: max_h,
            buffers,
        };
        Ok(Session {
            map,
            file,
            info,
            rule: None,
        })
    }

    /// Tells the driver generation apart without side effects: J's GET_DEVINFO first (E answers
    /// EPERM), then E's. Both write into a zeroed scratch larger than any of them writes.
    fn identify(file: &File) -> Result<String> {
        let fd = file.as_raw_fd();
        let mut id = [0u8; 4 * p::SCRATCH_WORDS];
        // SAFETY: `id` is larger than either generation writes.
        match unsafe { ioctl::j_get_devinfo(fd, &mut id) } {
            Ok(_) => {
                let soc =
                    String::from_utf8_lossy(&id[..id.iter().position(|&b| b == 0).unwrap_or(16)])
                        .into_owned();
                return Err(Error::unsupported(format!("{soc}: the J-generation driver (GXBB and later) is not supported by this build")));
            }
            Err(Errno::EPERM) => {}
            Err(e) => return Err(device_error("GET_DEVINFO", e)),
        }
        id.fill(0);
        // SAFETY: as above.
        unsafe { ioctl::get_devinfo(fd, &mut id) }.map_err(|e| device_error("GET_DEVINFO", e))?;
        let soc = String::from_utf8_lossy(&id[..id.iter().position(|&b| b == 0).unwrap_or(16)])
            .into_owned();
        if !soc.starts_with("AML-") {
            return Err(Error::new(
                ErrorKind::NoDevice,
                format!("not an Amlogic JPEG encoder (device says {soc:?})"),
            ));
        }
        Ok(soc)
    }

    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    /// Whether the hardware can encode this frame at all (size within the level, a
    /// subsampling it produces).
    pub fn supports(&self, width: usize, height: usize, subsampling: Subsampling) -> Result<()> {
        if subsampling == Subsampling::S444 {
            return Err(Error::unsupported(
                "the hardware encoder cannot produce 4:4:4",
            ));
        }
        if width > self.info.max_width as usize || height > self.info.max_height as usize {
            return Err(Error::unsupported(format!(
                "{width}x{height} exceeds the device's {}x{} buffer level",
                self.info.max_width, self.info.max_height
            )));
        }
        Ok(())
    }

    fn fd(&self) -> std::os::fd::RawFd {
        self.file.as_raw_fd()
    }

    /// Sets the encoder size; the driver writes its maximum back if it refuses a value.
    fn set_size(&self, width: u32, height: u32) -> Result<()> {
        let (mut w, mut h) = (width, height);
        // SAFETY: u32s we own.
        unsafe {
            ioctl::set_encoder_width(self.fd(), &mut w)
                .and(ioctl::set_encoder_height(self.fd(), &mut h))
        }
        .map_err(|e| device_error("SET_ENCODER_WIDTH/HEIGHT", e))?;
        if (w, h) != (width, height) {
            return Err(Error::device(format!(
                "the driver refused the size {width}x{height}"
            )));
        }
        Ok(())
    }

    fn stage(&self) -> Result<u32> {
        let mut stage = 0;
        // SAFETY: a u32 we own.
        unsafe { ioctl::get_stage(self.fd(), &mut stage) }
            .map_err(|e| device_error("GET_STAGE", e))?;
        Ok(stage)
    }

    /// The input area laid out for a frame: where the caller's pixels go.
    pub fn input_layout(
        &self,
        format: PixelFormat,
        width: usize,
        height: usize,
    ) -> Result<InputLayout> {
        let layout = InputLayout::new(hardware_format(format), width, height);
        if layout.extent > self.info.buffers.input.len() {
            return Err(Error::unsupported(format!(
                "a {width}x{height} frame does not fit the device's input area"
            )));
        }
        Ok(layout)
    }

    /// The input area as a mutable slice.
    pub fn input_area(&mut self) -> &mut [u8] {
        let r = self.info.buffers.input.clone();
        // SAFETY: the range lies inside our mapping (validated), and `&mut self` makes this
        // the only CPU-side view while it lives; the hardware does not run between jobs.
        unsafe { std::slice::from_raw_parts_mut(self.map.as_mut_ptr().add(r.start), r.len()) }
    }

    fn bitstream(&mut self) -> &mut [u8] {
        let r = self.info.buffers.bitstream.clone();
        // SAFETY: as in input_area; called only after the job completed.
        unsafe { std::slice::from_raw_parts_mut(self.map.as_mut_ptr().add(r.start), r.len()) }
    }

    /// The bytes of a finished JPEG (a range returned by [`Session::encode`]).
    pub fn output(&self, range: Range<usize>) -> &[u8] {
        let start = self.info.buffers.bitstream.start;
        // SAFETY: the range was validated against the bitstream buffer by `resolve`.
        unsafe {
            std::slice::from_raw_parts(self.map.as_ptr().add(start + range.start), range.len())
        }
    }

    /// Lays out `frame` and encodes it; returns where the JPEG is in the bitstream buffer.
    pub fn encode(
        &mut self,
        frame: &Frame<'_>,
        quality: u8,
        subsampling: Subsampling,
        deadline: Instant,
    ) -> Result<Range<usize>> {
        self.supports(frame.width(), frame.height(), subsampling)?;
        let layout = self.input_layout(frame.format(), frame.width(), frame.height())?;
        write_frame(frame, &layout, self.input_area());
        self.run(&layout, quality, subsampling, deadline)
    }

    /// Encodes what is in the input area, laid out as `layout`.
    pub fn run(
        &mut self,
        layout: &InputLayout,
        quality: u8,
        subsampling: Subsampling,
        deadline: Instant,
    ) -> Result<Range<usize>> {
        // Width, height and quality are driver globals: set them for every frame and make sure
        // the size was taken.
        self.set_size(layout.width as u32, layout.height as u32)?;
        // SAFETY: an int we own.
        unsafe { ioctl::set_quality(self.fd(), &(quality as i32)) }
            .map_err(|e| device_error("SET_QUALTIY", e))?;
        let out_fmt = if subsampling == Subsampling::S422 {
            fmt::YUV422_SINGLE
        } else {
            fmt::YUV420
        };
        // need_flush with the whole extent: the driver cleans the cache over every byte the
        // hardware reads, padding included.
        let cmd: [u32; p::NEW_CMD_WORDS] = [
            p::LOCAL_BUFF,
            layout.format,
            out_fmt,
            0,
            0,
            layout.extent as u32,
            1,
        ];
        // SAFETY: the driver reads exactly NEW_CMD_WORDS words.
        unsafe { ioctl::new_cmd(self.fd(), &cmd) }.map_err(|e| device_error("NEW_CMD", e))?;
        self.wait(deadline)?;
        let mut size = 0u32;
        // SAFETY: a u32 we own.
        unsafe { ioctl::get_output_size(self.fd(), &mut size) }
            .map_err(|e| device_error("GET_OUTPUT_SIZE", e))?;
        let size = size as usize;
        let cap = self.info.buffers.bitstream.len();
        // Invalidate the CPU's view of the header and data before reading them.
        let range = [1u32, 0, size.saturating_add(p::HEADER_LEN).min(cap) as u32];
        // SAFETY: FLUSH_DMA reads three words.
        unsafe { ioctl::flush_dma(self.fd(), &range) }.map_err(|e| device_error("FLUSH_DMA", e))?;
        let known = self.rule;
        let buf = self.bitstream();
        let resolved = output::resolve(buf, size, known)?;
        if resolved.append_eoi {
            buf[resolved.len - 2..resolved.len].copy_from_slice(&[0xFF, 0xD9]);
        }
        let header = output::check_header(buf)?;
        let want_v = if subsampling == Subsampling::S422 {
            1
        } else {
            2
        };
        if (header.width, header.height, header.h, header.v)
            != (layout.width, layout.height, 2, want_v)
        {
            return Err(Error::device(format!(
                "the JPEG header says {}x{} sampling {}x{}, not what was asked",
                header.width, header.height, header.h, header.v
            )));
        }
        self.rule = resolved.rule.or(known);
        Ok(0..resolved.len)
    }

    /// Waits for completion: poll(POLLIN) until the deadline, each wake-up confirmed with
    /// GET_STAGE (a readiness left over from an aborted job can wake us early). Sleeps in the
    /// kernel: a waiting caller uses no CPU.
    fn wait(&self, deadline: Instant) -> Result<()> {
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    "the encoder did not finish before the deadline",
                ));
            }
            let ms = (deadline - now).as_millis().clamp(1, i32::MAX as u128) as i32;
            let mut fds = [PollFd::new(self.file.as_fd(), PollFlags::POLLIN)];
            match nix::poll::poll(
                &mut fds,
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
            ) {
                Ok(0) | Err(Errno::EINTR) => continue,
                Ok(_) => {}
                Err(e) => return Err(device_error("poll", e)),
            }
            if self.stage()? == p::STAGE_DONE {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_info_is_validated() {
        let c1 = BufferInfo::from_words(&[0x1800000, 0, 0x13B3000, 0x1400000, 0x400000]).unwrap();
        assert_eq!(
            (c1.input, c1.bitstream),
            (0..0x13B3000, 0x1400000..0x1800000)
        );
        // The 8M level reports a 64 MiB bitstream buffer that runs 60 MiB past the block.
        let l8 = BufferInfo::from_words(&[0x2300000, 0, 0x1E7B000, 0x1F00000, 0x4000000]).unwrap();
        assert_eq!(l8.bitstream, 0x1F00000..0x2300000);
        for bad in [
            [0, 0, 1, 2, 3],
            [0x1000000, 0, 0x100, 0x2000000, 0x100000],
            [0x1000000, 0x800000, 0x100, 0x400000, 0x100000],
            [0x100000, 0, 0x1000, 0xFF000, 0x100000],
        ] {
            assert!(BufferInfo::from_words(&bad).is_err(), "{bad:x?}");
        }
    }
}
