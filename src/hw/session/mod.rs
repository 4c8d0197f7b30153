//! One open of the device: open, identify the driver generation, map, CONFIG_INIT, then encode
//! frames until an error makes the caller drop it (which unmaps, closes, and so powers the
//! block down). What differs between the generations lives in [`e`] and [`j`]. Every JPEG
//! handed out starts with the caller's header (libjpeg-turbo's, see [`header::file_header`]),
//! put in front of the scan in the device's memory when a gap there holds it.

mod dma;
mod e;
mod j;

use super::bound::max_scan_bytes;
use super::buffers::DeviceInfo;
use super::geometry::{hardware_format, native_format, pad_in_place, write_frame, Geometry};
use super::header;
use super::output::SizeRule;
use super::protocol::{self as p, fmt, Generation};
use crate::error::{Error, ErrorKind, Result};
use crate::format::{Frame, PixelFormat, Subsampling};
use crate::quant::{QuantTables, Quantisation};
use memmap2::{MmapOptions, MmapRaw};
use nix::errno::Errno;
use std::fs::File;
use std::ops::Range;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::time::Instant;

fn device_error(what: &str, errno: Errno) -> Error {
    Error::device(format!("{what} failed: {}", errno.desc()))
}

/// How a handle's frames are coded: quantisation, subsampling, and the caller's APPn/COM
/// segments that follow the JFIF APP0 of each JPEG.
#[derive(Clone, Copy)]
pub struct Coding<'a> {
    pub quant: &'a Quantisation,
    pub subsampling: Subsampling,
    pub segments: &'a [u8],
}

/// One frame's job: its input geometry and how it is coded.
#[derive(Clone, Copy)]
pub struct Job<'a> {
    pub geometry: &'a Geometry,
    pub coding: Coding<'a>,
}

impl Job<'_> {
    /// The output format (4:2:0 or 4:2:2; the hardware makes no usable 4:4:4).
    fn out_format(&self) -> u32 {
        if self.coding.subsampling == Subsampling::S422 {
            fmt::YUV422_SINGLE
        } else {
            fmt::YUV420
        }
    }
}

/// Where the driver left a frame's scan: absolute offsets in the map, EOI included unless
/// `append_eoi` (J: it cannot be written in place).
struct Scan {
    range: Range<usize>,
    append_eoi: bool,
}

/// Where a caller writes a frame itself (zero-copy input): each plane's start, bytes per row
/// and rows; planes past the format's are null with zero stride and rows.
#[derive(Debug, Clone, Copy)]
pub struct LentPlanes {
    pub planes: [*mut u8; 3],
    pub strides: [usize; 3],
    pub rows: [usize; 3],
}

/// Where the last JPEG is.
enum Output {
    None,
    /// Contiguous in the map (absolute offsets).
    Mapped(Range<usize>),
    /// Assembled in our memory (when no gap before the scan holds the header, or J's EOI is
    /// added).
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
    /// The frame a caller is writing into the input area (zero-copy input).
    lent: Option<(PixelFormat, Geometry)>,
    /// Bytes of JPEG copied out of the device's memory (see [`Session::copied_bytes`]).
    copied: u64,
}

/// What a failed open means on these boards, in the words of docs/boards.md.
fn open_error(path: &Path, e: std::io::Error) -> Error {
    let (kind, why) = match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENXIO) | Some(libc::ENODEV) => (
            ErrorKind::NoDevice,
            "no JPEG encoder node: its driver is not loaded, or its device-tree node is missing \
             or disabled"
                .to_string(),
        ),
        Some(libc::EACCES) | Some(libc::EPERM) => {
            let group = owning_group(path).unwrap_or_else(|| "jpegenc".into());
            (
                ErrorKind::PermissionDenied,
                format!("join the group {group}: sudo adduser $USER {group}, then log in again"),
            )
        }
        Some(libc::EBUSY) => (
            ErrorKind::Busy,
            "another process has it open, or the H.264 encoder is running".to_string(),
        ),
        Some(libc::ENOMEM) => (
            ErrorKind::Device,
            "the driver could not allocate its buffer: not enough CMA / codec memory".to_string(),
        ),
        _ => (
            ErrorKind::Device,
            "not a device this library can use".to_string(),
        ),
    };
    Error::new(kind, format!("cannot open {}: {e} ({why})", path.display()))
}

