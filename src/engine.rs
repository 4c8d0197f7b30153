//! The public engine: one [`Encoder`] per handle, choosing a backend per frame, falling back,
//! recovering the device, and owning the buffer the last JPEG lives in.

use crate::error::{Error, ErrorKind, Result};
use crate::format::{Frame, PixelFormat, Subsampling};
use crate::hw::buffers::DeviceInfo;
use crate::hw::{self, Lease, SharedDevice};
use crate::quant::{QuantTables, Quantisation};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[cfg(feature = "software")]
use crate::software::{self, SoftwareEncoder};

/// The device node used when neither the caller nor `$AML_JPEG_DEVICE` names one.
pub const DEFAULT_DEVICE: &str = "/dev/jpegenc";
/// How long AUTO waits for the device while another handle of this process uses it.
const AUTO_LOCK_WAIT: Duration = Duration::from_millis(100);
/// The hardware has no published minimum size; AUTO keeps tiny frames in software.
const AUTO_MIN_SIDE: usize = 16;

c_enum! {
    /// Which backend a handle may use (`AML_JPEG_BACKEND_*`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum BackendChoice {
        /// The hardware when it can do the job, otherwise software, transparently.
        Auto = crate::abi::AML_JPEG_BACKEND_AUTO,
        /// Only the hardware; never falls back.
        Hardware = crate::abi::AML_JPEG_BACKEND_HARDWARE,
        /// Only software.
        Software = crate::abi::AML_JPEG_BACKEND_SOFTWARE,
    }
}

/// The backend that produced a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Hardware,
    Software,
}

