//! The hardware backend: `/dev/jpegenc` on Amlogic SoCs.
//!
//! The driver allows one open at a time, so a process has one [`Shared`] device per device
//! path, shared by every handle and serialised by a `parking_lot` mutex. A handle whose JPEG
//! still lives in the device's bitstream buffer keeps holding that mutex (a [`Lease`]); what
//! the device is stays readable beside the mutex, so opening a handle or asking about the
//! device never waits for a lease.

pub mod annex_k;
pub mod board;
pub mod bound;
pub mod buffers;
pub mod geometry;
pub mod header;
pub mod linger;
pub mod output;
pub mod pipeline;
pub mod protocol;
pub mod session;

use crate::error::{Error, ErrorKind, Result};
use buffers::DeviceInfo;
use parking_lot::lock_api::ArcMutexGuard;
use parking_lot::{Mutex, RawMutex};
use session::Session;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

/// How long AUTO leaves the device alone after another process was found holding it.
const BUSY_BACKOFF: Duration = Duration::from_millis(500);
/// How often HARDWARE retries an open that found the device busy.
const BUSY_RETRY: Duration = Duration::from_millis(10);
/// After a device failure AUTO uses software for this long, doubling per failure in a row up
/// to [`FAILURE_BACKOFF_MAX`]: a device that fails every frame must not cost every frame two
/// timeouts and a reopen.
const FAILURE_BACKOFF: Duration = Duration::from_millis(250);
const FAILURE_BACKOFF_MAX: Duration = Duration::from_secs(30);
/// The longest a first open waits for another thread that is opening the device right now
/// (CONFIG_INIT loads microcode for up to a second).
const OPENING_WAIT: Duration = Duration::from_secs(3);

/// The process's view of one device node.
pub struct Device {
    path: PathBuf,
    session: Option<Session>,
    /// AUTO goes straight to software until then (another process holds the device).
    busy_until: Option<Instant>,
    /// What the device is, published for readers that must not wait for the lock.
    known: Arc<Mutex<Option<DeviceInfo>>>,
}

/// Who holds the device: the thread and the handle (for the "release it first" message).
#[derive(Debug, Clone, Copy)]
struct Holder {
    thread: ThreadId,
    handle: u64,
}

/// Failures of the device in a row, and until when AUTO keeps away from it.
#[derive(Debug, Default)]
struct Health {
    failures: u32,
    avoid_until: Option<Instant>,
}

/// One device node as the process shares it.
pub struct Shared {
    path: PathBuf,
    device: Arc<Mutex<Device>>,
    known: Arc<Mutex<Option<DeviceInfo>>>,
    holder: Mutex<Option<Holder>>,
    health: Mutex<Health>,
}

pub type SharedDevice = Arc<Shared>;

/// Exclusive use of the device, held while a JPEG lives in its buffer.
pub struct Lease {
    guard: ArcMutexGuard<RawMutex, Device>,
    shared: SharedDevice,
}

impl std::ops::Deref for Lease {
    type Target = Device;
    fn deref(&self) -> &Device {
        &self.guard
    }
}

impl std::ops::DerefMut for Lease {
    fn deref_mut(&mut self) -> &mut Device {
        &mut self.guard
    }
}

impl Lease {
    /// Records a device failure: the session is closed, and AUTO keeps away from the device
    /// for a while that doubles with each failure in a row.
    pub fn failed(&mut self) {
        self.guard.reset();
        let mut health = self.shared.health.lock();
        let factor = 1u32 << health.failures.min(16);
        let backoff = FAILURE_BACKOFF
            .saturating_mul(factor)
            .min(FAILURE_BACKOFF_MAX);
        health.failures = health.failures.saturating_add(1);
        health.avoid_until = Some(Instant::now() + backoff);
    }

    /// Records a frame the device completed: the backoff starts again from its base.
    pub fn succeeded(&self) {
        *self.shared.health.lock() = Health::default();
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        *self.shared.holder.lock() = None;
    }
}

