//! Writing to the program's destination manager: the file header, markers and the body, a
//! suspending destination honoured (the call then consumes nothing and resumes later).

use crate::abi::Field;
use crate::libjpeg::Cinfo;
use crate::report::{raise, CANT_SUSPEND};
use crate::state::{Phase, State};
use libc::c_uint;

/// Writes `data[*done..len]` to the program's destination, advancing `*done`; false when the
/// destination suspended (`empty_output_buffer` returned FALSE or made no room).
///
/// # Safety
/// `dest` is the object's live destination; `data` holds `len` bytes.
pub unsafe fn write_out(c: Cinfo, data: *const u8, len: usize, done: &mut usize) -> bool {
    // SAFETY: per the contract; the destination's window is free_in_buffer bytes long.
    unsafe {
        let dest = c.dest();
        while *done < len {
            if (*dest).free_in_buffer == 0 {
                let Some(empty) = (*dest).empty_output_buffer else {
                    return false;
                };
                if empty(c.ptr) == 0 || (*dest).free_in_buffer == 0 {
                    return false;
                }
            }
            let n = (*dest).free_in_buffer.min(len - *done);
            std::ptr::copy_nonoverlapping(data.add(*done), (*dest).next_output_byte, n);
            (*dest).next_output_byte = (*dest).next_output_byte.add(n);
            (*dest).free_in_buffer -= n;
            *done += n;
        }
    }
    true
}

/// Writes bytes where libjpeg could not suspend (markers): JERR_CANT_SUSPEND if it does.
///
/// # Safety
/// As [`write_out`].
pub unsafe fn write_all(c: Cinfo, data: *const u8, len: usize) -> bool {
    let mut done = 0;
    // SAFETY: per the contract.
    unsafe {
        if !write_out(c, data, len, &mut done) {
            raise(c, CANT_SUSPEND, 0);
            return false;
        }
    }
    true
}

/// Writes what is left of the body; on completion the rows of the call count.
///
/// # Safety
/// `st` is live and ours, `c` its object.
pub unsafe fn resume(st: *mut State, c: Cinfo) -> c_uint {
    // SAFETY: per the contract.
    unsafe {
        let s = &mut *st;
        let head = s.head.len();
        if s.done < head {
            let mut done = s.done;
            let ok = write_out(c, s.head.as_ptr(), head, &mut done);
            s.done = done;
            if !ok {
                return 0;
            }
        }
        let mut done = s.done - head;
        let ok = write_out(c, s.tail.0, s.tail.1, &mut done);
        s.done = head + done;
        if !ok {
            return 0;
        }
        let Phase::Emitting { rows } = s.phase else {
            return 0;
        };
        s.phase = Phase::Emitted;
        c.set_uint(Field::NextScanline, c.uint(Field::NextScanline) + rows);
        rows
    }
}
