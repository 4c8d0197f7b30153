//! amljpeg-preload: a libjpeg drop-in. Preloaded (`LD_PRELOAD=libamljpeg_preload.so`), it
//! stands in front of the compress half of the program's libjpeg and sends each image the
//! hardware can reproduce to the Amlogic encoder through libamljpeg; everything else, and
//! every other libjpeg call, reaches the real libjpeg unchanged.
//!
//! How an image goes:
//! - `jpeg_CreateCompress`: the real one builds the object; we note its ABI (6.2, 7 or 8,
//!   from `version` and `structsize`) or leave it alone when we do not know it.
//! - `jpeg_start_compress`: if the settings are ones the hardware reproduces ([`job::Job::plan`])
//!   the image is ours: like libjpeg we write SOI/JFIF/Adobe to the program's destination now,
//!   and markers as the program writes them, so bytes a program copies into the destination
//!   itself (Pillow does) land where they would have. Otherwise the real libjpeg does it all.
//! - scanlines or raw data are collected; with the last row the frame is encoded and the body
//!   written, honouring a suspending destination (`empty_output_buffer` returning FALSE: the
//!   call then consumes nothing and the program calls again). If the device fails, the real
//!   libjpeg encodes the collected image (on an object of our own: [`fallback`]) and its body
//!   is written instead.
//! - `jpeg_finish_compress`: `term_destination`, and the real `jpeg_abort` resets the object.
//!
//! libjpeg programs leave errors with `longjmp` from `error_exit`, and destinations may do so
//! from `empty_output_buffer`. So every Rust frame that is live while the program's or the
//! real libjpeg's code runs holds only plain values (pointers, integers, references): no
//! destructor is ever skipped. Work that allocates runs in helpers that return first, under
//! [`guard`], which turns a panic (a bug) into an abort instead of unwinding into C.
//!
//! Environment: `AMLJPEG_PRELOAD=0` turns it off; `AMLJPEG_PRELOAD_LOG=1` says on stderr what it
//! did with each image; `AMLJPEG_PRELOAD_WAIT_MS` is how long an image waits for a busy device
//! before the real libjpeg takes it (default 0); `AMLJPEG_LIBRARY` names libamljpeg;
//! `AML_JPEG_DEVICE` the device.
#![allow(clippy::missing_safety_doc)]

/// Logs a line on stderr with `AMLJPEG_PRELOAD_LOG=1`.
macro_rules! log {
    ($($arg:tt)*) => {
        if $crate::logging() {
            eprintln!("amljpeg-preload: {}", format!($($arg)*));
        }
    };
}

pub mod abi;
mod amljpeg;
mod destination;
mod fallback;
mod hardware;
pub mod job;
mod libjpeg;
mod real;
mod report;
pub mod splice;
mod state;

use crate::abi::{Abi, Field};
use crate::destination::{resume, write_all};
use crate::hardware::open_device;
use crate::job::{Input, Job};
use crate::libjpeg::*;
use crate::report::{
    progress, raise, warn, BAD_LENGTH, BAD_STATE, BUFFER_SIZE, TOO_LITTLE_DATA, TOO_MUCH_DATA,
};
use crate::state::{Phase, State};
use libc::{c_int, c_uint, c_void};
use std::sync::OnceLock;

fn env_flag(name: &str) -> Option<bool> {
    std::env::var(name)
        .ok()
        .map(|v| !matches!(v.as_str(), "" | "0" | "off" | "no"))
}

fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| env_flag("AMLJPEG_PRELOAD").unwrap_or(true))
}

fn logging() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| env_flag("AMLJPEG_PRELOAD_LOG").unwrap_or(false))
}

/// Runs Rust work that calls no foreign code that could longjmp. A panic is a bug: abort
/// rather than unwind into C.
fn guard<T>(f: impl FnOnce() -> T) -> T {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(_) => {
            eprintln!("amljpeg-preload: internal error; aborting");
            std::process::abort()
        }
    }
}

fn lookup(cinfo: *mut c_void) -> *mut State {
    guard(|| state::get(cinfo as usize))
}

