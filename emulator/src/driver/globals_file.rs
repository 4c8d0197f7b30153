//! Where the E driver's globals outlive a process, as they outlive it in the kernel: a small
//! shared file mapping in the state directory. A store is a memory write (the ioctls that set
//! a global cost no file write), and what a killed process stored is still there for the next.

use std::os::fd::AsRawFd;
use std::path::Path;

/// Room for the globals' text; the rest of the page is zeros.
const LEN: usize = 4096;

pub(super) struct GlobalsFile {
    ptr: *mut u8,
}

// SAFETY: the mapping is plain shared memory, written and read under the driver's state lock.
unsafe impl Send for GlobalsFile {}
// SAFETY: as above.
unsafe impl Sync for GlobalsFile {}

impl GlobalsFile {
    pub(super) fn open(path: &Path) -> std::io::Result<GlobalsFile> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        file.set_len(LEN as u64)?;
        // SAFETY: a fresh shared mapping of a file we just sized to LEN bytes.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(GlobalsFile { ptr: ptr.cast() })
    }

    /// The text stored last (empty if none).
    pub(super) fn load(&self) -> String {
        let mut bytes = vec![0u8; LEN];
        // SAFETY: the mapping holds LEN bytes.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr, bytes.as_mut_ptr(), LEN) };
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(LEN);
        String::from_utf8_lossy(&bytes[..end]).into_owned()
    }

    pub(super) fn store(&self, text: &str) {
        let n = text.len().min(LEN - 1);
        // SAFETY: n + 1 ≤ LEN bytes of the mapping; the text is ASCII digits and spaces.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), self.ptr, n);
            *self.ptr.add(n) = 0;
        }
    }
}

impl Drop for GlobalsFile {
    fn drop(&mut self) {
        // SAFETY: unmapping the mapping made in `open`.
        unsafe { libc::munmap(self.ptr.cast(), LEN) };
    }
}