/// The group that owns the node, when it is not root's.
fn owning_group(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let gid = std::fs::metadata(path).ok()?.gid();
    (gid != 0)
        .then(|| nix::unistd::Group::from_gid(gid.into()).ok().flatten())
        .flatten()
        .map(|g| g.name)
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
        let (generation, soc) = identify(file.as_fd())?;
        let (buffers, max_width, max_height) = match generation {
            Generation::E => e::limits(file.as_fd())?,
            Generation::J => j::limits(file.as_fd())?,
        };
        let media_modules = match generation {
            Generation::E => None,
            Generation::J => j::media_modules(file.as_fd())?,
        };
        if [max_width, max_height]
            .iter()
            .any(|&m| m == u32::MAX || m < 16)
        {
            return Err(Error::device("the driver did not report its size limits"));
        }
        let map = MmapOptions::new()
            .len(buffers.total)
            .map_raw(&file)
            .map_err(|e| Error::device(format!("mmap of {} bytes failed: {e}", buffers.total)))?;
        match generation {
            Generation::E => e::init(file.as_fd())?,
            Generation::J => {
                p::j::config_init(file.as_fd()).map_err(|e| device_error("CONFIG_INIT", e))?
            }
        }
        Ok(Session {
            map,
            file,
            info: DeviceInfo {
                generation,
                soc,
                max_width,
                max_height,
                buffers,
                media_modules,
            },
            rule: None,
            output: Output::None,
            ext_table: None,
            lent: None,
            copied: 0,
        })
    }

    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }

    /// Whether the hardware can encode this frame (size within the level, a subsampling it
    /// produces).
    pub fn supports(&self, width: usize, height: usize, subsampling: Subsampling) -> Result<()> {
        self.info.supports(width, height, subsampling)
    }

    /// The input area laid out for a frame of `format`.
    pub fn input_geometry(
        &self,
        format: PixelFormat,
        width: usize,
        height: usize,
    ) -> Result<Geometry> {
        let geometry = Geometry::new(hardware_format(format, self.info.generation), width, height);
        if geometry.extent > self.info.buffers.input.len() {
            return Err(Error::unsupported(format!(
                "a {width}x{height} frame does not fit the device's input area"
            )));
        }
        Ok(geometry)
    }

    /// The input area as a mutable slice.
    pub fn input_area(&mut self) -> &mut [u8] {
        let r = self.info.buffers.input.clone();
        self.region(r)
    }

    fn region(&mut self, r: Range<usize>) -> &mut [u8] {
        assert!(r.start <= r.end && r.end <= self.info.buffers.total);
        // SAFETY: the range lies inside our mapping (asserted); `&mut self` makes this the
        // only CPU-side view while it lives, and the hardware does not run between jobs.
        unsafe { std::slice::from_raw_parts_mut(self.map.as_mut_ptr().add(r.start), r.len()) }
    }

    /// Bytes of JPEG this session copied into its own memory, because no gap before the scan
    /// held the header (or J's missing EOI had to be added): zero on every level but E's HD
    /// and very long marker segments. For tests and benchmarks.
    #[cfg_attr(not(feature = "internals"), allow(dead_code))]
    pub fn copied_bytes(&self) -> u64 {
        self.copied
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

    /// Lends the input area for a `width`×`height` frame of `format` written in place: only
    /// formats the device takes as they are (NV12, NV21, I420 on E, YUYV).
    pub fn lend_input(
        &mut self,
        format: PixelFormat,
        width: usize,
        height: usize,
        subsampling: Subsampling,
    ) -> Result<LentPlanes> {
        let native = native_format(format).ok_or_else(|| {
            Error::unsupported(format!(
                "zero-copy input takes NV12, NV21, I420 or YUYV, not {}",
                format.name()
            ))
        })?;
        self.supports(width, height, subsampling)?;
        let geometry = self.input_geometry(format, width, height)?;
        if geometry.format != native {
            return Err(Error::unsupported(format!(
                "this device does not take {} as it is (it is converted on the way in): no zero-copy input",
                format.name()
            )));
        }
        let area = self.input_area().as_mut_ptr();
        let table = geometry.planes(format);
        self.lent = Some((format, geometry));
        Ok(LentPlanes {
            planes: table.map(|(offset, _, rows)| {
                if rows == 0 {
                    std::ptr::null_mut()
                } else {
                    area.wrapping_add(offset)
                }
            }),
            strides: table.map(|(_, stride, _)| stride),
            rows: table.map(|(_, _, rows)| rows),
        })
    }

    /// The size of the frame lent with [`Session::lend_input`], if one is.
    pub fn lent_size(&self) -> Option<(usize, usize)> {
        self.lent.as_ref().map(|(_, l)| (l.width, l.height))
    }

    /// Encodes the frame written in place after [`Session::lend_input`]: its padding is filled
    /// by edge replication first.
    pub fn encode_lent(&mut self, coding: Coding<'_>, deadline: Instant) -> Result<()> {
        let (format, geometry) = self
            .lent
            .take()
            .ok_or_else(|| Error::invalid("no input buffer was taken"))?;
        pad_in_place(format, &geometry, self.input_area());
        self.run(
            Job {
                geometry: &geometry,
                coding,
            },
            deadline,
        )
    }

    /// Lays out `frame` and encodes it.
    pub fn encode(
        &mut self,
        frame: &Frame<'_>,
        coding: Coding<'_>,
        deadline: Instant,
    ) -> Result<()> {
        // Refused before the input area is touched.
        self.admit(
            frame.width(),
            frame.height(),
            coding.quant,
            coding.subsampling,
        )?;
        let geometry = self.input_geometry(frame.format(), frame.width(), frame.height())?;
        let job = Job {
            geometry: &geometry,
            coding,
        };
        self.lent = None;
        write_frame(frame, &geometry, self.input_area());
        self.execute(job, deadline)
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

    /// Encodes what is in the input area, laid out as the job's geometry.
    pub fn run(&mut self, job: Job<'_>, deadline: Instant) -> Result<()> {
        self.admit_job(job)?;
        self.execute(job, deadline)
    }

    /// [`Session::run`] for a job already admitted.
    fn execute(&mut self, job: Job<'_>, deadline: Instant) -> Result<()> {
        self.output = Output::None;
        let scan = match self.info.generation {
            Generation::E => {
                self.start_e(job, 0)?;
                self.finish_e(job, deadline)?
            }
            Generation::J => self.run_j(job, j::Input::Local, deadline)?,
        };
        self.assemble(job, scan)
    }

    /// The last word before NEW_CMD: the driver trusts what it is given, so only frames the
    /// hardware can take, quantised a way the driver can, whose output surely stays inside
    /// the device's memory.
    pub fn admit(
        &self,
        width: usize,
        height: usize,
        quant: &Quantisation,
        subsampling: Subsampling,
    ) -> Result<()> {
        self.supports(width, height, subsampling)?;
        self.supports_quantisation(quant)?;
        self.info
            .check_output_fits(width, height, subsampling, quant)
    }

    /// [`Session::admit`] for a job's frame.
    fn admit_job(&self, job: Job<'_>) -> Result<()> {
        let Job { geometry, coding } = job;
        self.admit(
            geometry.width,
            geometry.height,
            coding.quant,
            coding.subsampling,
        )
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
    pub fn start(&mut self, job: Job<'_>, offset: usize) -> Result<()> {
        self.output = Output::None;
        if self.info.generation != Generation::E {
            return Err(Error::unsupported(
                "only the E driver takes an input offset",
            ));
        }
        self.admit_job(job)?;
        self.lent = None;
        self.start_e(job, offset)
    }

    /// Waits for the frame [`Session::start`] started and checks its JPEG.
    pub fn finish(&mut self, job: Job<'_>, deadline: Instant) -> Result<()> {
        let scan = self.finish_e(job, deadline)?;
        self.assemble(job, scan)
    }

    /// Puts the caller's header in front of the scan: in the device's memory when the gap
    /// before the scan holds it (the space after the input area and J's assist buffer, and on
    /// E the driver's own header, whose cache lines are cleaned after), else by copying.
    fn assemble(&mut self, job: Job<'_>, scan: Scan) -> Result<()> {
        let Job { geometry, coding } = job;
        let head = header::file_header(
            geometry.width as u16,
            geometry.height as u16,
            coding.subsampling,
            &coding.quant.tables(),
            coding.segments,
        );
        let buffers = &self.info.buffers;
        let bitstream_start = buffers.bitstream.start;
        let gap_start = buffers
            .input
            .end
            .max(buffers.header.as_ref().map_or(0, |h| h.end));
        let at = scan.range.start.checked_sub(head.len());
        match at {
            Some(at) if at >= gap_start && !scan.append_eoi => {
                self.region(at..scan.range.start).copy_from_slice(&head);
                if scan.range.start > bitstream_start {
                    // E: the driver's header lay there; what the CPU wrote over it sits in
                    // dirty lines of the DMA buffer until cleaned (docs/driver.md §7).
                    let end = (scan.range.start - bitstream_start) as u32;
                    p::e::flush_cache(self.fd(), p::e::Buffer::Bitstream, 0, end)
                        .map_err(|e| device_error("FLUSH_CACHE", e))?;
                }
                self.output = Output::Mapped(at..scan.range.end);
            }
            _ => {
                let eoi: &[u8] = if scan.append_eoi { &[0xFF, 0xD9] } else { &[] };
                let mut jpeg = Vec::new();
                jpeg.try_reserve_exact(head.len() + scan.range.len() + eoi.len())
                    .map_err(|_| {
                        Error::new(ErrorKind::OutOfMemory, "cannot allocate the JPEG's copy")
                    })?;
                jpeg.extend_from_slice(&head);
                jpeg.extend_from_slice(self.region(scan.range));
                jpeg.extend_from_slice(eoi);
                self.copied += jpeg.len() as u64;
                self.output = Output::Owned(jpeg);
            }
        }
        Ok(())
    }

    /// A JPEG longer than the bitstream buffer: the frame is more than this device can hold
    /// (unsupported: AUTO uses software, the device is fine) when its scan can be that long,
    /// else the device reported nonsense (the caller's check then fails it as a device error).
    fn too_long(&self, job: Job<'_>, size: usize) -> Result<()> {
        let (w, h) = (job.geometry.width, job.geometry.height);
        let worst = max_scan_bytes(w, h, job.coding.subsampling, &job.coding.quant.tables());
        if size <= worst + p::HEADER_LEN {
            return Err(Error::unsupported(format!(
                "the JPEG of this {w}x{h} frame ({size} bytes) does not fit the device's {}-byte \
                 bitstream buffer: lower the quality, or encode it in software",
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
            if !p::poll_ready(self.fd(), ms).map_err(|e| device_error("poll", e))? {
                continue;
            }
            if !confirm_stage {
                return Ok(());
            }
            let stage = p::e::get_stage(self.fd()).map_err(|e| device_error("GET_STAGE", e))?;
            if stage == p::e::STAGE_DONE {
                return Ok(());
            }
        }
    }
}

/// Tells the generations apart without side effects: J's GET_DEVINFO first (E answers
/// EPERM), then E's.
fn identify(fd: BorrowedFd<'_>) -> Result<(Generation, String)> {
    let silent = |e: Errno| {
        Error::device(format!(
            "GET_DEVINFO failed: {} (the node answers no request of the Amlogic JPEG \
             encoder's: a node of another driver?)",
            e.desc()
        ))
    };
    let (generation, id) = match p::j::get_devinfo(fd) {
        Ok(id) => (Generation::J, id),
        Err(Errno::EPERM) => (Generation::E, p::e::get_devinfo(fd).map_err(silent)?),
        Err(e) => return Err(silent(e)),
    };
    let soc = id_string(&id);
    if !soc.starts_with("AML-") {
        return Err(Error::new(
            ErrorKind::NoDevice,
            format!(
                "not an Amlogic JPEG encoder, or a driver generation this library does not \
                 know (device says {soc:?})"
            ),
        ));
    }
    Ok((generation, soc))
}
