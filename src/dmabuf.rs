//! Reading a caller's dma-buf with the CPU, when the device cannot read it itself: the frame
//! mapped read-only, inside DMA_BUF_IOCTL_SYNC's CPU-access bracket (the
//! producer's device may have written it behind the CPU's caches). Any other mappable file (a
//! memfd) works too: it answers the sync ioctl ENOTTY and needs none. The caller's descriptor
//! is only borrowed: never closed, its file offset never moved.

use crate::error::{Error, Result};
use memmap2::{Mmap, MmapOptions};
use nix::errno::Errno;
use std::os::fd::{AsRawFd, BorrowedFd};

/// DMA_BUF_IOCTL_SYNC, whose argument is `struct dma_buf_sync { __u64 flags; }`.
mod sync {
    nix::ioctl_write_ptr!(dma_buf_sync, b'b', 0, u64);
    pub const READ: u64 = 1;
    pub const START: u64 = 0;
    pub const END: u64 = 4;
}

/// DMA_BUF_IOCTL_SYNC with `flags`: Ok(false) when `fd` is no dma-buf (nothing to sync).
fn sync(fd: BorrowedFd<'_>, flags: u64) -> Result<bool> {
    loop {
        // SAFETY: the u64 the kernel reads; any other descriptor refuses the request.
        match unsafe { sync::dma_buf_sync(fd.as_raw_fd(), &flags) } {
            Ok(_) => return Ok(true),
            Err(Errno::EINTR) | Err(Errno::EAGAIN) => continue,
            // Not a dma-buf (ENOTTY, EINVAL), or no such ioctl where this runs (ENOSYS:
            // qemu-user does not pass it through): nothing to bracket.
            Err(Errno::ENOTTY) | Err(Errno::EINVAL) | Err(Errno::EBADF) | Err(Errno::ENOSYS) => {
                return Ok(false)
            }
            Err(e) => {
                return Err(Error::device(format!(
                    "DMA_BUF_IOCTL_SYNC on the dma-buf failed: {}",
                    e.desc()
                )))
            }
        }
    }
}

/// The size of the buffer behind `fd`: a dma-buf reports it through its inode (fstat) or,
/// on older kernels, only to lseek, whose offset a dma-buf does not use.
fn size(fd: BorrowedFd<'_>) -> Result<usize> {
    let stat = nix::sys::stat::fstat(fd.as_raw_fd()).map_err(|e| {
        Error::invalid(format!(
            "descriptor {} is not an open buffer: {}",
            fd.as_raw_fd(),
            e.desc()
        ))
    })?;
    let regular = stat.st_mode & libc::S_IFMT == libc::S_IFREG;
    if stat.st_size > 0 || regular {
        return Ok(stat.st_size as usize);
    }
    let end = nix::unistd::lseek(fd.as_raw_fd(), 0, nix::unistd::Whence::SeekEnd)
        .map_err(|e| Error::invalid(format!("cannot tell the buffer's size: {}", e.desc())))?;
    Ok(end as usize)
}

/// `len` bytes from `offset` that lie inside a buffer: only [`Span::check`] makes one, so a
/// mapping of it never reaches past the buffer's end (where reading faults with SIGBUS).
#[derive(Debug, Clone, Copy)]
pub struct Span {
    offset: usize,
    len: usize,
}

impl Span {
    /// Checks that `[offset, offset + len)` lies inside the buffer behind `fd`.
    pub fn check(fd: BorrowedFd<'_>, offset: usize, len: usize) -> Result<Span> {
        let size = size(fd)?;
        if offset.checked_add(len).is_none_or(|end| end > size) {
            return Err(Error::invalid(format!(
                "the frame ({len} bytes from offset {offset}) runs past the end of the \
                 {size}-byte buffer"
            )));
        }
        Ok(Span { offset, len })
    }
}

/// `len` bytes of a buffer from `offset`, mapped read-only for the CPU while this lives.
pub struct MappedBuffer<'fd> {
    fd: BorrowedFd<'fd>,
    map: Mmap,
    /// CPU access was begun with DMA_BUF_IOCTL_SYNC and must be ended.
    synced: bool,
}

impl<'fd> MappedBuffer<'fd> {
    /// Maps `span` of `fd` (checked against the same descriptor).
    pub fn map(fd: BorrowedFd<'fd>, span: Span) -> Result<Self> {
        let Span { offset, len } = span;
        // SAFETY: a read-only shared mapping of the caller's buffer, inside its size (the
        // span was checked against it). The contract of aml_jpeg_encode_dmabuf() forbids shrinking the buffer
        // during the call; what the producer writes meanwhile is read as it is, like DMA.
        let map = unsafe {
            MmapOptions::new()
                .offset(offset as u64)
                .len(len)
                .map(fd.as_raw_fd())
        }
        .map_err(|e| Error::invalid(format!("cannot map the buffer: {e}")))?;
        let synced = sync(fd, sync::START | sync::READ)?;
        Ok(MappedBuffer { fd, map, synced })
    }

    /// The frame's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }
}

impl Drop for MappedBuffer<'_> {
    fn drop(&mut self) {
        if self.synced {
            // Ending CPU access can only fail for a descriptor that was never a dma-buf.
            let _ = sync(self.fd, sync::END | sync::READ);
        }
    }
}
