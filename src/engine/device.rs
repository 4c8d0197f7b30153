//! A handle's use of the device: taking it (waiting as the backend allows), one frame on it with
//! AUTO's retry, the lease that keeps a JPEG in the device's buffer, zero-copy input, and the
//! device for a pipelined batch.

use super::settings::Settings;
use super::BackendChoice;
use crate::error::{Error, ErrorKind, Result};
use crate::format::{Frame, FrameLayout, PixelFormat};
use crate::hw::buffers::DeviceInfo;
use crate::hw::session::LentPlanes;
use crate::hw::{self, Lease, SharedDevice};
use crate::quant::Quantisation;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long AUTO waits for the device while another handle of this process uses it.
const AUTO_LOCK_WAIT: Duration = Duration::from_millis(100);
/// The hardware has no published minimum size; AUTO keeps tiny frames in software.
const AUTO_MIN_SIDE: usize = 16;

pub struct DeviceUse {
    /// A number for messages ("handle #3 holds the device").
    id: u64,
    shared: SharedDevice,
    /// The device, held while the caller's JPEG is in its bitstream buffer (or while the
    /// caller writes a frame into its input area).
    lease: Option<Lease>,
    /// The device's input area is lent to the caller (zero-copy input), with the lease.
    lending: bool,
}

impl Drop for DeviceUse {
    /// The handle is going: its lease ends, and if it was the device's last handle the device
    /// lingers open for the next one.
    fn drop(&mut self) {
        self.release();
        hw::linger::keep(&self.shared);
    }
}

impl DeviceUse {
    /// The process's device at the settings' path. HARDWARE needs it to exist and be an
    /// encoder; busy (another handle or process has it) is fine: frames wait for it. Never
    /// waits for another handle's lease.
    pub fn open(settings: &Settings) -> Result<DeviceUse> {
        let shared = hw::shared(&settings.device);
        if settings.choice == BackendChoice::Hardware {
            match shared.info() {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::Busy => {}
                Err(e) => return Err(e),
            }
        }
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Ok(DeviceUse {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            shared,
            lease: None,
            lending: false,
        })
    }

    /// Gives the device back: a JPEG in its buffer is invalid from here.
    pub fn release(&mut self) {
        self.lease = None;
        self.lending = false;
    }

    /// The JPEG in the device's buffer, while this handle holds it.
    pub fn jpeg(&self) -> Option<&[u8]> {
        let lease = self.lease.as_ref()?;
        Some(
            lease
                .current()
                .expect("a lease holds an open session")
                .output(),
        )
    }

    /// What the device is (see [`hw::Shared::info`]).
    pub fn info(&self) -> Result<DeviceInfo> {
        self.shared.info()
    }

    /// The bitstream buffer's size, as published when the device was last opened (never waits).
    pub fn bitstream_len(&self) -> Option<usize> {
        self.shared.with_known(|info| info.buffers.bitstream.len())
    }

    /// Whether AUTO should try the device for this frame: not for what it cannot do (as far
    /// as its last known description tells) and not while it backs off after failures.
    pub fn auto_wants(
        &self,
        settings: &Settings,
        width: usize,
        height: usize,
        quant: &Quantisation,
    ) -> bool {
        let sub = settings.subsampling;
        let device_can = self
            .shared
            .with_known(|info| {
                info.supports(width, height, sub).is_ok()
                    && info.check_output_fits(width, height, sub, quant).is_ok()
            })
            .unwrap_or(true);
        settings.choice == BackendChoice::Auto
            && sub != crate::format::Subsampling::S444
            && width >= AUTO_MIN_SIDE
            && height >= AUTO_MIN_SIDE
            && device_can
            && !self.shared.backing_off()
    }

