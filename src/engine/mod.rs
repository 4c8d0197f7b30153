//! The public engine: one [`Encoder`] per handle, choosing a backend per frame and falling
//! back; its [`settings`], its use of the device ([`device`]: leases, retries, zero-copy input)
//! and the software backend's output ([`output`]) each in their own room.

mod device;
mod output;
mod settings;

use crate::error::{Error, ErrorKind, Result};
use crate::format::{Frame, FrameLayout, PixelFormat, Subsampling};
use crate::hw::buffers::DeviceInfo;
use crate::hw::header::FILE_HEADER_LEN;
use crate::markers::Markers;
use crate::quant::{QuantTables, Quantisation};
use device::DeviceUse;
use output::SoftwareOutput;
use settings::{default_timeout, Settings};
use std::os::fd::BorrowedFd;
use std::path::Path;
use std::time::{Duration, Instant};

pub use settings::{resolve_device, DEFAULT_DEVICE};

/// How long the process keeps a device open after its last handle goes, for the handles closed
/// from now on (the default: `$AML_JPEG_LINGER_MS`, else a second; zero closes it at once).
pub fn set_linger(linger: Duration) {
    crate::hw::linger::set_linger(linger);
}

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

c_enum! {
    /// How a frame's pixels reached the encoder (`AML_JPEG_INPUT_*`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum InputPath {
        /// The library's CPU read them (laid out for the device, or encoded in software).
        Cpu = crate::abi::AML_JPEG_INPUT_CPU,
        /// The caller wrote them into the device's input area.
        InPlace = crate::abi::AML_JPEG_INPUT_IN_PLACE,
        /// The device read them from the caller's dma-buf itself.
        DmaBuf = crate::abi::AML_JPEG_INPUT_DMABUF,
    }
}

/// Where the caller writes a frame straight into the device's input area.
pub use crate::hw::session::LentPlanes as InputBuffer;

/// An encoder handle: settings, backends and where the last JPEG lives.
pub struct Encoder {
    settings: Settings,
    /// The hardware backend (None for SOFTWARE handles).
    device: Option<DeviceUse>,
    software: SoftwareOutput,
    last_backend: Option<Backend>,
    last_input: Option<InputPath>,
}

impl Encoder {
    /// Opens an encoder. With [`BackendChoice::Hardware`] this fails unless the device exists
    /// and is a supported JPEG encoder (it may be busy: frames then wait for it).
    pub fn open(device: Option<&Path>, choice: BackendChoice) -> Result<Self> {
        let settings = Settings::new(choice, resolve_device(device));
        if choice == BackendChoice::Software && !cfg!(feature = "software") {
            return Err(Error::unsupported(
                "this build of amljpeg has no software backend",
            ));
        }
        let device = match choice {
            BackendChoice::Software => None,
            _ => Some(DeviceUse::open(&settings)?),
        };
        Ok(Encoder {
            settings,
            device,
            software: SoftwareOutput::default(),
            last_backend: None,
            last_input: None,
        })
    }

    pub fn backend_choice(&self) -> BackendChoice {
        self.settings.choice
    }

    pub fn device(&self) -> &Path {
        &self.settings.device
    }

    pub fn subsampling(&self) -> Subsampling {
        self.settings.subsampling
    }

    pub fn set_subsampling(&mut self, subsampling: Subsampling) {
        self.settings.subsampling = subsampling;
    }

