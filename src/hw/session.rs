//! One open of the device: open, identify the driver generation, map, CONFIG_INIT, then encode
//! frames until an error makes the caller drop it (which unmaps, closes, and so powers the
//! block down).

use super::bound::max_scan_bytes;
use super::header;
use super::layout::{hardware_format, write_frame, InputLayout};
use super::output::{self, SizeRule};
use super::protocol::{self as p, e, fmt, j};
use crate::error::{Error, ErrorKind, Result};
use crate::format::{Frame, PixelFormat, Subsampling};
use crate::quant::{QuantTables, Quantisation};
use memmap2::{MmapOptions, MmapRaw};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use std::fs::File;
use std::ops::Range;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::Path;
use std::time::Instant;

/// The two incompatible drivers behind the same device name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    /// Meson8b / Odroid C1, 3.10 kernels: magic 'E'.
    E,
    /// GXBB / Odroid C2 and later: magic 'J'.
    J,
}

fn device_error(what: &str, errno: Errno) -> Error {
    Error::device(format!("{what} failed: {}", errno.desc()))
}

/// The device's buffer layout, validated: every area inside the map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BufferInfo {
    pub total: usize,
    pub input: Range<usize>,
    /// J: the assist buffer the driver writes the header into.
    pub header: Option<Range<usize>>,
    /// The bitstream buffer, as far as it lies inside the map.
    pub bitstream: Range<usize>,
    /// The bitstream size the driver reports, and programs as the hardware's output window:
    /// larger than `bitstream` when it runs past the reserved block (E levels 8M, 13M, HD).
    pub window: usize,
}

fn implausible(w: &[u32]) -> Error {
    Error::device(format!("implausible buffer layout {w:x?}"))
}

impl BufferInfo {
    /// E: `[total, input start, input size, bitstream start, bitstream size]`. The bitstream
    /// capacity is min(size, total − start): the 8M/HD levels report 64 MiB.
    pub fn from_e_words(w: &[u32]) -> Result<BufferInfo> {
        let [total, in_start, in_size, bs_start, bs_size] =
            [w[0], w[1], w[2], w[3], w[4]].map(|v| v as usize);
        Self::check(w, total, in_start, in_size, None, bs_start, bs_size)
    }

    /// J: `[total, input start, input size, assist start, assist size, bitstream start,
    /// bitstream size]`.
    pub fn from_j_words(w: &[u32]) -> Result<BufferInfo> {
        let [total, in_start, in_size, as_start, as_size, bs_start, bs_size] =
            [w[0], w[1], w[2], w[3], w[4], w[5], w[6]].map(|v| v as usize);
        if as_size < p::HEADER_LEN
            || as_start < in_start
            || as_start.saturating_add(as_size) > bs_start.min(total)
        {
            return Err(implausible(w));
        }
        Self::check(
            w,
            total,
            in_start,
            in_size.min(as_start - in_start),
            Some(as_start..as_start + as_size),
            bs_start,
            bs_size,
        )
    }

    fn check(
        w: &[u32],
        total: usize,
        in_start: usize,
        in_size: usize,
        header: Option<Range<usize>>,
        bs_start: usize,
        bs_size: usize,
    ) -> Result<BufferInfo> {
        if total == 0 || total > 1 << 30 {
            return Err(Error::device(format!(
                "implausible reserved size {total:#x}"
            )));
        }
        if in_start >= total || bs_start >= total || in_start >= bs_start || in_size == 0 {
            return Err(implausible(w));
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
            header,
            bitstream: bs_start..bs_start + bitstream_cap,
            window: bs_size,
        })
    }

    /// Whether the hardware's output window runs past the reserved block, so a long scan
    /// would be written into memory that is not the device's.
    pub fn window_overruns(&self) -> bool {
        self.window > self.bitstream.len()
    }
}

/// What the device is, for `amljpeg info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    pub generation: Generation,
    pub soc: String,
    pub max_width: u32,
    pub max_height: u32,
    pub buffers: BufferInfo,
}

/// E: the MFDIN size register holds the padded height in 12 bits (`(PW << 12) | PH`), so
/// padded heights of 4096 and more corrupt the width (spec §5.3, §10).
const E_MAX_HEIGHT: usize = 4080;

