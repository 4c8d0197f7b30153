//! Shared memory the model works on: the reserved block (a memfd the client maps) and the
//! input area as the hardware last saw it (the strict cache model), also a memfd so the
//! encoder process can map both.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A memfd and our own shared mapping of it.
pub struct Memory {
    pub fd: OwnedFd,
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is plain shared memory; every access is a raw copy that tolerates
// concurrent writers, as DMA does.
unsafe impl Send for Memory {}
// SAFETY: as above.
unsafe impl Sync for Memory {}

fn last_errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// The size of a client's buffer without moving its file offset (which a duplicated
/// descriptor shares): fstat, or for a dma-buf that reports none there, lseek and back.
fn buffer_size(fd: &OwnedFd) -> Result<usize, i32> {
    // SAFETY: fstat into a zeroed stat we own.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above, on a descriptor we own.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
        return Err(last_errno());
    }
    if st.st_size > 0 {
        return Ok(st.st_size as usize);
    }
    // SAFETY: lseek on a descriptor we own, restoring the offset it had.
    unsafe {
        let here = libc::lseek(fd.as_raw_fd(), 0, libc::SEEK_CUR);
        let end = libc::lseek(fd.as_raw_fd(), 0, libc::SEEK_END);
        if here >= 0 {
            libc::lseek(fd.as_raw_fd(), here, libc::SEEK_SET);
        }
        if end < 0 {
            return Err(last_errno());
        }
        Ok(end as usize)
    }
}

/// A new, empty, close-on-exec memfd (the system call: glibc's memfd_create() is newer than
/// the boards' 2.17 floor).
pub fn memfd(name: &std::ffi::CStr) -> Result<OwnedFd, i32> {
    // SAFETY: memfd_create with a NUL-terminated name.
    let raw = unsafe {
        libc::syscall(libc::SYS_memfd_create, name.as_ptr(), libc::MFD_CLOEXEC) as libc::c_int
    };
    if raw < 0 {
        return Err(last_errno());
    }
    // SAFETY: `raw` is a fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

impl Memory {
    /// A new zeroed memfd of `len` bytes, mapped.
    pub fn new(name: &std::ffi::CStr, len: usize) -> Result<Memory, i32> {
        let fd = memfd(name)?;
        // SAFETY: valid descriptor; the length fits off_t for every level.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), len as libc::off_t) } != 0 {
            return Err(last_errno());
        }
        Memory::map(fd, len)
    }

    /// Maps `len` bytes of an existing memfd (the encoder process receives them this way).
    pub fn map(fd: OwnedFd, len: usize) -> Result<Memory, i32> {
        Memory::map_with(fd, len, libc::PROT_READ | libc::PROT_WRITE)
    }

    /// Maps a client's buffer (a dma-buf, or a memfd standing in for one) read-only, whole:
    /// what the device's DMA can read of it. Never [`Memory::write`] to it.
    pub fn map_shared_buffer(fd: OwnedFd) -> Result<Memory, i32> {
        let len = buffer_size(&fd)?;
        if len == 0 {
            return Err(libc::EINVAL);
        }
        Memory::map_with(fd, len, libc::PROT_READ)
    }

    fn map_with(fd: OwnedFd, len: usize, prot: i32) -> Result<Memory, i32> {
        // SAFETY: a shared mapping of `len` bytes of a file that is at least that long.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len.max(1),
                prot,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(last_errno());
        }
        Ok(Memory {
            fd,
            ptr: ptr.cast(),
            len,
        })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies `[start, start + out.len())` out; bytes beyond the end read as zero.
    pub fn read(&self, start: usize, out: &mut [u8]) {
        let n = out.len().min(self.len.saturating_sub(start));
        // SAFETY: `start + n <= len`; the source is our live mapping.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr.add(start), out.as_mut_ptr(), n) };
        out[n..].fill(0);
    }

    /// Writes `data` at `start`, clipped to the end; returns the bytes written.
    pub fn write(&self, start: usize, data: &[u8]) -> usize {
        let n = data.len().min(self.len.saturating_sub(start));
        // SAFETY: `start + n <= len`.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.add(start), n) };
        n
    }

    /// Copies `len` bytes from `src[src_start..]` to `self[dst_start..]`, clipped to both.
    pub fn copy_from(&self, dst_start: usize, src: &Memory, src_start: usize, len: usize) {
        let n = len
            .min(self.len.saturating_sub(dst_start))
            .min(src.len.saturating_sub(src_start));
        // SAFETY: both ranges lie inside their mappings; distinct memfds never overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(src.ptr.add(src_start), self.ptr.add(dst_start), n)
        };
    }
}

impl Drop for Memory {
    fn drop(&mut self) {
        // SAFETY: unmapping our own mapping.
        unsafe { libc::munmap(self.ptr.cast(), self.len.max(1)) };
    }
}
