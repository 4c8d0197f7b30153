//! The encoder process. On the board the encode costs the client's process no CPU; so that a
//! client's CPU time means the same here, the model's encoder runs in a helper process
//! (`jpegenc-emu-hw`) that maps the same memfds. The client-side worker thread just waits for
//! its answer, blocked in `read`. A DMA_BUFF job's imported buffer travels with the job as a
//! descriptor (SCM_RIGHTS), so the helper reads it as the device would, by mapping it.

use crate::hardware::{self, HwJob, HwResult, JOB_BYTES, RESULT_BYTES};
use crate::memory::Memory;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Where the helper gets its descriptors.
const LIVE_FD: i32 = 3;
const PHYS_FD: i32 = 4;
const SOCKET_FD: i32 = 5;
pub const HELPER_NAME: &str = "jpegenc-emu-hw";

pub struct HwProcess {
    stream: UnixStream,
    child: Child,
}

/// The helper next to the library this code was loaded from (the preload `.so`, or a
/// binary), if it is there.
pub fn find_helper() -> Option<PathBuf> {
    // SAFETY: Dl_info is plain data; all-zero is a valid value.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: dladdr on the address of one of our own functions; `info` is writable.
    if unsafe { libc::dladdr(find_helper as *const libc::c_void, &mut info) } == 0
        || info.dli_fname.is_null()
    {
        return None;
    }
    // SAFETY: dladdr returned a NUL-terminated path.
    let me = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
    let helper = Path::new(std::ffi::OsStr::from_bytes(me.to_bytes()))
        .parent()?
        .join(HELPER_NAME);
    helper.is_file().then_some(helper)
}