/// Resolves the device path: the caller's, else `$AML_JPEG_DEVICE`, else `/dev/jpegenc`.
pub fn resolve_device(device: Option<&Path>) -> PathBuf {
    match device {
        Some(path) => path.to_path_buf(),
        None => std::env::var_os("AML_JPEG_DEVICE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DEVICE)),
    }
}

fn check_quality(quality: i32) -> Result<u8> {
    if (1..=100).contains(&quality) {
        Ok(quality as u8)
    } else {
        Err(Error::invalid(format!(
            "quality {quality} is outside 1..=100"
        )))
    }
}

/// The default time a frame may take on the device: generous against the hardware's ~150
/// megapixels per second, overridable with `$AML_JPEG_TIMEOUT_MS`.
fn default_timeout(pixels: usize) -> Duration {
    if let Some(ms) = std::env::var("AML_JPEG_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        return Duration::from_millis(ms);
    }
    Duration::from_millis(200) + Duration::from_secs_f64(pixels as f64 / 10e6)
}

/// Where the caller writes a frame straight into the device's input area.
pub use crate::hw::session::LentPlanes as InputBuffer;

/// An encoder handle: settings, backends and where the last JPEG lives.
pub struct Encoder {
    /// A number for messages ("handle #3 holds the device").
    id: u64,
    choice: BackendChoice,
    device: PathBuf,
    subsampling: Subsampling,
    timeout: Option<Duration>,
    /// The longest HARDWARE waits for a busy device (None: the frame's timeout).
    busy_wait: Option<Duration>,
    /// Caller's tables; `quality` is ignored while they are set.
    tables: Option<QuantTables>,
    #[cfg(feature = "software")]
    software: Option<SoftwareEncoder>,
    /// Software output; its JPEG is `output[..output_len]`.
    output: Vec<u8>,
    output_len: usize,
    hardware: Option<SharedDevice>,
    /// The device, held while the caller's JPEG is in its bitstream buffer (or while the
    /// caller writes a frame into its input area).
    lease: Option<Lease>,
    /// The device's input area is lent to the caller (zero-copy input), with the lease.
    pending_input: bool,
    last_backend: Option<Backend>,
}

impl Encoder {
    /// Opens an encoder. With [`BackendChoice::Hardware`] this fails unless the device exists
    /// and is a supported JPEG encoder (it may be busy: frames then wait for it).
    pub fn open(device: Option<&Path>, choice: BackendChoice) -> Result<Self> {
        let device = resolve_device(device);
        if choice == BackendChoice::Software && !cfg!(feature = "software") {
            return Err(Error::unsupported(
                "this build of amljpeg has no software backend",
            ));
        }
        let hardware = (choice != BackendChoice::Software).then(|| hw::shared(&device));
        if let (BackendChoice::Hardware, Some(shared)) = (choice, &hardware) {
            // The device must exist and be an encoder; busy (another handle or process has
            // it) is fine: frames wait for it. Never waits for another handle's lease.
            match shared.info() {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::Busy => {}
                Err(e) => return Err(e),
            }
        }
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Ok(Encoder {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            choice,
            device,
            subsampling: Subsampling::default(),
            timeout: None,
            busy_wait: None,
            tables: None,
            #[cfg(feature = "software")]
            software: None,
            output: Vec::new(),
            output_len: 0,
            hardware,
            lease: None,
            pending_input: false,
            last_backend: None,
        })
    }

    pub fn backend_choice(&self) -> BackendChoice {
        self.choice
    }

    pub fn device(&self) -> &Path {
        &self.device
    }

    pub fn subsampling(&self) -> Subsampling {
        self.subsampling
    }

    pub fn set_subsampling(&mut self, subsampling: Subsampling) {
        self.subsampling = subsampling;
    }

    /// The longest a frame may take on the device (None: derived from its size).
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    /// How long HARDWARE waits for a device another handle or process is using (None: as
    /// long as the frame's timeout allows). AUTO never waits long: it falls back.
    pub fn set_busy_wait(&mut self, wait: Option<Duration>) {
        self.busy_wait = wait;
    }

    /// Quantises with these tables from the next frame on (None: by quality again). Tables that
    /// no quality reproduces need the E generation's hardware; other backends refuse them.
    pub fn set_quant_tables(&mut self, tables: Option<QuantTables>) {
        self.tables = tables;
    }

    /// How the next frame at `quality` is quantised.
    fn quantisation(&self, quality: i32) -> Result<Quantisation> {
        Ok(Quantisation::new(
            check_quality(quality)?,
            self.tables.as_ref(),
        ))
    }

    /// The backend that produced the last successful frame.
    pub fn last_backend(&self) -> Option<Backend> {
        self.last_backend
    }

    /// Gives the device back: the JPEG returned by the last hardware encode is invalid from here.
    pub fn release(&mut self) {
        self.lease = None;
        self.pending_input = false;
    }

    /// What the device is, opening it if needed (None for software handles). Never waits for
    /// a handle holding the device, this one's included.
    pub fn device_info(&self) -> Result<Option<DeviceInfo>> {
        match &self.hardware {
            Some(shared) => shared.info().map(Some),
            None => Ok(None),
        }
    }

    /// The largest JPEG this handle can produce for a `width`×`height` frame.
    pub fn max_output_size(&self, width: usize, height: usize) -> Result<usize> {
        let software = self.software_bound(width, height);
        let hardware = self
            .hardware
            .as_ref()
            .and_then(|d| d.known())
            .map(|info| info.buffers.bitstream.len());
        match (software, hardware) {
            (Ok(s), Some(h)) => Ok(s.max(h)),
            (Ok(s), None) => Ok(s),
            (Err(_), Some(h)) => Ok(h),
            (Err(e), None) => Err(e),
        }
    }

    fn deadline(&self, pixels: usize) -> Instant {
        Instant::now() + self.timeout.unwrap_or_else(|| default_timeout(pixels))
    }

    /// Whether AUTO should try the hardware for this frame at all: not for what the device
    /// cannot do (as far as its last known description tells) and not while it is backing
    /// off after failures.
    fn auto_wants_hardware(&self, width: usize, height: usize, quant: &Quantisation) -> bool {
        let Some(shared) = self.hardware.as_ref() else {
            return false;
        };
        let device_can = shared.known().is_none_or(|info| {
            info.check_output_fits(width, height, self.subsampling, quant)
                .is_ok()
                && width <= info.max_width as usize
                && height <= info.max_height as usize
        });
        self.choice == BackendChoice::Auto
            && self.subsampling != Subsampling::S444
            && width >= AUTO_MIN_SIDE
            && height >= AUTO_MIN_SIDE
            && device_can
            && !shared.backing_off()
    }

    /// Encodes a frame; the JPEG borrows the handle until its next use (see [`Encoder::release`]).
    pub fn encode(&mut self, frame: &Frame<'_>, quality: i32) -> Result<&[u8]> {
        self.release();
        let quant = self.quantisation(quality)?;
        let hardware = match self.choice {
            BackendChoice::Software => false,
            BackendChoice::Hardware => true,
            BackendChoice::Auto => self.auto_wants_hardware(frame.width(), frame.height(), &quant),
        };
        if hardware {
            match self.encode_hardware(frame, &quant) {
                Ok(()) => return Ok(self.jpeg()),
                Err(e) if self.choice == BackendChoice::Hardware => return Err(e),
                Err(_) => {} // AUTO: software below.
            }
        }
        self.encode_software_owned(frame, &quant)?;
        Ok(self.jpeg())
    }

    /// Encodes a frame into the caller's buffer and returns the JPEG's length.
    pub fn encode_into(
        &mut self,
        frame: &Frame<'_>,
        quality: i32,
        dst: &mut [u8],
    ) -> Result<usize> {
        self.release();
        let quant = self.quantisation(quality)?;
        // Software straight into dst when it surely fits.
        if self.choice == BackendChoice::Software
            && dst.len() >= self.software_bound(frame.width(), frame.height())?
        {
            let len = self.encode_software(frame, &quant, dst)?;
            self.last_backend = Some(Backend::Software);
            return Ok(len);
        }
        let jpeg = self.encode(frame, quality)?;
        let len = jpeg.len();
        let fits = len <= dst.len();
        if fits {
            dst[..len].copy_from_slice(jpeg);
        }
        self.release();
        if !fits {
            return Err(Error::new(
                ErrorKind::BufferTooSmall,
                format!("the JPEG is {len} bytes but the buffer holds {}", dst.len()),
            ));
        }
        Ok(len)
    }

    /// The last JPEG: in the device's buffer while leased, else in ours.
    fn jpeg(&self) -> &[u8] {
        match &self.lease {
            Some(lease) => lease
                .current()
                .expect("a lease holds an open session")
                .output(),
            None => &self.output[..self.output_len],
        }
    }

    /// Takes the device for this handle: waits for other handles of this process, opens it if
    /// needed (HARDWARE waits for other processes too; AUTO does not).
    fn take_device(&self, deadline: Instant) -> Result<Lease> {
        let shared = self.hardware.as_ref().ok_or_else(|| {
            Error::new(ErrorKind::NoDevice, "this handle has no hardware backend")
        })?;
        let now = Instant::now();
        let wait_until = match (self.choice, self.busy_wait) {
            (BackendChoice::Auto, _) => now + AUTO_LOCK_WAIT,
            (_, Some(busy)) => deadline.min(now + busy),
            (_, None) => deadline,
        };
        let wait = wait_until.saturating_duration_since(now);
        let mut lease = shared.lease(wait, self.id)?;
        let wait_until = (self.choice == BackendChoice::Hardware).then_some(wait_until);
        match lease.session(wait_until) {
            Ok(_) => Ok(lease),
            Err(e) => {
                if !matches!(e.kind(), ErrorKind::Busy | ErrorKind::PermissionDenied) {
                    lease.failed();
                }
                Err(e)
            }
        }
    }

    /// One frame on the device. A failed job resets the session; AUTO retries once on a
    /// fresh one before giving up (and falling back).
    fn encode_hardware(&mut self, frame: &Frame<'_>, quant: &Quantisation) -> Result<()> {
        let pixels = frame.width() * frame.height();
        let mut lease = self.take_device(self.deadline(pixels))?;
        // The job's own time starts once the device is ours and open.
        let deadline = self.deadline(pixels);
        let attempts = if self.choice == BackendChoice::Auto {
            2
        } else {
            1
        };
        let mut last = None;
        for _ in 0..attempts {
            let session = lease.session(None)?;
            session.supports(frame.width(), frame.height(), self.subsampling)?;
            match session.encode(
                frame,
                quant,
                self.subsampling,
                deadline.max(Instant::now() + Duration::from_millis(1)),
            ) {
                Ok(()) => {
                    lease.succeeded();
                    self.lease = Some(lease);
                    self.last_backend = Some(Backend::Hardware);
                    return Ok(());
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::Unsupported | ErrorKind::InvalidArgument
                    ) =>
                {
                    return Err(e)
                }
                Err(e) => {
                    lease.failed();
                    last = Some(e);
                    // A timeout already cost the whole deadline: AUTO gives up at once.
                    if last
                        .as_ref()
                        .is_some_and(|e| e.kind() == ErrorKind::Timeout)
                    {
                        break;
                    }
                }
            }
        }
        Err(last.expect("at least one attempt"))
    }

    /// Encodes `frames` in order and hands each result to `done(index, jpeg)`; the JPEG's bytes
    /// are valid during that call only. On the E generation's hardware, frame N+1 is laid out
    /// in a second input slot while the device encodes frame N (see [`hw::pipeline`]);
    /// elsewhere, or when two slots do not fit, frames go one after the other. A frame the
    /// device fails is an error for that frame on HARDWARE, software on AUTO; the rest go on.
    pub fn encode_batch(
        &mut self,
        frames: &[Frame<'_>],
        quality: i32,
        mut done: impl FnMut(usize, Result<&[u8]>),
    ) -> Result<()> {
        self.release();
        let quant = self.quantisation(quality)?;
        let rest = match self.pipeline_device(frames, &quant) {
            Some((mut lease, stride)) => {
                let sub = self.subsampling;
                let timeout = self.timeout;
                let mut hand_out = |i: usize, result: Result<&[u8]>| match result {
                    Ok(jpeg) => {
                        self.last_backend = Some(Backend::Hardware);
                        done(i, Ok(jpeg));
                    }
                    Err(e) => self.fail_one(i, &frames[i], &quant, e, &mut done),
                };
                let deadline = |f: &Frame<'_>| {
                    Instant::now()
                        + timeout.unwrap_or_else(|| default_timeout(f.width() * f.height()))
                };
                hw::pipeline::encode(
                    &mut lease,
                    stride,
                    frames,
                    &quant,
                    sub,
                    deadline,
                    &mut hand_out,
                )
                .err()
            }
            None => Some(0),
        };
        for (i, frame) in frames.iter().enumerate().skip(rest.unwrap_or(frames.len())) {
            let result = self.encode(frame, quality);
            done(i, result);
        }
        self.release();
        Ok(())
    }

    /// The device and the spacing of its two input slots, when this batch can be pipelined.
    fn pipeline_device(
        &self,
        frames: &[Frame<'_>],
        quant: &Quantisation,
    ) -> Option<(Lease, usize)> {
        let auto_ok = frames
            .iter()
            .all(|f| self.auto_wants_hardware(f.width(), f.height(), quant));
        if frames.len() < 2
            || self.choice == BackendChoice::Software
            || (self.choice == BackendChoice::Auto && !auto_ok)
        {
            return None;
        }
        let pixels = frames.iter().map(|f| f.width() * f.height()).max()?;
        let mut lease = self.take_device(self.deadline(pixels)).ok()?;
        let stride = hw::pipeline::slot_stride(&mut lease, frames, quant, self.subsampling)?;
        Some((lease, stride))
    }

    /// A frame the device failed: the error on HARDWARE, software on AUTO.
    fn fail_one(
        &mut self,
        i: usize,
        frame: &Frame<'_>,
        quant: &Quantisation,
        error: Error,
        done: &mut impl FnMut(usize, Result<&[u8]>),
    ) {
        if self.choice != BackendChoice::Auto {
            return done(i, Err(error));
        }
        match self.encode_software_owned(frame, quant) {
            Ok(()) => done(i, Ok(&self.output[..self.output_len])),
            Err(e) => done(i, Err(e)),
        }
    }

    /// Lends the caller the device's input area for a `width`×`height` frame of `format`
    /// (NV12, NV21, I420 or YUYV) laid out as the hardware reads it. The device stays taken
    /// until [`Encoder::encode_input`] or [`Encoder::release`].
    pub fn input_buffer(
        &mut self,
        format: PixelFormat,
        width: u32,
        height: u32,
    ) -> Result<InputBuffer> {
        self.release();
        crate::format::check_dimensions(width, height)?;
        if self.choice == BackendChoice::Software {
            return Err(Error::unsupported(
                "zero-copy input needs the hardware backend",
            ));
        }
        let (w, h) = (width as usize, height as usize);
        let mut lease = self.take_device(self.deadline(w * h))?;
        let planes = lease
            .session(None)?
            .lend_input(format, w, h, self.subsampling)?;
        self.lease = Some(lease);
        self.pending_input = true;
        Ok(planes)
    }

    /// Encodes the frame the caller wrote into the buffer from [`Encoder::input_buffer`].
    pub fn encode_input(&mut self, quality: i32) -> Result<&[u8]> {
        let quant = self.quantisation(quality)?;
        let (true, Some(mut lease)) = (std::mem::take(&mut self.pending_input), self.lease.take())
        else {
            return Err(Error::invalid(
                "no input buffer was taken (call aml_jpeg_input_buffer first)",
            ));
        };
        let session = lease.session(None)?;
        let (w, h) = session.lent_size().unwrap_or((0, 0));
        let deadline = self.deadline(w * h);
        match session.encode_lent(&quant, self.subsampling, deadline) {
            Ok(()) => {
                lease.succeeded();
                self.lease = Some(lease);
                self.last_backend = Some(Backend::Hardware);
                Ok(self.jpeg())
            }
            Err(e) => {
                if !matches!(
                    e.kind(),
                    ErrorKind::Unsupported | ErrorKind::InvalidArgument
                ) {
                    lease.failed();
                }
                Err(e)
            }
        }
    }

    fn encode_software_owned(&mut self, frame: &Frame<'_>, quant: &Quantisation) -> Result<()> {
        let bound = self.software_bound(frame.width(), frame.height())?;
        if self.output.len() < bound {
            self.output
                .try_reserve(bound - self.output.len())
                .map_err(|_| {
                    Error::new(ErrorKind::OutOfMemory, "cannot allocate the output buffer")
                })?;
            self.output.resize(bound, 0);
        }
        let mut output = std::mem::take(&mut self.output);
        let result = self.encode_software(frame, quant, &mut output);
        self.output = output;
        self.output_len = result?;
        self.last_backend = Some(Backend::Software);
        Ok(())
    }

    #[cfg(feature = "software")]
    fn software_bound(&self, width: usize, height: usize) -> Result<usize> {
        software::max_output_size(width, height, self.subsampling)
    }

    #[cfg(not(feature = "software"))]
    fn software_bound(&self, _width: usize, _height: usize) -> Result<usize> {
        Err(Error::unsupported(
            "this build of amljpeg has no software backend",
        ))
    }

    #[cfg(feature = "software")]
    fn encode_software(
        &mut self,
        frame: &Frame<'_>,
        quant: &Quantisation,
        out: &mut [u8],
    ) -> Result<usize> {
        if self.choice == BackendChoice::Hardware {
            return Err(Error::new(
                ErrorKind::Internal,
                "software used on a hardware-only handle",
            ));
        }
        // libjpeg-turbo's TurboJPEG API takes a quality, never tables.
        let Quantisation::Quality(quality) = *quant else {
            return Err(Error::unsupported(
                "custom quantisation tables need the hardware of the E generation",
            ));
        };
        let software = match &mut self.software {
            Some(s) => s,
            slot => slot.insert(SoftwareEncoder::new()?),
        };
        software.encode(frame, quality, self.subsampling, out)
    }

    #[cfg(not(feature = "software"))]
    fn encode_software(
        &mut self,
        _frame: &Frame<'_>,
        _quant: &Quantisation,
        _out: &mut [u8],
    ) -> Result<usize> {
        Err(Error::unsupported(
            "this build of amljpeg has no software backend",
        ))
    }
}