/// The real libjpeg for this object.
///
/// # Safety
/// `st` is NULL or live.
unsafe fn real_for(st: *mut State) -> &'static real::Real {
    // SAFETY: per the contract.
    match unsafe { st.as_ref() } {
        Some(s) => s.real,
        None => guard(real::real),
    }
}

/// The phase of an object we follow (None: not ours).
///
/// # Safety
/// `st` is NULL or live.
unsafe fn phase(st: *mut State) -> Option<Phase> {
    // SAFETY: per the contract.
    unsafe { st.as_ref() }.map(|s| s.phase)
}

/// # Safety
/// `st` is live.
unsafe fn view(st: *mut State, ptr: *mut c_void) -> Cinfo {
    Cinfo {
        ptr,
        // SAFETY: per the contract.
        abi: unsafe { (*st).abi },
    }
}

#[no_mangle]
pub unsafe extern "C" fn jpeg_CreateCompress(
    cinfo: *mut c_void,
    version: c_int,
    structsize: usize,
) {
    let real = guard(real::real);
    // SAFETY: the program's arguments, as libjpeg takes them.
    unsafe { (real.create_compress)(cinfo, version, structsize) };
    guard(|| {
        if !enabled() {
            return;
        }
        match Abi::select(version, structsize) {
            Some(abi) => state::insert(cinfo as usize, State::new(abi, real)),
            None => {
                log!("libjpeg ABI {version} with a {structsize}-byte object is not one we know: left alone");
                state::remove(cinfo as usize);
            }
        }
    })
}

/// Decides whether this image is ours and gets it ready; false: the real libjpeg's.
///
/// # Safety
/// `st` is live and belongs to `c`.
unsafe fn begin(st: &mut State, c: Cinfo, write_all_tables: bool) -> bool {
    // SAFETY: `c` is live.
    unsafe {
        st.reset();
        if c.int(Field::GlobalState) != CSTATE_START {
            return false; // the real libjpeg reports the misuse
        }
        let job = match Job::plan(c, write_all_tables) {
            Ok(job) => job,
            Err(why) => {
                log!("the real libjpeg encodes this image: {why}");
                st.phase = Phase::Delegated;
                return false;
            }
        };
        if let Err(why) = open_device(st) {
            log!("the real libjpeg encodes this image: {why}");
            st.phase = Phase::Delegated;
            return false;
        }
        st.head = splice::file_header(job.jfif, job.adobe);
        let raw = job.input == Input::Raw;
        st.job = Some(Box::new(job));
        st.phase = Phase::Collecting;
        c.set_int(
            Field::GlobalState,
            if raw { CSTATE_RAW_OK } else { CSTATE_SCANNING },
        );
        c.set_uint(Field::NextScanline, 0);
        let p: *mut ProgressMgr = c.ptr(Field::Progress, 0);
        if let Some(p) = p.as_mut() {
            p.completed_passes = 0;
            p.total_passes = 1;
        }
    }
    true
}

#[no_mangle]
pub unsafe extern "C" fn jpeg_start_compress(cinfo: *mut c_void, write_all_tables: c_int) {
    let st = lookup(cinfo);
    // SAFETY: `st` is NULL or live; the object is the program's live one.
    unsafe {
        if st.is_null() || !guard(|| begin(&mut *st, view(st, cinfo), write_all_tables != 0)) {
            return (real_for(st).start_compress)(cinfo, write_all_tables);
        }
        let c = view(st, cinfo);
        let err: *mut ErrorMgr = c.ptr(Field::Err, 0);
        if let Some(reset) = (*err).reset_error_mgr {
            reset(cinfo);
        }
        if let Some(init) = (*c.dest()).init_destination {
            init(cinfo);
        }
        let head = &(*st).head;
        write_all(c, head.as_ptr(), head.len());
    }
}