    /// Takes the device: waits for other handles of this process, opens it if needed
    /// (HARDWARE waits for other processes too; AUTO does not).
    pub fn take(&self, settings: &Settings, deadline: Instant) -> Result<Lease> {
        let now = Instant::now();
        let wait_until = match (settings.choice, settings.busy_wait) {
            (BackendChoice::Auto, _) => now + AUTO_LOCK_WAIT,
            (_, Some(busy)) => deadline.min(now + busy),
            (_, None) => deadline,
        };
        let wait = wait_until.saturating_duration_since(now);
        let mut lease = self.shared.lease(wait, self.id)?;
        let wait_until = (settings.choice == BackendChoice::Hardware).then_some(wait_until);
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

    /// One frame on the device; its JPEG stays there, leased. A failed job resets the session;
    /// AUTO retries once on a fresh one (not after a timeout) before giving up.
    pub fn encode(
        &mut self,
        settings: &Settings,
        frame: &Frame<'_>,
        quant: &Quantisation,
    ) -> Result<()> {
        let pixels = frame.width() * frame.height();
        let mut lease = self.take(settings, settings.deadline(pixels))?;
        // The job's own time starts once the device is ours and open.
        let deadline = settings.deadline(pixels);
        let attempts = if settings.choice == BackendChoice::Auto {
            2
        } else {
            1
        };
        let mut last = None;
        for _ in 0..attempts {
            let session = lease.session(None)?;
            let until = deadline.max(Instant::now() + Duration::from_millis(1));
            match session.encode(frame, settings.coding(quant), until) {
                Ok(()) => {
                    lease.succeeded();
                    self.lease = Some(lease);
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
                    let timed_out = e.kind() == ErrorKind::Timeout;
                    last = Some(e);
                    // A timeout already cost the whole deadline: no second attempt.
                    if timed_out {
                        break;
                    }
                }
            }
        }
        Err(last.expect("at least one attempt"))
    }

    /// One frame the device reads from the caller's dma-buf itself (see
    /// [`crate::hw::session::Session::encode_dmabuf`]); its JPEG stays there, leased.
    /// `Unsupported` when this device or this frame does not allow it.
    pub fn encode_dmabuf(
        &mut self,
        settings: &Settings,
        buffer: BorrowedFd<'_>,
        layout: &FrameLayout,
        len: usize,
        quant: &Quantisation,
    ) -> Result<()> {
        let pixels = layout.width * layout.height;
        let mut lease = self.take(settings, settings.deadline(pixels))?;
        let deadline = settings.deadline(pixels);
        let session = lease.session(None)?;
        let result = session.encode_dmabuf(buffer, layout, len, settings.coding(quant), deadline);
        self.settle(lease, result)
    }

    /// After a job on `lease`: keep it when the job succeeded (its JPEG is in the device's
    /// buffer); else count the failure against the device, unless the frame was only refused.
    fn settle(&mut self, mut lease: Lease, result: Result<()>) -> Result<()> {
        match result {
            Ok(()) => {
                lease.succeeded();
                self.lease = Some(lease);
                Ok(())
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

    /// The device and the spacing of its two input slots, when this batch can be pipelined.
    pub fn for_pipeline(
        &self,
        settings: &Settings,
        frames: &[Frame<'_>],
        quant: &Quantisation,
    ) -> Option<(Lease, usize)> {
        let pixels = frames.iter().map(|f| f.width() * f.height()).max()?;
        let mut lease = self.take(settings, settings.deadline(pixels)).ok()?;
        let stride = hw::pipeline::slot_stride(&mut lease, frames, settings.coding(quant))?;
        Some((lease, stride))
    }

    /// Lends the device's input area for a frame written in place; the device stays taken
    /// until [`DeviceUse::encode_lent`] or [`DeviceUse::release`].
    pub fn lend(
        &mut self,
        settings: &Settings,
        format: PixelFormat,
        width: usize,
        height: usize,
    ) -> Result<LentPlanes> {
        let mut lease = self.take(settings, settings.deadline(width * height))?;
        let planes =
            lease
                .session(None)?
                .lend_input(format, width, height, settings.subsampling)?;
        self.lease = Some(lease);
        self.lending = true;
        Ok(planes)
    }

    /// Encodes the frame written after [`DeviceUse::lend`]; its JPEG stays there, leased.
    pub fn encode_lent(&mut self, settings: &Settings, quant: &Quantisation) -> Result<()> {
        let (true, Some(mut lease)) = (std::mem::take(&mut self.lending), self.lease.take()) else {
            return Err(Error::invalid(
                "no input buffer was taken (call aml_jpeg_input_buffer first)",
            ));
        };
        let session = lease.session(None)?;
        let (w, h) = session.lent_size().unwrap_or((0, 0));
        let result = session.encode_lent(settings.coding(quant), settings.deadline(w * h));
        self.settle(lease, result)
    }
}
