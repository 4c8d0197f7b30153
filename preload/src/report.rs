//! What the program is told, through its own managers: libjpeg's errors (`error_exit`,
//! which does not return) and warnings, with libjpeg's own messages, and progress.

use crate::abi::Field;
use crate::libjpeg::{Cinfo, ErrorMgr, ProgressMgr};
use libc::{c_int, c_long, c_uint};

// libjpeg's messages, found by text in the program's own message table (their numbers
// differ between versions).
pub const BAD_STATE: &[u8] = b"Improper call to JPEG library in state";
pub const BAD_LENGTH: &[u8] = b"Bogus marker length";
pub const BUFFER_SIZE: &[u8] = b"Buffer passed to JPEG library is too small";
pub const TOO_LITTLE_DATA: &[u8] = b"Application transferred too few scanlines";
pub const TOO_MUCH_DATA: &[u8] = b"Application transferred too many scanlines";
pub const CANT_SUSPEND: &[u8] = b"Suspension not allowed here";

/// # Safety
/// `err` is the object's live error manager.
pub unsafe fn message_code(err: *const ErrorMgr, text: &[u8]) -> c_int {
    // SAFETY: per the contract; the table holds last_jpeg_message + 1 entries (NULL-ended).
    unsafe {
        let table = (*err).jpeg_message_table;
        if table.is_null() {
            return 0;
        }
        for code in 0..=(*err).last_jpeg_message.max(0) {
            let msg = *table.offset(code as isize);
            if !msg.is_null() && std::ffi::CStr::from_ptr(msg).to_bytes().starts_with(text) {
                return code;
            }
        }
    }
    0
}

/// libjpeg's ERREXIT through the program's error manager (which does not return).
///
/// # Safety
/// `c` is a live object.
pub unsafe fn raise(c: Cinfo, text: &[u8], parm: c_int) {
    // SAFETY: the object's error manager is live.
    unsafe {
        let err: *mut ErrorMgr = c.ptr(Field::Err, 0);
        (*err).msg_code = message_code(err, text);
        (&mut (*err).msg_parm)[..4].copy_from_slice(&parm.to_ne_bytes());
        if let Some(exit) = (*err).error_exit {
            exit(c.ptr);
        }
    }
}

/// libjpeg's WARNMS.
///
/// # Safety
/// `c` is a live object.
pub unsafe fn warn(c: Cinfo, text: &[u8]) {
    // SAFETY: as above.
    unsafe {
        let err: *mut ErrorMgr = c.ptr(Field::Err, 0);
        (*err).msg_code = message_code(err, text);
        if let Some(emit) = (*err).emit_message {
            emit(c.ptr, -1);
        }
    }
}

/// # Safety
/// `c` is a live object.
pub unsafe fn progress(c: Cinfo, counter: c_uint, limit: c_uint) {
    // SAFETY: the progress manager is NULL or live.
    unsafe {
        let p: *mut ProgressMgr = c.ptr(Field::Progress, 0);
        if let Some(p) = p.as_mut() {
            p.pass_counter = counter as c_long;
            p.pass_limit = limit as c_long;
            if let Some(monitor) = p.progress_monitor {
                monitor(c.ptr);
            }
        }
    }
}
