//! The hardware backend: `/dev/jpegenc` on Amlogic SoCs.
//!
//! The driver allows one open at a time, so a process has one [`Device`] per device path,
//! shared by every handle and serialised by a `parking_lot` mutex. A handle whose JPEG still
//! lives in the device's bitstream buffer keeps holding that mutex (a [`Lease`]).

pub mod layout;
pub mod output;
pub mod protocol;
pub mod session;

use crate::error::{Error, ErrorKind, Result};
use parking_lot::lock_api::ArcMutexGuard;
use parking_lot::{Mutex, RawMutex};
use session::Session;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// How long AUTO leaves the device alone after another process was found holding it.
const BUSY_BACKOFF: Duration = Duration::from_millis(500);
/// How often HARDWARE retries an open that found the device busy.
const BUSY_RETRY: Duration = Duration::from_millis(10);

/// The process's view of one device node.
pub struct Device {
    path: PathBuf,
    session: Option<Session>,
    /// AUTO goes straight to software until then (another process holds the device).
    busy_until: Option<Instant>,
}

pub type SharedDevice = Arc<Mutex<Device>>;
/// Exclusive use of the device, held while a JPEG lives in its buffer.
pub type Lease = ArcMutexGuard<RawMutex, Device>;

/// The shared device for `path`: one per path per process while any handle uses it. The
/// last handle to go closes the device, so other processes can have it. The registry keeps
/// the path beside the mutex: looking a device up must never wait for a handle holding it.
pub fn shared(path: &Path) -> SharedDevice {
    static DEVICES: Mutex<Vec<(PathBuf, Weak<Mutex<Device>>)>> = Mutex::new(Vec::new());
    let mut devices = DEVICES.lock();
    devices.retain(|(_, d)| d.strong_count() > 0);
    if let Some(d) = devices
        .iter()
        .find(|(p, _)| p == path)
        .and_then(|(_, d)| d.upgrade())
    {
        return d;
    }
    let d = Arc::new(Mutex::new(Device {
        path: path.to_path_buf(),
        session: None,
        busy_until: None,
    }));
    devices.push((path.to_path_buf(), Arc::downgrade(&d)));
    d
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
