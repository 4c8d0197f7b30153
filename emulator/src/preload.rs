//! LD_PRELOAD interposition: makes the emulated device appear at `/dev/jpegenc` (or
//! `$JPEGENC_EMU_PATH`) for the whole process. Only that path and the descriptors handed out
//! for it are touched; every other call goes straight to the next definition (libc).
//!
//! The functions are defined non-variadic: on the ABIs we target (x86_64 SysV, ARM EABI) a
//! variadic callee receives the optional int/pointer argument exactly where a fixed third
//! parameter would be, and stable Rust cannot define C-variadic functions.
#![allow(clippy::missing_safety_doc)]
// c_ulong and off_t are 32-bit on armv7: the casts that are no-ops on x86_64 are not there.
#![allow(clippy::unnecessary_cast)]

use crate::driver::Driver;
use libc::{c_char, c_int, c_ulong, c_void, nfds_t, off_t, pollfd, size_t};
use parking_lot::Mutex;
use std::ffi::CStr;
use std::os::fd::{AsRawFd, IntoRawFd};
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::OnceLock;

static DRIVER: OnceLock<Driver> = OnceLock::new();
static DEVICE_PATH: OnceLock<Vec<u8>> = OnceLock::new();
/// The descriptor currently handed out for the device (-1: none). The driver allows one open.
static DEVICE_FD: AtomicI32 = AtomicI32::new(-1);
/// Number of live client mappings, so munmap's fast path needs no lock.
static MAPPINGS: AtomicUsize = AtomicUsize::new(0);

/// The open file as the VFS sees it: released when the descriptor is closed and no mapping
/// holds a reference any more.
struct OpenFile {
    closed: bool,
    read_only: bool,
    maps: Vec<(usize, usize)>,
}

static OPEN: Mutex<Option<OpenFile>> = Mutex::new(None);

fn driver() -> &'static Driver {
    DRIVER.get_or_init(|| {
        // SAFETY: registering a plain extern "C" function.
        unsafe { libc::atexit(at_exit) };
        Driver::from_env()
    })
}

extern "C" fn at_exit() {
    if let Some(d) = DRIVER.get() {
        d.flush_stats();
    }
}

fn device_path() -> &'static [u8] {
    DEVICE_PATH.get_or_init(|| {
        std::env::var("JPEGENC_EMU_PATH")
            .ok()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/dev/jpegenc".into())
            .into_bytes()
    })
}

fn is_device(path: *const c_char) -> bool {
    // SAFETY: `path` is NUL-terminated per open()'s contract (checked non-NULL).
    !path.is_null() && unsafe { CStr::from_ptr(path) }.to_bytes() == device_path()
}

fn is_ours(fd: c_int) -> bool {
    fd >= 0 && DEVICE_FD.load(Ordering::Acquire) == fd
}

fn set_errno(e: c_int) {
    // SAFETY: errno is thread-local.
    unsafe { *libc::__errno_location() = e };
}

/// Resolves the next definition of a libc function once.
macro_rules! real {
    ($name:ident : $ty:ty) => {{
        static SLOT: AtomicUsize = AtomicUsize::new(0);
        let mut p = SLOT.load(Ordering::Relaxed);
        if p == 0 {
            // SAFETY: dlsym with RTLD_NEXT and a NUL-terminated name.
            p = unsafe {
                libc::dlsym(
                    libc::RTLD_NEXT,
                    concat!(stringify!($name), "\0").as_ptr().cast(),
                )
            } as usize;
            SLOT.store(p, Ordering::Relaxed);
        }
        assert!(
            p != 0,
            concat!("jpegenc-emu: no next definition of ", stringify!($name))
        );
        // SAFETY: the symbol has this C signature.
        unsafe { std::mem::transmute::<usize, $ty>(p) }
    }};
}

/// Calls the next definition of a libc function with the caller's own arguments.
macro_rules! forward {
    ($name:ident : $ty:ty, $($arg:expr),* $(,)?) => {{
        let next = real!($name: $ty);
        // SAFETY: the next definition of the same function, with the arguments our caller
        // passed under that function's own contract.
        unsafe { next($($arg),*) }
    }};
}

fn open_device(flags: c_int) -> c_int {
    let d = driver();
    match d.open() {
        Ok(fd) => {
            if flags & libc::O_CLOEXEC == 0 {
                // SAFETY: clearing FD_CLOEXEC on our own descriptor.
                unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, 0) };
            }
            *OPEN.lock() = Some(OpenFile {
                closed: false,
                read_only: flags & libc::O_ACCMODE == libc::O_RDONLY,
                maps: Vec::new(),
            });
            let raw = fd.into_raw_fd();
            DEVICE_FD.store(raw, Ordering::Release);
            raw
        }
        Err(e) => {
            set_errno(e);
            -1
        }
    }
}

