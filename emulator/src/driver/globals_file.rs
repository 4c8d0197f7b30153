//! Where the E driver's globals outlive a process, as they outlive it in the kernel: a small
//! shared file mapping in the state directory. A store is a few word writes (the ioctls that
//! set a global cost no file write and no formatting, as in the kernel), and what a killed
//! process stored is still there for the next.

use std::os::fd::AsRawFd;
use std::path::Path;

/// One page: a word saying the rest was stored, then the words.
const LEN: usize = 4096;
/// The globals' count.
pub(super) const WORDS: usize = 6;
/// Written before the words (ASCII "JPGE"): a fresh file holds zeros, nothing stored.
const STORED: u32 = 0x4A50_4745;

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

    fn words(&self) -> *mut u32 {
        self.ptr.cast()
    }

    /// The words stored last, if any were.
    pub(super) fn load(&self) -> Option<[u32; WORDS]> {
        // SAFETY: the page-aligned mapping holds LEN ≥ 4 × (WORDS + 1) bytes; callers hold the
        // driver's state lock, and a torn read of another process's store is what the kernel's
        // unlocked globals would give too.
        unsafe {
            if self.words().read_volatile() != STORED {
                return None;
            }
            Some(std::array::from_fn(|i| {
                self.words().add(1 + i).read_volatile()
            }))
        }
    }

    pub(super) fn store(&self, values: [u32; WORDS]) {
        // SAFETY: as in `load`, within the mapping's first WORDS + 1 words.
        unsafe {
            for (i, v) in values.into_iter().enumerate() {
                self.words().add(1 + i).write_volatile(v);
            }
            self.words().write_volatile(STORED);
        }
    }
}

impl Drop for GlobalsFile {
    fn drop(&mut self) {
        // SAFETY: unmapping the mapping made in `open`.
        unsafe { libc::munmap(self.ptr.cast(), LEN) };
    }
}
