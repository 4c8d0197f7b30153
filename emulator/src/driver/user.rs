//! How the drivers reach user memory: the E driver dereferences pointers directly; the J
//! driver (and E's external table) copy_from_user, which fails cleanly on a bad pointer.

use super::{Driver, Errno, State};
use std::ffi::c_void;

/// Reads `N` values through a user pointer, as the driver's direct dereference does.
///
/// # Safety
/// `arg` must be NULL or point to `N` readable values.
pub(super) unsafe fn user_read<T: Copy + Default, const N: usize>(
    d: &Driver,
    st: &mut State,
    arg: *mut c_void,
) -> Result<[T; N], Errno> {
    if arg.is_null() {
        d.hazard(st, "NULL user pointer: the driver would oops".into());
        return Err(libc::EFAULT);
    }
    let mut out = [T::default(); N];
    // SAFETY: the caller guarantees N readable values at `arg`.
    unsafe { std::ptr::copy_nonoverlapping(arg as *const T, out.as_mut_ptr(), N) };
    Ok(out)
}

/// Writes values through a user pointer.
///
/// # Safety
/// `arg` must be NULL or point to room for `values`.
pub(super) unsafe fn user_write<T: Copy>(
    d: &Driver,
    st: &mut State,
    arg: *mut c_void,
    values: &[T],
) -> Result<i32, Errno> {
    if arg.is_null() {
        d.hazard(st, "NULL user pointer: the driver would oops".into());
        return Err(libc::EFAULT);
    }
    // SAFETY: the caller guarantees room for `values` at `arg`.
    unsafe { std::ptr::copy_nonoverlapping(values.as_ptr(), arg as *mut T, values.len()) };
    Ok(0)
}

/// Writes bytes (no NUL) through a user pointer.
///
/// # Safety
/// As [`user_write`].
pub(super) unsafe fn user_write_bytes(
    d: &Driver,
    st: &mut State,
    arg: *mut c_void,
    bytes: &[u8],
) -> Result<i32, Errno> {
    // SAFETY: forwarded.
    unsafe { user_write(d, st, arg, bytes) }
}

/// copy_from_user: the bytes pass through a pipe, so the kernel checks the pointer and a bad
/// one fails with EFAULT instead of faulting this process (qemu-user checks it the same way).
pub(super) fn copy_from_user<T: Copy>(src: *const c_void, out: &mut [T]) -> bool {
    let len = std::mem::size_of_val(out);
    let mut fds = [0; 2];
    // SAFETY: a pipe into a two-int array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return false;
    }
    // SAFETY: the kernel validates `src`; `out` is writable for `len` bytes; both fds are ours.
    let ok = unsafe {
        libc::write(fds[1], src, len) == len as isize
            && libc::read(fds[0], out.as_mut_ptr().cast(), len) == len as isize
    };
    // SAFETY: closing the pipe we made.
    unsafe {
        libc::close(fds[0]);
        libc::close(fds[1]);
    }
    ok
}