/// Releases the device once its descriptor is closed and its last mapping is gone.
fn release_if_unreferenced(open: &mut Option<OpenFile>) {
    if open.as_ref().is_some_and(|o| o.closed && o.maps.is_empty()) {
        *open = None;
        driver().release();
    }
}

/// The emulated board's device tree files: where a program looks for the SoC.
const DEVICE_TREE_COMPATIBLE: [&[u8]; 2] = [
    b"/proc/device-tree/compatible",
    b"/sys/firmware/devicetree/base/compatible",
];

/// A read-only file holding the emulated board's `compatible`, for a device tree path.
fn device_tree_file(path: *const c_char) -> Option<c_int> {
    if path.is_null() {
        return None;
    }
    // SAFETY: NUL-terminated per open()'s contract (checked non-NULL).
    let name = unsafe { CStr::from_ptr(path) }.to_bytes();
    if !DEVICE_TREE_COMPATIBLE.contains(&name) {
        return None;
    }
    let content = driver().compatible();
    let fd = match crate::memory::memfd(c"compatible") {
        Ok(fd) => fd.into_raw_fd(),
        Err(errno) => {
            set_errno(errno);
            return Some(-1);
        }
    };
    // SAFETY: writing our bytes to our memfd, then rewinding it for the reader.
    let ok = unsafe {
        libc::write(fd, content.as_ptr().cast(), content.len()) == content.len() as isize
            && libc::lseek(fd, 0, libc::SEEK_SET) == 0
    };
    if !ok {
        // SAFETY: closing the memfd we made.
        unsafe { libc::close(fd) };
        set_errno(libc::EIO);
        return Some(-1);
    }
    Some(fd)
}

/// Defines an `open`-family entry: the device path opens the emulated device, the device
/// tree's `compatible` names the emulated SoC, anything else goes to the next definition with
/// the same arguments.
macro_rules! interpose_open {
    ($name:ident ($($arg:ident: $ty:ty),*), $path:ident, $flags:ident) => {
        #[no_mangle]
        pub unsafe extern "C" fn $name($($arg: $ty),*) -> c_int {
            if is_device($path) {
                return charged(|| open_device($flags));
            }
            if let Some(fd) = device_tree_file($path) {
                return fd;
            }
            forward!($name: unsafe extern "C" fn($($ty),*) -> c_int, $($arg),*)
        }
    };
}

interpose_open!(open(path: *const c_char, flags: c_int, mode: libc::mode_t), path, flags);
interpose_open!(open64(path: *const c_char, flags: c_int, mode: libc::mode_t), path, flags);
interpose_open!(__open_2(path: *const c_char, flags: c_int), path, flags);
interpose_open!(__open64_2(path: *const c_char, flags: c_int), path, flags);
interpose_open!(openat(dirfd: c_int, path: *const c_char, flags: c_int, mode: libc::mode_t), path, flags);
interpose_open!(openat64(dirfd: c_int, path: *const c_char, flags: c_int, mode: libc::mode_t), path, flags);
interpose_open!(__openat_2(dirfd: c_int, path: *const c_char, flags: c_int), path, flags);
interpose_open!(__openat64_2(dirfd: c_int, path: *const c_char, flags: c_int), path, flags);

#[no_mangle]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    if is_ours(fd) {
        let mut open = OPEN.lock();
        DEVICE_FD.store(-1, Ordering::Release);
        let r = forward!(close: unsafe extern "C" fn(c_int) -> c_int, fd);
        if let Some(o) = open.as_mut() {
            o.closed = true;
        }
        release_if_unreferenced(&mut open);
        return r;
    }
    forward!(close: unsafe extern "C" fn(c_int) -> c_int, fd)
}

/// Runs `f` (the model's work inside an interposed call) and counts the CPU it took as the
/// model's, so a client's CPU time less the model's is its own (see `Stats::model_cpu_ns`).
fn charged<T>(f: impl FnOnce() -> T) -> T {
    let cpu0 = crate::stats::thread_cpu_ns();
    let result = f();
    driver().charge_cpu(crate::stats::thread_cpu_ns().saturating_sub(cpu0));
    result
}