/// The shared device for `path`: one per path per process while any handle uses it. After
/// the last handle goes the device stays open for the linger ([`linger`]), then closes, so
/// other processes can have it. The registry keeps
/// the path beside the mutex: looking a device up must never wait for a handle holding it.
pub fn shared(path: &Path) -> SharedDevice {
    static DEVICES: Mutex<Vec<Weak<Shared>>> = Mutex::new(Vec::new());
    let mut devices = DEVICES.lock();
    devices.retain(|d| d.strong_count() > 0);
    if let Some(d) = devices
        .iter()
        .filter_map(Weak::upgrade)
        .find(|d| d.path == path)
    {
        return d;
    }
    let known = Arc::new(Mutex::new(None));
    let d = Arc::new(Shared {
        path: path.to_path_buf(),
        device: Arc::new(Mutex::new(Device {
            path: path.to_path_buf(),
            session: None,
            busy_until: None,
            known: known.clone(),
        })),
        known,
        holder: Mutex::new(None),
        health: Mutex::new(Health::default()),
    });
    devices.push(Arc::downgrade(&d));
    d
}

impl Shared {
    /// Takes the device for handle `handle`, waiting up to `wait` for other handles of this
    /// process. The error says when the holder is this very thread (waiting cannot help).
    pub fn lease(self: &Arc<Self>, wait: Duration, handle: u64) -> Result<Lease> {
        let Some(guard) = self.device.try_lock_arc_for(wait) else {
            let me = std::thread::current().id();
            let holder = *self.holder.lock();
            let message = match holder {
                Some(h) if h.thread == me => format!(
                    "this thread holds the device through handle #{}: release it first \
                     (aml_jpeg_release, or use aml_jpeg_encode_into, which releases at once)",
                    h.handle
                ),
                Some(h) => format!(
                    "the device is in use by handle #{} of this process",
                    h.handle
                ),
                None => "the device is in use by another handle of this process".into(),
            };
            return Err(Error::new(ErrorKind::Busy, message));
        };
        *self.holder.lock() = Some(Holder {
            thread: std::thread::current().id(),
            handle,
        });
        Ok(Lease {
            guard,
            shared: self.clone(),
        })
    }

    /// What the device is, without waiting for a lease: the open session's description when
    /// the device is free (opening it if needed), else the one published when it was opened.
    pub fn info(&self) -> Result<DeviceInfo> {
        if let Some(mut device) = self.device.try_lock() {
            return Ok(device.session(None)?.info().clone());
        }
        if let Some(info) = self.known.lock().clone() {
            return Ok(info);
        }
        // Nobody holds a lease without having opened the device: another thread is opening
        // it right now.
        match self.device.try_lock_for(OPENING_WAIT) {
            Some(mut device) => Ok(device.session(None)?.info().clone()),
            None => Err(Error::new(
                ErrorKind::Busy,
                "another thread of this process is opening the device",
            )),
        }
    }

    /// `f` of the published description, if any, without copying it (never waits long: the
    /// lock guards only the description).
    pub fn with_known<R>(&self, f: impl FnOnce(&DeviceInfo) -> R) -> Option<R> {
        self.known.lock().as_ref().map(f)
    }

    /// Whether AUTO should keep away from the device for now (it failed recently).
    pub fn backing_off(&self) -> bool {
        self.health
            .lock()
            .avoid_until
            .is_some_and(|t| Instant::now() < t)
    }
}

impl Device {
    /// The open session, opening the device if needed. `wait_until`: keep retrying while
    /// another process holds the device (HARDWARE); None: fail at once and back off (AUTO).
    pub fn session(&mut self, wait_until: Option<Instant>) -> Result<&mut Session> {
        if self.session.is_none() {
            if wait_until.is_none() && self.busy_until.is_some_and(|t| Instant::now() < t) {
                return Err(Error::new(
                    ErrorKind::Busy,
                    format!("{} is in use by another process", self.path.display()),
                ));
            }
            loop {
                match Session::open(&self.path) {
                    Ok(s) => {
                        *self.known.lock() = Some(s.info().clone());
                        self.session = Some(s);
                        self.busy_until = None;
                        break;
                    }
                    Err(e) if e.kind() == ErrorKind::Busy => match wait_until {
                        Some(t) if Instant::now() + BUSY_RETRY < t => {
                            std::thread::sleep(BUSY_RETRY)
                        }
                        _ => {
                            self.busy_until = Some(Instant::now() + BUSY_BACKOFF);
                            return Err(e);
                        }
                    },
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(self.session.as_mut().expect("opened above"))
    }

    /// The open session, if any.
    pub fn current(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    /// Closes the session (unmap, close: the driver powers the block down); the next use
    /// reopens it and runs CONFIG_INIT again.
    pub fn reset(&mut self) {
        self.session = None;
    }
}