impl DeviceInfo {
    /// Bytes of entropy data (with EOI) the real bitstream buffer holds: E's header takes the
    /// first 592 bytes of it, J's lives elsewhere.
    pub fn scan_space(&self) -> usize {
        let header = match self.generation {
            Generation::E => p::HEADER_LEN,
            Generation::J => 0,
        };
        self.buffers.bitstream.len().saturating_sub(header)
    }

    /// Whether the driver may be given this frame without the hardware writing outside the
    /// device's memory: where its output window runs past the reserved block, only frames
    /// whose worst-case scan fits the real buffer go (see [`super::bound`]).
    pub fn check_output_fits(
        &self,
        width: usize,
        height: usize,
        subsampling: Subsampling,
        quant: &Quantisation,
    ) -> Result<()> {
        if !self.buffers.window_overruns() {
            return Ok(());
        }
        let worst = max_scan_bytes(width, height, subsampling, &quant.tables());
        if worst > self.scan_space() {
            return Err(Error::unsupported(format!(
                "a {width}x{height} frame can take up to {worst} bytes at these settings, but the \
                 device's real bitstream buffer holds {} (its driver programs a {}-byte output \
                 window that runs past the reserved memory, so larger frames stay off the device; \
                 a 24 MiB reservation avoids this)",
                self.scan_space(),
                self.buffers.window
            )));
        }
        Ok(())
    }
}

/// Where the last JPEG is.
enum Output {
    None,
    /// Contiguous in the map (absolute offsets).
    Mapped(Range<usize>),
    /// Assembled in our memory (J, when no gap precedes the bitstream buffer).
    Owned(Vec<u8>),
}

pub struct Session {
    // Field order is drop order: unmap before close, or the driver keeps the device open.
    map: MmapRaw,
    file: File,
    info: DeviceInfo,
    rule: Option<SizeRule>,
    output: Output,
    /// The E driver's external table as we last set it (None: cleared).
    ext_table: Option<QuantTables>,
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

/// The output format (4:2:0 or 4:2:2; the hardware makes no usable 4:4:4).
fn out_format(subsampling: Subsampling) -> u32 {
    if subsampling == Subsampling::S422 {
        fmt::YUV422_SINGLE
    } else {
        fmt::YUV420
    }
}

/// `$AML_JPEG_VERIFY=1`: decode every scan's Huffman codes before trusting it (by default
/// only short scans and those without EOI are, the rest get the cheap checks).
fn verify_all() -> bool {
    static VERIFY: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *VERIFY.get_or_init(|| std::env::var("AML_JPEG_VERIFY").is_ok_and(|v| v == "1"))
}

fn id_string(id: &[u8]) -> String {
    String::from_utf8_lossy(&id[..id.iter().position(|&b| b == 0).unwrap_or(16).min(16)])
        .into_owned()
}

impl Session {
    pub fn open(path: &Path) -> Result<Session> {
        // std opens with O_CLOEXEC: the descriptor never leaks into an exec'd program.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| open_error(path, e))?;
        let fd = file.as_raw_fd();
        let (generation, soc) = Self::identify(fd)?;
        let mut words = [0u32; p::SCRATCH_WORDS];
        let (buffers, max_w, max_h) = match generation {
            Generation::E => {
                // SAFETY: `words` is larger than the driver writes.
                unsafe { e::get_buffinfo(fd, &mut words) }
                    .map_err(|e| device_error("GET_BUFFINFO", e))?;
                let buffers = BufferInfo::from_e_words(&words)?;
                // The level's limits: asking for more than the maximum writes the maximum back
                // and changes nothing.
                let (mut w, mut h) = (u32::MAX, u32::MAX);
                // SAFETY: u32s we own, the size the driver reads and writes.
                unsafe { e::set_encoder_width(fd, &mut w).and(e::set_encoder_height(fd, &mut h)) }
                    .map_err(|e| device_error("SET_ENCODER_WIDTH/HEIGHT", e))?;
                (buffers, w, h)
            }
            Generation::J => {
                // SAFETY: as above.
                let r = unsafe { j::get_buffinfo(fd, &mut words) }
                    .map_err(|e| device_error("GET_BUFFINFO", e))?;
                if r != 0 {
                    return Err(Error::device("GET_BUFFINFO copied short"));
                }
                let buffers = BufferInfo::from_j_words(&words)?;
                // Every J level's input area is 3 × max²: the maximum side without private knowledge.
                let max = ((words[2] / 3) as f64).sqrt() as u32;
                (buffers, max, max)
            }
        };
        if [max_w, max_h].iter().any(|&m| m == u32::MAX || m < 16) {
            return Err(Error::device("the driver did not report its size limits"));
        }
        let map = MmapOptions::new()
            .len(buffers.total)
            .map_raw(&file)
            .map_err(|e| Error::device(format!("mmap of {} bytes failed: {e}", buffers.total)))?;
        match generation {
            Generation::E => {
                // SAFETY: CONFIG_INIT takes no argument.
                unsafe { e::config_init(fd) }.map_err(|e| device_error("CONFIG_INIT", e))?;
                // Quantisation from the Annex K base tables: with SET_QUALTIY they are libjpeg's.
                // SAFETY: an int we own.
                unsafe { e::sel_quant_table(fd, &1) }
                    .map_err(|e| device_error("SEL_QUANT_TABLE", e))?;
                // SAFETY: NULL clears the external table; the driver copies nothing.
                unsafe { e::set_ext_quant_table(fd, std::ptr::null()) }
                    .map_err(|e| device_error("SET_EXT_QUANT_TABLE", e))?;
            }
            Generation::J => {
                // SAFETY: CONFIG_INIT takes no argument.
                unsafe { j::config_init(fd) }.map_err(|e| device_error("CONFIG_INIT", e))?;
            }
        }
        let info = DeviceInfo {
            generation,
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
            output: Output::None,
            ext_table: None,
        })
    }

