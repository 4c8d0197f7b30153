//! What the drop-in keeps per compress object, found by the object's address.

use crate::abi::Abi;
use crate::amljpeg::{self as aml, Handle};
use crate::job::Job;
use crate::libjpeg::DestinationMgr;
use crate::real::Real;
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Between images.
    Idle,
    /// This image is the real libjpeg's, untouched.
    Delegated,
    /// Collecting the image for the hardware (markers already written to the destination).
    Collecting,
    /// The JPEG's body is being written; `rows` is what the last call will count once it
    /// is (a suspending destination may take several calls).
    Emitting { rows: u32 },
    /// All written; `jpeg_finish_compress` remains.
    Emitted,
}

/// A destination that collects the real libjpeg's output during a fallback (`mgr` first: our
/// object's `dest` points at it), and the hardware's scan once copied out of the device.
#[repr(C)]
pub struct Capture {
    pub mgr: DestinationMgr,
    pub buf: Vec<u8>,
    pub len: usize,
}

pub struct State {
    pub abi: &'static Abi,
    pub real: &'static Real,
    pub phase: Phase,
    pub job: Option<Box<Job>>,
    /// libamljpeg handle (NULL until the first hardware image).
    pub handle: Handle,
    /// The JPEG body still to write: `head` (owned), then `tail` (in `capture`), `done` bytes
    /// of the two written so far.
    pub head: Vec<u8>,
    pub tail: (*const u8, usize),
    pub done: usize,
    pub capture: Box<Capture>,
    /// The fallback's own compress object, while it exists (see [`crate::fallback`]).
    pub private: Option<crate::fallback::Private>,
}

// SAFETY: a State is used by the one thread that drives its compress object at a time
// (libjpeg objects are single-threaded); the registry only moves it between lookups.
unsafe impl Send for State {}

static STATES: Mutex<Option<HashMap<usize, Box<State>>>> = Mutex::new(None);

fn states() -> std::sync::MutexGuard<'static, Option<HashMap<usize, Box<State>>>> {
    STATES.lock().unwrap_or_else(|e| e.into_inner())
}

/// Registers a fresh state for the object at `cinfo` (replacing a stale one at that address).
pub fn insert(cinfo: usize, state: State) {
    let old = states()
        .get_or_insert_with(HashMap::new)
        .insert(cinfo, Box::new(state));
    // Closed after the registry's lock is released (closing may wait for the device).
    if let Some(mut old) = old {
        close(&mut old);
    }
}

/// The object's state; the pointer stays valid until [`remove`] (the box never moves).
pub fn get(cinfo: usize) -> *mut State {
    states()
        .as_mut()
        .and_then(|m| m.get_mut(&cinfo))
        .map_or(std::ptr::null_mut(), |b| &mut **b as *mut State)
}

pub fn remove(cinfo: usize) {
    let old = states().as_mut().and_then(|m| m.remove(&cinfo));
    if let Some(mut old) = old {
        close(&mut old);
    }
}

fn close(state: &mut State) {
    state.drop_private();
    if !state.handle.is_null() {
        if let Ok(api) = aml::api() {
            // SAFETY: the handle is live and ours; nothing else uses it.
            unsafe { (api.close)(state.handle) };
        }
    }
}

impl State {
    pub fn new(abi: &'static Abi, real: &'static Real) -> State {
        State {
            abi,
            real,
            phase: Phase::Idle,
            job: None,
            handle: std::ptr::null_mut(),
            head: Vec::new(),
            tail: (std::ptr::null(), 0),
            done: 0,
            capture: Box::new(Capture {
                mgr: DestinationMgr {
                    next_output_byte: std::ptr::null_mut(),
                    free_in_buffer: 0,
                    init_destination: None,
                    empty_output_buffer: None,
                    term_destination: None,
                },
                buf: Vec::new(),
                len: 0,
            }),
            private: None,
        }
    }

    /// Back to between-images: our own object destroyed, buffers dropped.
    pub fn reset(&mut self) {
        self.drop_private();
        self.phase = Phase::Idle;
        self.job = None;
        self.head = Vec::new();
        self.tail = (std::ptr::null(), 0);
        self.done = 0;
        self.capture.buf = Vec::new();
    }
}
