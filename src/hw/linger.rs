//! Keeping the device open a while after the process's last handle goes. Programs that make a
//! handle per picture (every libjpeg program through the drop-in creates a compress object per
//! picture: motion, mjpg-streamer; Amlogic's own HAL opens the device per picture) would
//! otherwise pay an open, a map and a CONFIG_INIT per picture, which powers the block up (10
//! ms or more, up to a second for the microcode): more than the encode at these sizes. The
//! device lingers for `AML_JPEG_LINGER_MS` (default 1000; 0: close at once), then closes so
//! other processes can have it; a handle opened meanwhile takes it up again.

use super::Shared;
use parking_lot::{Condvar, Mutex};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The default linger: long enough for a program encoding a picture a second.
const DEFAULT: Duration = Duration::from_millis(1000);

/// u64::MAX: not set yet (the environment decides on first use).
static LINGER_MS: AtomicU64 = AtomicU64::new(u64::MAX);

/// How long the device stays open after the last handle goes.
pub fn linger() -> Duration {
    let ms = LINGER_MS.load(Ordering::Relaxed);
    if ms != u64::MAX {
        return Duration::from_millis(ms);
    }
    let from_env = std::env::var("AML_JPEG_LINGER_MS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_millis)
        .unwrap_or(DEFAULT);
    let _ = LINGER_MS.compare_exchange(
        u64::MAX,
        from_env.as_millis() as u64,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    Duration::from_millis(LINGER_MS.load(Ordering::Relaxed))
}

/// Sets the linger for the devices the process's handles leave from now on.
pub fn set_linger(linger: Duration) {
    LINGER_MS.store(
        linger.as_millis().min(u64::MAX as u128 - 1) as u64,
        Ordering::Relaxed,
    );
}

/// The devices kept open, each until its deadline, and the thread that closes them.
struct Lingering {
    devices: Mutex<Vec<(Arc<Shared>, Instant)>>,
    changed: Condvar,
}

/// The lingering devices and their closer thread, started on first use (None when no thread
/// can be started: devices then close with their last handle).
fn lingering() -> Option<&'static Lingering> {
    static LINGERING: OnceLock<Option<&'static Lingering>> = OnceLock::new();
    *LINGERING.get_or_init(|| {
        let l: &'static Lingering = Box::leak(Box::new(Lingering {
            devices: Mutex::new(Vec::new()),
            changed: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("amljpeg-linger".into())
            .spawn(move || closer(l))
            .ok()
            .map(|_| l)
    })
}

/// Closes each lingering device at its deadline, unless a handle has it then (that handle
/// lingers it again when it goes).
fn closer(l: &'static Lingering) {
    let mut devices = l.devices.lock();
    loop {
        let now = Instant::now();
        // Dropping the last reference closes the device (unmap, close).
        devices.retain(|(_, until)| *until > now);
        match devices.iter().map(|(_, until)| *until).min() {
            Some(next) => {
                l.changed.wait_until(&mut devices, next);
            }
            None => l.changed.wait(&mut devices),
        }
    }
}

/// The last handle of `shared` is going: keep its open device for the linger.
pub fn keep(shared: &Arc<Shared>) {
    let linger = linger();
    let open = shared
        .device
        .try_lock()
        .is_some_and(|device| device.current().is_some());
    if linger.is_zero() || !open {
        return;
    }
    let Some(l) = lingering() else {
        return;
    };
    let mut devices = l.devices.lock();
    // An earlier linger of this device ends here: the caller's reference is then the only
    // one unless another handle has the device (which lingers it when it goes).
    devices.retain(|(d, _)| !Arc::ptr_eq(d, shared));
    if Arc::strong_count(shared) == 1 {
        devices.push((shared.clone(), Instant::now() + linger));
        l.changed.notify_one();
    }
}