impl HwProcess {
    /// Starts the helper with the CPU view, the device-side memory and a socket as descriptors 3, 4, 5.
    pub fn spawn(helper: &Path, live: &Memory, phys: &Memory) -> std::io::Result<HwProcess> {
        let (ours, theirs) = UnixStream::pair()?;
        let fds = [live.fd.as_raw_fd(), phys.fd.as_raw_fd(), theirs.as_raw_fd()];
        let mut cmd = Command::new(helper);
        cmd.arg(live.len().to_string())
            .arg(phys.len().to_string())
            .env_remove("LD_PRELOAD")
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        // SAFETY: between fork and exec only async-signal-safe calls (fcntl, dup2): first move
        // the descriptors out of the way, then onto 3, 4, 5 (dup2 clears close-on-exec).
        unsafe {
            cmd.pre_exec(move || {
                let mut high = [0; 3];
                for (h, &fd) in high.iter_mut().zip(&fds) {
                    *h = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 100);
                    if *h < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                for (target, &h) in [LIVE_FD, PHYS_FD, SOCKET_FD].iter().zip(&high) {
                    if libc::dup2(h, *target) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let child = cmd.spawn()?;
        drop(theirs);
        Ok(HwProcess {
            stream: ours,
            child,
        })
    }

    /// Runs one job in the helper (with the imported buffer `dma` for DMA_BUFF jobs) and waits
    /// (blocked, no CPU) for its result.
    pub fn run(&mut self, job: &HwJob, dma: Option<&Memory>) -> std::io::Result<HwResult> {
        let bytes = job.to_bytes();
        let sent = send_with_fd(&self.stream, &bytes, dma.map(|m| m.fd.as_raw_fd()))?;
        self.stream.write_all(&bytes[sent..])?;
        let mut reply = [0u8; RESULT_BYTES];
        self.stream.read_exact(&mut reply)?;
        Ok(HwResult::from_bytes(&reply))
    }
}

impl Drop for HwProcess {
    fn drop(&mut self) {
        // Closing the socket ends the helper; reap it.
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
        let _ = self.child.wait();
    }
}

/// The helper's main loop: jobs in, results out, until the client goes away.
pub fn serve() -> std::io::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap_or(0))
        .collect();
    let [live_len, phys_len] = args[..] else {
        return Err(std::io::Error::other(
            "usage: jpegenc-emu-hw LIVE_LEN VIEW_LEN (started by the emulator)",
        ));
    };
    // SAFETY: the emulator passed these descriptors to us; nothing else owns them.
    let (live_fd, phys_fd, socket) = unsafe {
        (
            OwnedFd::from_raw_fd(LIVE_FD),
            OwnedFd::from_raw_fd(PHYS_FD),
            UnixStream::from_raw_fd(SOCKET_FD),
        )
    };
    let live = Memory::map(live_fd, live_len).map_err(std::io::Error::from_raw_os_error)?;
    let phys = Memory::map(phys_fd, phys_len).map_err(std::io::Error::from_raw_os_error)?;
    let mut socket = socket;
    let mut request = [0u8; JOB_BYTES];
    // Every job allocates frames of megabytes; keep them in the heap between jobs instead of
    // mapping (and faulting in, and zeroing) fresh pages each time. The helper's own malloc.
    // (glibc's largest threshold: 4 Mi longs.)
    let largest = (4 << 20) * std::mem::size_of::<libc::c_long>() as libc::c_int;
    // SAFETY: mallopt only tunes this process's allocator.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, largest);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 2 * largest);
    }
    loop {
        let (got, fd) = recv_with_fd(&socket, &mut request)?;
        if got == 0 {
            return Ok(()); // the client went away
        }
        socket.read_exact(&mut request[got..])?;
        let dma = fd
            .map(Memory::map_shared_buffer)
            .transpose()
            .map_err(std::io::Error::from_raw_os_error)?;
        let result = hardware::run(&HwJob::from_bytes(&request), &live, &phys, dma.as_ref());
        socket.write_all(&result.to_bytes())?;
    }
}

/// Room for one descriptor's control message, aligned as `cmsghdr` must be.
type Control = [u64; 8];

/// A message header over one buffer and `control_len` bytes of `control`.
fn message(iov: &mut libc::iovec, control: &mut Control, control_len: usize) -> libc::msghdr {
    // SAFETY: msghdr is plain data; zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = control_len as _;
    msg
}

/// Sends the first bytes of `bytes` with `fd` attached (SCM_RIGHTS); returns how many went.
fn send_with_fd(stream: &UnixStream, bytes: &[u8], fd: Option<i32>) -> std::io::Result<usize> {
    let Some(fd) = fd else { return Ok(0) };
    let mut iov = libc::iovec {
        iov_base: bytes.as_ptr() as *mut libc::c_void,
        iov_len: bytes.len(),
    };
    let mut control: Control = [0; 8];
    // SAFETY: CMSG_SPACE is a pure size computation.
    let space = unsafe { libc::CMSG_SPACE(4) } as usize;
    let msg = message(&mut iov, &mut control, space);
    // SAFETY: `msg` describes `control`, aligned and with room for one header and one int.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(4) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<i32>(), fd);
    }
    // SAFETY: `msg` points at live buffers for the duration of the call.
    let sent = unsafe { libc::sendmsg(stream.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
    if sent < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(sent as usize)
}

/// Receives the first bytes of a job into `buf` and the descriptor sent with them, if any.
fn recv_with_fd(stream: &UnixStream, buf: &mut [u8]) -> std::io::Result<(usize, Option<OwnedFd>)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut control: Control = [0; 8];
    let mut msg = message(&mut iov, &mut control, std::mem::size_of::<Control>());
    // SAFETY: `msg` points at live buffers; received descriptors are close-on-exec.
    let got = unsafe { libc::recvmsg(stream.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if got < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: walking the control messages recvmsg filled in.
    let fd = unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (!cmsg.is_null()
            && (*cmsg).cmsg_level == libc::SOL_SOCKET
            && (*cmsg).cmsg_type == libc::SCM_RIGHTS)
            .then(|| {
                OwnedFd::from_raw_fd(std::ptr::read_unaligned(
                    libc::CMSG_DATA(cmsg).cast::<i32>(),
                ))
            })
    };
    Ok((got as usize, fd))
}