    /// Tells the generations apart without side effects: J's GET_DEVINFO first (E answers
    /// EPERM), then E's. Both write into a zeroed scratch larger than either writes.
    fn identify(fd: RawFd) -> Result<(Generation, String)> {
        let mut id = [0u8; 4 * p::SCRATCH_WORDS];
        // SAFETY: `id` is larger than either generation writes.
        let (generation, r) = match unsafe { j::get_devinfo(fd, &mut id) } {
            Ok(r) => (Generation::J, r),
            Err(Errno::EPERM) => {
                id.fill(0);
                // SAFETY: as above.
                let r = unsafe { e::get_devinfo(fd, &mut id) }
                    .map_err(|e| device_error("GET_DEVINFO", e))?;
                (Generation::E, r)
            }
            Err(e) => return Err(device_error("GET_DEVINFO", e)),
        };
        let soc = id_string(&id);
        if r != 0 || !soc.starts_with("AML-") {
            return Err(Error::new(
                ErrorKind::NoDevice,
                format!("not an Amlogic JPEG encoder (device says {soc:?})"),
            ));
        }
        Ok((generation, soc))
    }

    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// Whether the hardware can encode this frame (size within the level, a subsampling it
    /// produces).
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
        if self.info.generation == Generation::E && height > E_MAX_HEIGHT {
            return Err(Error::unsupported(format!(
                "a height of {height} overflows the E hardware's size register (at most {E_MAX_HEIGHT})"
            )));
        }
        Ok(())
    }

    /// The input area laid out for a frame of `format`.
    pub fn input_layout(
        &self,
        format: PixelFormat,
        width: usize,
        height: usize,
    ) -> Result<InputLayout> {
        let layout = InputLayout::new(hardware_format(format, self.info.generation), width, height);
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

    fn region(&mut self, r: Range<usize>) -> &mut [u8] {
        debug_assert!(r.end <= self.info.buffers.total);
        // SAFETY: every range passed here was validated against the map; called only after
        // the job completed.
        unsafe { std::slice::from_raw_parts_mut(self.map.as_mut_ptr().add(r.start), r.len()) }
    }

    /// The last JPEG (after a successful [`Session::encode`] or [`Session::run`]).
    pub fn output(&self) -> &[u8] {
        match &self.output {
            Output::None => &[],
            // SAFETY: the range was validated against the map.
            Output::Mapped(r) => unsafe {
                std::slice::from_raw_parts(self.map.as_ptr().add(r.start), r.len())
            },
            Output::Owned(v) => v,
        }
    }

    /// Lays out `frame` and encodes it.
    pub fn encode(
        &mut self,
        frame: &Frame<'_>,
        quant: &Quantisation,
        subsampling: Subsampling,
        deadline: Instant,
    ) -> Result<()> {
        self.supports(frame.width(), frame.height(), subsampling)?;
        self.supports_quantisation(quant)?;
        self.info
            .check_output_fits(frame.width(), frame.height(), subsampling, quant)?;
        let layout = self.input_layout(frame.format(), frame.width(), frame.height())?;
        write_frame(frame, &layout, self.input_area());
        self.run(&layout, quant, subsampling, deadline)
    }

    /// Whether the driver can quantise this way: custom tables need E's external table.
    pub fn supports_quantisation(&self, quant: &Quantisation) -> Result<()> {
        match (quant, self.info.generation) {
            (Quantisation::Custom(_), Generation::J) => Err(Error::unsupported(
                "this driver (J generation) takes no custom quantisation tables, only a quality",
            )),
            _ => Ok(()),
        }
    }

    /// Encodes what is in the input area, laid out as `layout`.
    pub fn run(
        &mut self,
        layout: &InputLayout,
        quant: &Quantisation,
        subsampling: Subsampling,
        deadline: Instant,
    ) -> Result<()> {
        self.output = Output::None;
        self.admit(layout, quant, subsampling)?;
        match self.info.generation {
            Generation::E => {
                self.start_e(layout, 0, quant, subsampling)?;
                self.finish_e(layout, quant, subsampling, deadline)?;
            }
            Generation::J => self.run_j(layout, quant, subsampling, deadline)?,
        }
        self.check_output(layout, quant, subsampling)
    }

    /// The last word before NEW_CMD: the driver trusts what it is given, so only frames the
    /// hardware can take, quantised a way the driver can, whose output surely stays inside
    /// the device's memory.
    fn admit(
        &self,
        layout: &InputLayout,
        quant: &Quantisation,
        subsampling: Subsampling,
    ) -> Result<()> {
        self.supports(layout.width, layout.height, subsampling)?;
        self.supports_quantisation(quant)?;
        self.info
            .check_output_fits(layout.width, layout.height, subsampling, quant)
    }

    /// Pipelining (E only): the spacing of two input slots for frames up to `extent` bytes,
    /// when two fit the input area. NEW_CMD's offset word points the hardware at either.
    pub fn slot_stride(&self, extent: usize) -> Option<usize> {
        let stride = extent.next_multiple_of(4096);
        (self.info.generation == Generation::E && 2 * stride <= self.info.buffers.input.len())
            .then_some(stride)
    }

    /// Input slot `slot` of `stride` bytes (see [`Session::slot_stride`]).
    pub fn input_slot(&mut self, slot: usize, stride: usize) -> &mut [u8] {
        &mut self.input_area()[slot * stride..(slot + 1) * stride]
    }

    /// Pipelining (E only): starts the frame laid out at `offset` in the input area and
    /// returns at once; [`Session::finish`] waits for it. Until then the CPU may write the
    /// other slot, but must not touch this one or the bitstream buffer.
    pub fn start(
        &mut self,
        layout: &InputLayout,
        offset: usize,
        quant: &Quantisation,
        subsampling: Subsampling,
    ) -> Result<()> {
        self.output = Output::None;
        if self.info.generation != Generation::E {
            return Err(Error::unsupported(
                "only the E driver takes an input offset",
            ));
        }
        self.admit(layout, quant, subsampling)?;
        self.start_e(layout, offset, quant, subsampling)
    }

    /// Waits for the frame [`Session::start`] started and checks its JPEG.
    pub fn finish(
        &mut self,
        layout: &InputLayout,
        quant: &Quantisation,
        subsampling: Subsampling,
        deadline: Instant,
    ) -> Result<()> {
        self.finish_e(layout, quant, subsampling, deadline)?;
        self.check_output(layout, quant, subsampling)
    }

    /// The cheap checks every JPEG gets: the header is the driver's, with the size, sampling
    /// and tables asked for.
    fn check_output(
        &mut self,
        layout: &InputLayout,
        quant: &Quantisation,
        subsampling: Subsampling,
    ) -> Result<()> {
        let jpeg = self.output();
        let header = output::check_header(jpeg)?;
        // The tables are driver globals and the E ones persist across opens: make sure the
        // JPEG carries the ones asked for.
        if !quant.tables().matches_zigzag(
            &jpeg[p::DQT_LUMA..p::DQT_LUMA + 64],
            &jpeg[p::DQT_CHROMA..p::DQT_CHROMA + 64],
        ) {
            self.output = Output::None;
            return Err(Error::device(
                "the JPEG's quantisation tables are not the ones asked for",
            ));
        }
        let want_v = if subsampling == Subsampling::S422 {
            1
        } else {
            2
        };
        if (header.width, header.height, header.h, header.v)
            != (layout.width, layout.height, 2, want_v)
        {
            self.output = Output::None;
            return Err(Error::device(format!(
                "the JPEG header says {}x{} sampling {}x{}, not what was asked",
                header.width, header.height, header.h, header.v
            )));
        }
        Ok(())
    }

    fn start_e(
        &mut self,
        layout: &InputLayout,
        offset: usize,
        quant: &Quantisation,
        subsampling: Subsampling,
    ) -> Result<()> {
        let end = offset.checked_add(layout.extent);
        if offset % 64 != 0 || end.is_none_or(|end| end > self.info.buffers.input.len()) {
            return Err(Error::new(
                ErrorKind::Internal,
                "an input slot outside the input area",
            ));
        }
        let fd = self.fd();
        let quality = self.set_e_tables(quant)?;
        // Width, height and quality are driver globals: set them for every frame and make sure
        // the size was taken (a refused size writes the maximum back).
        let (w, h) = (layout.width as u32, layout.height as u32);
        let (mut rw, mut rh) = (w, h);
        // SAFETY: u32s and an int we own.
        unsafe { e::set_encoder_width(fd, &mut rw).and(e::set_encoder_height(fd, &mut rh)) }
            .map_err(|e| device_error("SET_ENCODER_WIDTH/HEIGHT", e))?;
        if (rw, rh) != (w, h) {
            return Err(Error::device(format!(
                "the driver refused the size {w}x{h}"
            )));
        }
        // SAFETY: an int we own.
        unsafe { e::set_quality(fd, &(quality as i32)) }
            .map_err(|e| device_error("SET_QUALTIY", e))?;
        // need_flush with the whole extent: the driver cleans the cache over every byte the
        // hardware reads, padding included.
        let cmd: [u32; e::NEW_CMD_WORDS] = [
            p::LOCAL_BUFF,
            layout.format,
            out_format(subsampling),
            0,
            offset as u32,
            layout.extent as u32,
            1,
        ];
        // SAFETY: the driver reads exactly NEW_CMD_WORDS words.
        unsafe { e::new_cmd(fd, &cmd) }.map_err(|e| device_error("NEW_CMD", e))?;
        Ok(())
    }

    fn finish_e(
        &mut self,
        layout: &InputLayout,
        quant: &Quantisation,
        subsampling: Subsampling,
        deadline: Instant,
    ) -> Result<()> {
        let fd = self.fd();
        self.wait(deadline, true)?;
        let mut size = 0u32;
        // SAFETY: a u32 we own.
        unsafe { e::get_output_size(fd, &mut size) }
            .map_err(|e| device_error("GET_OUTPUT_SIZE", e))?;
        let bitstream = self.info.buffers.bitstream.clone();
        if size as usize + p::HEADER_LEN >= bitstream.len() {
            // Counted with or without the header, it does not fit.
            self.too_long(layout, quant, subsampling, size as usize)?;
        }
        // Invalidate the CPU's view of the header and data before reading them.
        let range = [
            1u32,
            0,
            (size as usize)
                .saturating_add(p::HEADER_LEN)
                .min(bitstream.len()) as u32,
        ];
        // SAFETY: FLUSH_DMA reads three words.
        unsafe { e::flush_dma(fd, &range) }.map_err(|e| device_error("FLUSH_DMA", e))?;
        let known = self.rule;
        let buf = self.region(bitstream.clone());
        let resolved = output::resolve(buf, size as usize, known, verify_all())?;
        if resolved.append_eoi {
            buf[resolved.len - 2..resolved.len].copy_from_slice(&[0xFF, 0xD9]);
            // The EOI sits in a cache line of the DMA buffer: clean it now, or the CPU's dirty
            // line could be written back over a later frame's output.
            let eoi = [1u32, (resolved.len - 2) as u32, resolved.len as u32];
            // SAFETY: FLUSH_CACHE reads three words.
            unsafe { e::flush_cache(fd, &eoi) }.map_err(|e| device_error("FLUSH_CACHE", e))?;
        }
        self.rule = resolved.rule.or(known);
        self.output = Output::Mapped(bitstream.start..bitstream.start + resolved.len);
        Ok(())
    }

    /// Points the E driver at the tables of `quant` and returns the quality to set: custom
    /// tables go in as the external base table at quality 50, which the driver scales by 100 %.
    /// The driver leaks its previous copy at every SET_EXT_QUANT_TABLE: set it only on change.
    fn set_e_tables(&mut self, quant: &Quantisation) -> Result<u8> {
        let (wanted, quality) = match quant {
            Quantisation::Quality(q) => (None, *q),
            Quantisation::Custom(t) => (Some(&**t), 50),
        };
        if self.ext_table.as_ref() != wanted {
            let words = wanted.map(QuantTables::words);
            let ptr = words.as_ref().map_or(std::ptr::null(), |w| w as *const _);
            // SAFETY: NULL, or 128 u16s we own: exactly what the driver copies.
            unsafe { e::set_ext_quant_table(self.fd(), ptr) }
                .map_err(|e| device_error("SET_EXT_QUANT_TABLE", e))?;
            self.ext_table = wanted.cloned();
        }
        Ok(quality)
    }

    fn run_j(
        &mut self,
        layout: &InputLayout,
        quant: &Quantisation,
        subsampling: Subsampling,
        deadline: Instant,
    ) -> Result<()> {
        let Quantisation::Quality(quality) = *quant else {
            unreachable!("checked by supports_quantisation")
        };
        let fd = self.fd();
        // Size, quality (with the Annex K table set, so the tables are libjpeg's) and the
        // input flush all travel in the command; the rest of the 30 words stay zero.
        let mut cmd = [0u32; j::NEW_CMD_WORDS];
        cmd[..10].copy_from_slice(&[
            p::LOCAL_BUFF,
            layout.format,
            out_format(subsampling),
            layout.width as u32,
            layout.height as u32,
            layout.extent as u32,
            0,
            quality as u32,
            1,
            1,
        ]);
        // SAFETY: the driver copies exactly NEW_CMD_WORDS words.
        unsafe { j::new_cmd(fd, &cmd) }.map_err(|e| device_error("NEW_CMD", e))?;
        // GET_STAGE is sticky at 4 on J: completion is known only through poll.
        self.wait(deadline, false)?;
        let mut sizes = [0u32; 2];
        // SAFETY: the driver writes two words (and invalidates the output's cache lines).
        let r = unsafe { j::get_output_size(fd, &mut sizes) }
            .map_err(|e| device_error("GET_OUTPUT_SIZE", e))?;
        if r != 0 {
            return Err(Error::device("GET_OUTPUT_SIZE copied short"));
        }
        // The header is ours, not read back: the CPU may hold a stale copy of the assist
        // buffer (no ioctl invalidates it), and its bytes follow from what we asked.
        let header = header::build(
            layout.width as u16,
            layout.height as u16,
            subsampling,
            &quant.tables(),
        );
        let buffers = self.info.buffers.clone();
        if sizes[1] as usize + 2 > buffers.bitstream.len() {
            self.too_long(layout, quant, subsampling, sizes[1] as usize)?;
        }
        let bitstream = self.region(buffers.bitstream.clone());
        let resolved = output::resolve_scan(
            &header,
            bitstream,
            sizes[0] as usize,
            sizes[1] as usize,
            verify_all(),
        )?;
        // One contiguous JPEG without copying the scan: the header goes into the unused gap
        // just before the bitstream buffer, which the hardware never writes. A missing EOI
        // cannot be added in place: J has no ioctl to clean the CPU's line in the DMA buffer.
        let start = buffers.bitstream.start;
        let used_before = buffers
            .input
            .end
            .max(buffers.header.as_ref().map_or(0, |h| h.end));
        if start >= used_before + p::HEADER_LEN && !resolved.append_eoi {
            self.region(start - p::HEADER_LEN..start)
                .copy_from_slice(&header);
            self.output = Output::Mapped(start - p::HEADER_LEN..start + resolved.len);
        } else {
            let scan_len = resolved.len - 2 * resolved.append_eoi as usize;
            let mut jpeg = header;
            jpeg.extend_from_slice(&self.region(buffers.bitstream.clone())[..scan_len]);
            if resolved.append_eoi {
                jpeg.extend_from_slice(&[0xFF, 0xD9]);
            }
            self.output = Output::Owned(jpeg);
        }
        Ok(())
    }

    /// A JPEG longer than the bitstream buffer: the frame is more than this device can hold
    /// (unsupported: AUTO uses software, the device is fine) when its scan can be that long,
    /// else the device reported nonsense (the caller's check then fails it as a device error).
    fn too_long(
        &self,
        layout: &InputLayout,
        quant: &Quantisation,
        subsampling: Subsampling,
        size: usize,
    ) -> Result<()> {
        let worst = max_scan_bytes(layout.width, layout.height, subsampling, &quant.tables());
        if size <= worst + p::HEADER_LEN {
            return Err(Error::unsupported(format!(
                "the JPEG of this {}x{} frame ({size} bytes) does not fit the device's {}-byte \
                 bitstream buffer: lower the quality, or encode it in software",
                layout.width,
                layout.height,
                self.info.buffers.bitstream.len()
            )));
        }
        Ok(())
    }

    /// Waits for completion: poll(POLLIN) until the deadline (a waiting caller sleeps in the
    /// kernel and uses no CPU). On E each wake-up is confirmed with GET_STAGE (a readiness left
    /// over from an aborted job can wake us early); J's stage is sticky, so poll alone counts.
    fn wait(&self, deadline: Instant, confirm_stage: bool) -> Result<()> {
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
            if !confirm_stage {
                return Ok(());
            }
            let mut stage = 0;
            // SAFETY: a u32 we own.
            unsafe { e::get_stage(self.fd(), &mut stage) }
                .map_err(|e| device_error("GET_STAGE", e))?;
            if stage == e::STAGE_DONE {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e_buffer_info_is_validated() {
        let c1 = BufferInfo::from_e_words(&[0x1800000, 0, 0x13B3000, 0x1400000, 0x400000]).unwrap();
        assert_eq!(
            (c1.input, c1.bitstream),
            (0..0x13B3000, 0x1400000..0x1800000)
        );
        // The 8M level reports a 64 MiB bitstream buffer that runs 60 MiB past the block.
        let l8 =
            BufferInfo::from_e_words(&[0x2300000, 0, 0x1E7B000, 0x1F00000, 0x4000000]).unwrap();
        assert_eq!(l8.bitstream, 0x1F00000..0x2300000);
        for bad in [
            [0, 0, 1, 2, 3],
            [0x1000000, 0, 0x100, 0x2000000, 0x100000],
            [0x1000000, 0x800000, 0x100, 0x400000, 0x100000],
            [0x100000, 0, 0x1000, 0xFF000, 0x100000],
        ] {
            assert!(BufferInfo::from_e_words(&bad).is_err(), "{bad:x?}");
        }
    }

    #[test]
    fn j_buffer_info_is_validated() {
        let c2 = BufferInfo::from_j_words(&[
            0x1800000, 0, 0x13B3000, 0x13B4000, 0x2000, 0x1400000, 0x400000,
        ])
        .unwrap();
        assert_eq!(
            (c2.input, c2.header, c2.bitstream),
            (
                0..0x13B3000,
                Some(0x13B4000..0x13B6000),
                0x1400000..0x1800000
            )
        );
        // An assist buffer overlapping the bitstream, or too small for the header: refused.
        assert!(BufferInfo::from_j_words(&[
            0x1800000, 0, 0x13B3000, 0x13FF000, 0x2000, 0x1400000, 0x400000
        ])
        .is_err());
        assert!(BufferInfo::from_j_words(&[
            0x1800000, 0, 0x13B3000, 0x13B4000, 0x100, 0x1400000, 0x400000
        ])
        .is_err());
    }
}