/// A marker's first four bytes, or libjpeg's error for a marker written now.
///
/// # Safety
/// `st` is live and ours.
unsafe fn marker_header(st: *mut State, c: Cinfo, marker: c_int, len: c_uint) -> bool {
    // SAFETY: per the contract.
    unsafe {
        if (*st).phase != Phase::Collecting || c.uint(Field::NextScanline) != 0 {
            raise(c, BAD_STATE, c.int(Field::GlobalState));
            return false;
        }
        if len > 65533 {
            raise(c, BAD_LENGTH, 0);
            return false;
        }
        let l = (len + 2) as u16;
        let bytes = [0xFF, marker as u8, (l >> 8) as u8, l as u8];
        write_all(c, bytes.as_ptr(), 4)
    }
}

/// Whether the drop-in owns the object's current image.
fn ours(phase: Option<Phase>) -> bool {
    matches!(
        phase,
        Some(Phase::Collecting | Phase::Emitting { .. } | Phase::Emitted)
    )
}

#[no_mangle]
pub unsafe extern "C" fn jpeg_write_marker(
    cinfo: *mut c_void,
    marker: c_int,
    data: *const u8,
    len: c_uint,
) {
    let st = lookup(cinfo);
    // SAFETY: as in jpeg_start_compress; `data` holds `len` bytes (libjpeg's contract).
    unsafe {
        if !ours(phase(st)) {
            return (real_for(st).write_marker)(cinfo, marker, data, len);
        }
        let c = view(st, cinfo);
        if marker_header(st, c, marker, len) {
            write_all(c, data, len as usize);
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn jpeg_write_m_header(cinfo: *mut c_void, marker: c_int, len: c_uint) {
    let st = lookup(cinfo);
    // SAFETY: as in jpeg_start_compress.
    unsafe {
        if !ours(phase(st)) {
            return (real_for(st).write_m_header)(cinfo, marker, len);
        }
        marker_header(st, view(st, cinfo), marker, len);
    }
}

#[no_mangle]
pub unsafe extern "C" fn jpeg_write_m_byte(cinfo: *mut c_void, val: c_int) {
    let st = lookup(cinfo);
    // SAFETY: as in jpeg_start_compress.
    unsafe {
        if !ours(phase(st)) {
            return (real_for(st).write_m_byte)(cinfo, val);
        }
        let byte = val as u8;
        write_all(view(st, cinfo), &byte, 1);
    }
}

/// libjpeg-turbo's ICC profile markers: APP2 segments of "ICC_PROFILE\0", the 1-based
/// sequence number, the count, then up to 65,519 bytes of the profile.
const ICC_CHUNK: usize = 65519;

/// The 14 bytes before chunk `seq` of `count`.
fn icc_prefix(seq: usize, count: usize) -> [u8; 14] {
    let mut p = *b"ICC_PROFILE\0\0\0";
    p[12] = seq as u8;
    p[13] = count as u8;
    p
}

/// Written here rather than left to libjpeg, whose version writes through its own marker
/// calls: those reach the drop-in only when the library binds them through its PLT, and
/// libjpeg's own marker writer does not exist for an image the drop-in holds.
#[no_mangle]
pub unsafe extern "C" fn jpeg_write_icc_profile(cinfo: *mut c_void, icc: *const u8, len: c_uint) {
    let st = lookup(cinfo);
    let len = len as usize;
    let count = len.div_ceil(ICC_CHUNK);
    // SAFETY: as in jpeg_start_compress; `icc` holds `len` bytes (libjpeg's contract).
    unsafe {
        if !ours(phase(st)) {
            let real = real_for(st);
            if let Some(write) = real.write_icc_profile {
                return write(cinfo, icc, len as c_uint);
            }
            // A libjpeg older than the call: the same markers through its marker calls.
            for seq in 1..=count {
                let at = (seq - 1) * ICC_CHUNK;
                let chunk = (len - at).min(ICC_CHUNK);
                (real.write_m_header)(cinfo, 0xE2, (chunk + 14) as c_uint);
                for &b in icc_prefix(seq, count).iter() {
                    (real.write_m_byte)(cinfo, b as c_int);
                }
                for i in 0..chunk {
                    (real.write_m_byte)(cinfo, *icc.add(at + i) as c_int);
                }
            }
            return;
        }
        let c = view(st, cinfo);
        if icc.is_null() || len == 0 {
            return raise(c, BUFFER_SIZE, 0);
        }
        for seq in 1..=count {
            let at = (seq - 1) * ICC_CHUNK;
            let chunk = (len - at).min(ICC_CHUNK);
            if !marker_header(st, c, 0xE2, (chunk + 14) as c_uint) {
                return;
            }
            let prefix = icc_prefix(seq, count);
            if !write_all(c, prefix.as_ptr(), 14) || !write_all(c, icc.add(at), chunk) {
                return;
            }
        }
    }
}

/// The common start of both row entry points: libjpeg's checks and progress call. Returns
/// the job when rows may be taken.
///
/// # Safety
/// `st` is live and in the Collecting phase.
unsafe fn take_rows(st: *mut State, c: Cinfo, raw: bool) -> Option<*mut Job> {
    // SAFETY: per the contract.
    unsafe {
        let job: *mut Job = &mut **(*st).job.as_mut()?;
        if ((*job).input == Input::Raw) != raw {
            raise(c, BAD_STATE, c.int(Field::GlobalState));
            return None;
        }
        let next = c.uint(Field::NextScanline);
        if next as usize >= (*job).height {
            warn(c, TOO_MUCH_DATA);
            return None;
        }
        progress(c, next, (*job).height as c_uint);
        Some(job)
    }
}

/// Counts `rows` taken; after the last, encodes and writes the body. Returns what the call
/// consumed (0 while a suspending destination is full).
///
/// # Safety
/// `st` is live and ours, `c` its object.
unsafe fn rows_taken(st: *mut State, c: Cinfo, rows: usize) -> c_uint {
    // SAFETY: per the contract.
    unsafe {
        let complete = (*st).job.as_ref().is_some_and(|j| j.complete());
        if !complete {
            c.set_uint(
                Field::NextScanline,
                c.uint(Field::NextScanline) + rows as c_uint,
            );
            return rows as c_uint;
        }
        // The reason is logged and dropped before the real libjpeg runs (it may longjmp).
        let failed = guard(|| match hardware::encode(&mut *st, c) {
            Ok(()) => false,
            Err(why) => {
                log!("{why}: the real libjpeg encodes this image instead");
                true
            }
        });
        if failed && fallback::encode(st, c) {
            guard(|| fallback::adopt_capture(&mut *st));
        }
        (*st).phase = Phase::Emitting { rows: rows as u32 };
        resume(st, c)
    }
}

#[no_mangle]
pub unsafe extern "C" fn jpeg_write_scanlines(
    cinfo: *mut c_void,
    lines: *const *const u8,
    n: c_uint,
) -> c_uint {
    let st = lookup(cinfo);
    // SAFETY: as in jpeg_start_compress; `lines` holds `n` rows (libjpeg's contract).
    unsafe {
        match phase(st) {
            Some(Phase::Collecting) => {
                let c = view(st, cinfo);
                let Some(job) = take_rows(st, c, false) else {
                    return 0;
                };
                let k = guard(|| (*job).store_rows(lines, n as usize));
                rows_taken(st, c, k)
            }
            Some(Phase::Emitting { .. }) => resume(st, view(st, cinfo)),
            Some(Phase::Emitted) => {
                warn(view(st, cinfo), TOO_MUCH_DATA);
                0
            }
            _ => (real_for(st).write_scanlines)(cinfo, lines, n),
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn jpeg_write_raw_data(
    cinfo: *mut c_void,
    data: *const *const *const u8,
    n: c_uint,
) -> c_uint {
    let st = lookup(cinfo);
    // SAFETY: as in jpeg_start_compress; `data` is a JSAMPIMAGE of one iMCU row.
    unsafe {
        match phase(st) {
            Some(Phase::Collecting) => {
                let c = view(st, cinfo);
                let Some(job) = take_rows(st, c, true) else {
                    return 0;
                };
                if (n as usize) < (*job).lines_per_imcu() {
                    raise(c, BUFFER_SIZE, 0);
                    return 0;
                }
                let k = guard(|| (*job).store_raw(data));
                rows_taken(st, c, k)
            }
            Some(Phase::Emitting { .. }) => resume(st, view(st, cinfo)),
            Some(Phase::Emitted) => {
                warn(view(st, cinfo), TOO_MUCH_DATA);
                0
            }
            _ => (real_for(st).write_raw_data)(cinfo, data, n),
        }
    }
}

/// After the last byte: what libjpeg leaves behind a finished image (tables marked sent).
///
/// # Safety
/// `c` is live and its tables checked at start.
unsafe fn finished(st: &mut State, c: Cinfo) {
    // SAFETY: per the contract.
    unsafe {
        for i in 0..2 {
            (*c.ptr::<QuantTbl>(Field::QuantTblPtrs, i)).sent_table = 1;
            (*c.ptr::<HuffTbl>(Field::DcHuffTblPtrs, i)).sent_table = 1;
            (*c.ptr::<HuffTbl>(Field::AcHuffTblPtrs, i)).sent_table = 1;
        }
        let p: *mut ProgressMgr = c.ptr(Field::Progress, 0);
        if let Some(p) = p.as_mut() {
            p.completed_passes = p.total_passes;
        }
    }
    st.reset();
}

#[no_mangle]
pub unsafe extern "C" fn jpeg_finish_compress(cinfo: *mut c_void) {
    let st = lookup(cinfo);
    // SAFETY: as in jpeg_start_compress.
    unsafe {
        match phase(st) {
            Some(Phase::Collecting | Phase::Emitting { .. }) => {
                raise(view(st, cinfo), TOO_LITTLE_DATA, 0);
            }
            Some(Phase::Emitted) => {
                let c = view(st, cinfo);
                if let Some(term) = (*c.dest()).term_destination {
                    term(cinfo);
                }
                guard(|| finished(&mut *st, c));
                ((*st).real.abort)(cinfo);
            }
            _ => (real_for(st).finish_compress)(cinfo),
        }
    }
}

/// Drops the object's image (the program aborts or destroys it).
///
/// # Safety
/// `st` is NULL or live, `cinfo` its object.
unsafe fn abandon(st: *mut State, cinfo: *mut c_void, destroy: bool) {
    if st.is_null() {
        return;
    }
    guard(|| {
        if destroy {
            state::remove(cinfo as usize);
        } else {
            // SAFETY: live (checked non-NULL; the caller's contract).
            unsafe { (*st).reset() };
        }
    })
}

/// The four calls that end an object's image (and, for destroy, the object): ours is dropped,
/// then the real libjpeg's `call` runs.
///
/// # Safety
/// `cinfo` is a live libjpeg object (compress or decompress), `st` its state or NULL.
unsafe fn end_image(
    st: *mut State,
    cinfo: *mut c_void,
    destroy: bool,
    call: fn(&real::Real) -> unsafe extern "C" fn(real::ObjectPtr),
) {
    // SAFETY: per the contract.
    unsafe {
        let real = real_for(st);
        abandon(st, cinfo, destroy);
        call(real)(cinfo)
    }
}

#[no_mangle]
pub unsafe extern "C" fn jpeg_abort_compress(cinfo: *mut c_void) {
    // SAFETY: the program's live object.
    unsafe { end_image(lookup(cinfo), cinfo, false, |r| r.abort_compress) }
}

#[no_mangle]
pub unsafe extern "C" fn jpeg_abort(cinfo: *mut c_void) {
    // SAFETY: `st` is NULL or live; the program's live object (decompress objects, and the
    // fallback's own object from inside the real libjpeg: not registered, forwarded).
    unsafe { end_image(lookup(cinfo), cinfo, false, |r| r.abort) }
}

#[no_mangle]
pub unsafe extern "C" fn jpeg_destroy_compress(cinfo: *mut c_void) {
    // SAFETY: the program's live object.
    unsafe { end_image(lookup(cinfo), cinfo, true, |r| r.destroy_compress) }
}

#[no_mangle]
pub unsafe extern "C" fn jpeg_destroy(cinfo: *mut c_void) {
    // SAFETY: the program's live object (decompress objects too: not ours, forwarded).
    unsafe { end_image(lookup(cinfo), cinfo, true, |r| r.destroy) }
}