    /// The longest a frame may take on the device (None: derived from its size).
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.settings.timeout = timeout;
    }

    /// How long HARDWARE waits for a device another handle or process is using (None: as
    /// long as the frame's timeout allows). AUTO never waits long: it falls back.
    pub fn set_busy_wait(&mut self, wait: Option<Duration>) {
        self.settings.busy_wait = wait;
    }

    /// Quantises with these tables from the next frame on (None: by quality again). Tables that
    /// no quality reproduces need the E generation's hardware; other backends refuse them.
    pub fn set_quant_tables(&mut self, tables: Option<QuantTables>) {
        self.settings.tables = tables;
    }

    /// Puts these APPn/COM segments after the JFIF APP0 of every following JPEG (empty: none).
    /// A malformed list is refused and the previous one stays.
    pub fn set_markers(&mut self, segments: &[u8]) -> Result<()> {
        self.settings.markers = Markers::new(segments)?;
        Ok(())
    }

    /// The backend that produced the last successful frame.
    pub fn last_backend(&self) -> Option<Backend> {
        self.last_backend
    }

    /// How the last successful frame's pixels reached the encoder.
    pub fn last_input(&self) -> Option<InputPath> {
        self.last_input
    }

    /// Gives the device back: the JPEG returned by the last hardware encode is invalid from here.
    pub fn release(&mut self) {
        if let Some(device) = &mut self.device {
            device.release();
        }
    }

    /// What the device is, opening it if needed (None for software handles). Never waits for
    /// a handle holding the device, this one's included.
    pub fn device_info(&self) -> Result<Option<DeviceInfo>> {
        self.device.as_ref().map(DeviceUse::info).transpose()
    }

    /// The largest JPEG this handle can produce for a `width`×`height` frame.
    pub fn max_output_size(&self, width: usize, height: usize) -> Result<usize> {
        let software = self.software.bound(&self.settings, width, height);
        // The scan fits the bitstream buffer, after the driver's header the caller's replaces.
        let head = FILE_HEADER_LEN + self.settings.markers.segments().len();
        let hardware = self
            .device
            .as_ref()
            .and_then(DeviceUse::bitstream_len)
            .map(|len| len + head);
        match (software, hardware) {
            (Ok(s), Some(h)) => Ok(s.max(h)),
            (Ok(s), None) => Ok(s),
            (Err(_), Some(h)) => Ok(h),
            (Err(e), None) => Err(e),
        }
    }

    /// The last JPEG: in the device's buffer while leased, else in ours.
    fn jpeg(&self) -> &[u8] {
        match self.device.as_ref().and_then(DeviceUse::jpeg) {
            Some(jpeg) => jpeg,
            None => self.software.jpeg(),
        }
    }

    /// Whether a `width`×`height` frame goes to the hardware first.
    fn wants_hardware(&self, width: usize, height: usize, quant: &Quantisation) -> bool {
        match (self.settings.choice, &self.device) {
            (BackendChoice::Software, _) | (_, None) => false,
            (BackendChoice::Hardware, _) => true,
            (BackendChoice::Auto, Some(device)) => {
                device.auto_wants(&self.settings, width, height, quant)
            }
        }
    }

    /// Encodes a frame; the JPEG borrows the handle until its next use (see [`Encoder::release`]).
    pub fn encode(&mut self, frame: &Frame<'_>, quality: i32) -> Result<&[u8]> {
        self.release();
        let quant = self.settings.quantisation(quality)?;
        self.last_input = Some(InputPath::Cpu);
        if self.wants_hardware(frame.width(), frame.height(), &quant) {
            let device = self.device.as_mut().expect("wants_hardware checked it");
            match device.encode(&self.settings, frame, &quant) {
                Ok(()) => {
                    self.last_backend = Some(Backend::Hardware);
                    return Ok(self.jpeg());
                }
                Err(e) if self.settings.choice == BackendChoice::Hardware => return Err(e),
                Err(_) => {} // AUTO: software below.
            }
        }
        self.encode_software(frame, &quant)?;
        Ok(self.jpeg())
    }

    fn encode_software(&mut self, frame: &Frame<'_>, quant: &Quantisation) -> Result<()> {
        self.software.encode(&self.settings, frame, quant)?;
        self.last_backend = Some(Backend::Software);
        Ok(())
    }

    /// Encodes a frame into the caller's buffer and returns the JPEG's length.
    pub fn encode_into(
        &mut self,
        frame: &Frame<'_>,
        quality: i32,
        dst: &mut [u8],
    ) -> Result<usize> {
        self.release();
        let quant = self.settings.quantisation(quality)?;
        // Software straight into dst when it surely fits.
        if self.settings.choice == BackendChoice::Software
            && dst.len()
                >= self
                    .software
                    .bound(&self.settings, frame.width(), frame.height())?
        {
            let len = self
                .software
                .encode_into(&self.settings, frame, &quant, dst)?;
            self.last_backend = Some(Backend::Software);
            self.last_input = Some(InputPath::Cpu);
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

    /// Encodes `frames` in order and hands each result to `done(index, jpeg)`; the JPEG's bytes
    /// are valid during that call only. On the E generation's hardware, frame N+1 is laid out
    /// in a second input slot while the device encodes frame N (see [`crate::hw::pipeline`]);
    /// elsewhere, or when two slots do not fit, frames go one after the other. A frame the
    /// device fails is an error for that frame on HARDWARE, software on AUTO; the rest go on.
    pub fn encode_batch(
        &mut self,
        frames: &[Frame<'_>],
        quality: i32,
        mut done: impl FnMut(usize, Result<&[u8]>),
    ) -> Result<()> {
        self.release();
        let quant = self.settings.quantisation(quality)?;
        let rest = match self.pipeline_device(frames, &quant) {
            Some((mut lease, stride)) => {
                let timeout = self.settings.timeout;
                let deadline = |f: &Frame<'_>| {
                    Instant::now()
                        + timeout.unwrap_or_else(|| default_timeout(f.width() * f.height()))
                };
                // The coding borrows a copy: `hand_out` borrows the handle.
                let settings = self.settings.clone();
                let coding = settings.coding(&quant);
                let mut hand_out = |i: usize, result: Result<&[u8]>| match result {
                    Ok(jpeg) => {
                        self.last_backend = Some(Backend::Hardware);
                        self.last_input = Some(InputPath::Cpu);
                        done(i, Ok(jpeg));
                    }
                    Err(e) => self.fail_one(i, &frames[i], &quant, e, &mut done),
                };
                crate::hw::pipeline::encode(
                    &mut lease,
                    stride,
                    frames,
                    coding,
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
    ) -> Option<(crate::hw::Lease, usize)> {
        let all_want = frames
            .iter()
            .all(|f| self.wants_hardware(f.width(), f.height(), quant));
        if frames.len() < 2 || !all_want {
            return None;
        }
        self.device
            .as_ref()?
            .for_pipeline(&self.settings, frames, quant)
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
        if self.settings.choice != BackendChoice::Auto {
            return done(i, Err(error));
        }
        match self.encode_software(frame, quant) {
            Ok(()) => done(i, Ok(self.software.jpeg())),
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
        let device = self
            .device
            .as_mut()
            .ok_or_else(|| Error::unsupported("zero-copy input needs the hardware backend"))?;
        device.lend(&self.settings, format, width as usize, height as usize)
    }

    /// Encodes the frame the caller wrote into the buffer from [`Encoder::input_buffer`].
    pub fn encode_input(&mut self, quality: i32) -> Result<&[u8]> {
        let quant = self.settings.quantisation(quality)?;
        let device = self.device.as_mut().ok_or_else(|| {
            Error::invalid("no input buffer was taken (call aml_jpeg_input_buffer first)")
        })?;
        device.encode_lent(&self.settings, &quant)?;
        self.last_backend = Some(Backend::Hardware);
        self.last_input = Some(InputPath::InPlace);
        Ok(self.jpeg())
    }

    /// Encodes the frame that lies in the dma-buf (or other mappable buffer) `buffer` from
    /// `offset`, `len` bytes of it, laid out as [`Encoder::encode`]'s frames are. The device
    /// reads it itself where it can ([`InputPath::DmaBuf`]: the media_modules driver, the
    /// frame at the buffer's start in a geometry the device reads); otherwise the buffer is
    /// mapped for the CPU, read inside the dma-buf's CPU-access bracket, and encoded as any
    /// frame. The descriptor is only borrowed.
    #[allow(clippy::too_many_arguments)]
    pub fn encode_dmabuf(
        &mut self,
        buffer: BorrowedFd<'_>,
        offset: usize,
        len: usize,
        width: u32,
        height: u32,
        stride: u32,
        format: PixelFormat,
        quality: i32,
    ) -> Result<&[u8]> {
        self.release();
        let layout = FrameLayout::new(format, width, height, stride)?;
        if len < layout.min_len {
            return Err(Error::invalid(format!(
                "len {len} is too short: a {width}x{height} {} frame with this stride needs {}",
                format.name(),
                layout.min_len
            )));
        }
        let quant = self.settings.quantisation(quality)?;
        let span = crate::dmabuf::Span::check(buffer, offset, len)?;
        let (w, h) = (layout.width, layout.height);
        if offset == 0 && self.wants_hardware(w, h, &quant) {
            let device = self.device.as_mut().expect("wants_hardware checked it");
            match device.encode_dmabuf(&self.settings, buffer, &layout, len, &quant) {
                Ok(()) => {
                    self.last_backend = Some(Backend::Hardware);
                    self.last_input = Some(InputPath::DmaBuf);
                    return Ok(self.jpeg());
                }
                // Not for the device as it lies (or not at all): the CPU reads it below.
                Err(e) if e.kind() == ErrorKind::Unsupported => {}
                Err(e) if self.settings.choice == BackendChoice::Hardware => return Err(e),
                Err(_) => {} // AUTO: the ordinary path below, which backs off the device.
            }
        }
        let mapped = crate::dmabuf::MappedBuffer::map(buffer, span)?;
        let frame = Frame::new(mapped.bytes(), width, height, stride, format)?;
        self.encode(&frame, quality)
    }
}