fn do_ioctl(fd: c_int, request: c_ulong, arg: *mut c_void) -> c_int {
    let d = driver();
    // SAFETY: the driver dereferences `arg` like the kernel driver; the caller's contract.
    let call = || unsafe { d.ioctl(request as u64, arg) };
    // Reading the thread's CPU clock costs two system calls: more than a light ioctl's model.
    let result = if d.is_heavy(request as u64) {
        charged(call)
    } else {
        call()
    };
    match result {
        Ok(v) => v,
        Err(e) => {
            let _ = fd;
            set_errno(e);
            -1
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn ioctl(fd: c_int, request: c_ulong, arg: *mut c_void) -> c_int {
    if is_ours(fd) {
        return do_ioctl(fd, request, arg);
    }
    forward!(ioctl: unsafe extern "C" fn(c_int, c_ulong, *mut c_void) -> c_int, fd, request, arg)
}

/// glibc's entry for programs built with 64-bit time_t on 32-bit targets.
#[no_mangle]
pub unsafe extern "C" fn __ioctl_time64(fd: c_int, request: c_ulong, arg: *mut c_void) -> c_int {
    if is_ours(fd) {
        return do_ioctl(fd, request, arg);
    }
    forward!(__ioctl_time64: unsafe extern "C" fn(c_int, c_ulong, *mut c_void) -> c_int, fd, request, arg)
}

/// # Safety
/// mmap's contract for the arguments.
unsafe fn map_device(
    addr: *mut c_void,
    len: size_t,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    offset: i64,
) -> *mut c_void {
    if let Err(e) = driver().note_map(offset as u64, len) {
        set_errno(e);
        return libc::MAP_FAILED;
    }
    let mut open = OPEN.lock();
    if open.as_ref().is_some_and(|o| o.read_only)
        && prot & libc::PROT_WRITE != 0
        && flags & libc::MAP_SHARED != 0
    {
        set_errno(libc::EACCES);
        return libc::MAP_FAILED;
    }
    let p = forward!(mmap64: unsafe extern "C" fn(*mut c_void, size_t, c_int, c_int, c_int, libc::off64_t) -> *mut c_void, addr, len, prot, flags, fd, offset as libc::off64_t);
    if p != libc::MAP_FAILED {
        if let Some(o) = open.as_mut() {
            o.maps.push((p as usize, len));
            MAPPINGS.fetch_add(1, Ordering::AcqRel);
        }
    }
    p
}

#[no_mangle]
pub unsafe extern "C" fn mmap(
    addr: *mut c_void,
    len: size_t,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    offset: off_t,
) -> *mut c_void {
    if is_ours(fd) {
        // SAFETY: mmap's own arguments, under its contract.
        return charged(|| unsafe { map_device(addr, len, prot, flags, fd, offset as i64) });
    }
    forward!(mmap: unsafe extern "C" fn(*mut c_void, size_t, c_int, c_int, c_int, off_t) -> *mut c_void, addr, len, prot, flags, fd, offset)
}

#[no_mangle]
pub unsafe extern "C" fn mmap64(
    addr: *mut c_void,
    len: size_t,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    offset: libc::off64_t,
) -> *mut c_void {
    if is_ours(fd) {
        // SAFETY: mmap's own arguments, under its contract.
        return charged(|| unsafe { map_device(addr, len, prot, flags, fd, offset as i64) });
    }
    forward!(mmap64: unsafe extern "C" fn(*mut c_void, size_t, c_int, c_int, c_int, libc::off64_t) -> *mut c_void, addr, len, prot, flags, fd, offset)
}

#[no_mangle]
pub unsafe extern "C" fn munmap(addr: *mut c_void, len: size_t) -> c_int {
    let r = forward!(munmap: unsafe extern "C" fn(*mut c_void, size_t) -> c_int, addr, len);
    if r == 0 && MAPPINGS.load(Ordering::Acquire) > 0 {
        let mut open = OPEN.lock();
        if let Some(o) = open.as_mut() {
            let (start, end) = (addr as usize, addr as usize + len);
            let before = o.maps.len();
            o.maps.retain(|&(p, _)| !(start <= p && p < end));
            MAPPINGS.fetch_sub(before - o.maps.len(), Ordering::AcqRel);
        }
        release_if_unreferenced(&mut open);
    }
    r
}

/// Poll with our descriptor replaced by the driver's readiness eventfd. Each completion makes
/// one poll readable, and that poll consumes it, as in the driver.
unsafe fn poll_with(
    fds: *mut pollfd,
    nfds: nfds_t,
    wait: impl Fn(*mut pollfd, nfds_t) -> c_int,
) -> Option<c_int> {
    if fds.is_null() || nfds == 0 {
        return None;
    }
    // SAFETY: the caller passes `nfds` pollfds at `fds`.
    let user = unsafe { std::slice::from_raw_parts_mut(fds, nfds as usize) };
    if !user.iter().any(|p| is_ours(p.fd)) {
        return None;
    }
    let d = driver();
    let ready_fd = d.ready_fd()?;
    let mut copy: Vec<pollfd> = user
        .iter()
        .map(|p| {
            if is_ours(p.fd) {
                pollfd {
                    fd: ready_fd,
                    events: libc::POLLIN,
                    revents: 0,
                }
            } else {
                *p
            }
        })
        .collect();
    let r = wait(copy.as_mut_ptr(), nfds);
    if r < 0 {
        return Some(r);
    }
    let mut count = 0;
    for (u, c) in user.iter_mut().zip(&copy) {
        u.revents = if is_ours(u.fd) {
            let mask = if d.poll_consume() {
                libc::POLLIN | libc::POLLRDNORM
            } else {
                0
            };
            mask & (u.events | libc::POLLERR | libc::POLLHUP)
        } else {
            c.revents
        };
        if u.revents != 0 {
            count += 1;
        }
    }
    Some(count)
}

/// Polls until something is ready or `timeout_ms` passes (negative: forever), retrying when
/// another thread consumed the completion that woke us.
unsafe fn poll_device(fds: *mut pollfd, nfds: nfds_t, timeout_ms: c_int) -> Option<c_int> {
    let deadline = (timeout_ms >= 0)
        .then(|| std::time::Instant::now() + std::time::Duration::from_millis(timeout_ms as u64));
    loop {
        let remaining = match deadline {
            None => -1,
            Some(d) => d
                .saturating_duration_since(std::time::Instant::now())
                .as_millis()
                .min(i32::MAX as u128) as c_int,
        };
        let real_poll = real!(poll: unsafe extern "C" fn(*mut pollfd, nfds_t, c_int) -> c_int);
        // SAFETY: forwarded.
        let r = unsafe { poll_with(fds, nfds, |p, n| real_poll(p, n, remaining)) }?;
        if r != 0 || remaining == 0 {
            return Some(r);
        }
    }
}

/// Whether the device is among the `nfds` pollfds at `fds`.
///
/// # Safety
/// `fds` is NULL or points at `nfds` pollfds (poll's contract).
unsafe fn has_device(fds: *const pollfd, nfds: nfds_t) -> bool {
    // SAFETY: the caller's contract.
    !fds.is_null() && (0..nfds as usize).any(|i| is_ours(unsafe { (*fds.add(i)).fd }))
}

#[no_mangle]
pub unsafe extern "C" fn poll(fds: *mut pollfd, nfds: nfds_t, timeout: c_int) -> c_int {
    // SAFETY: the caller passes `nfds` pollfds at `fds` (poll's contract).
    if unsafe { has_device(fds, nfds) } {
        // SAFETY: as above.
        if let Some(r) = charged(|| unsafe { poll_device(fds, nfds, timeout) }) {
            return r;
        }
    }
    forward!(poll: unsafe extern "C" fn(*mut pollfd, nfds_t, c_int) -> c_int, fds, nfds, timeout)
}

#[no_mangle]
pub unsafe extern "C" fn __poll_chk(
    fds: *mut pollfd,
    nfds: nfds_t,
    timeout: c_int,
    _fdslen: size_t,
) -> c_int {
    // SAFETY: as for poll.
    unsafe { poll(fds, nfds, timeout) }
}

#[no_mangle]
pub unsafe extern "C" fn ppoll(
    fds: *mut pollfd,
    nfds: nfds_t,
    tmo: *const libc::timespec,
    sigmask: *const libc::sigset_t,
) -> c_int {
    let timeout_ms = if tmo.is_null() {
        -1
    } else {
        // SAFETY: a valid timespec per ppoll's contract.
        let t = unsafe { *tmo };
        (t.tv_sec as i64 * 1000 + (t.tv_nsec as i64 + 999_999) / 1_000_000).min(i32::MAX as i64)
            as c_int
    };
    // SAFETY: the caller passes `nfds` pollfds at `fds` (ppoll's contract).
    if unsafe { has_device(fds, nfds) } {
        // SAFETY: the caller passes `nfds` pollfds at `fds` (ppoll's contract).
        if let Some(r) = charged(|| unsafe { poll_device(fds, nfds, timeout_ms) }) {
            return r;
        }
    }
    forward!(ppoll: unsafe extern "C" fn(*mut pollfd, nfds_t, *const libc::timespec, *const libc::sigset_t) -> c_int, fds, nfds, tmo, sigmask)
}
