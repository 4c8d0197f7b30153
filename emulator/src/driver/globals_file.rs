//! Where the E driver's globals outlive a process, as they outlive it in the kernel: a small
//! shared file mapping in the state directory. A store is a few word writes (the ioctls that
//! set a global cost no file write and no formatting, as in the kernel), and what a killed
//! process stored is still there for the next.

use crate::memory::Memory;
use std::path::Path;

/// One page: a word saying the rest was stored, then the words (little-endian).
const LEN: usize = 4096;
/// The globals' count.
pub(super) const WORDS: usize = 6;
/// Written before the words (ASCII "JPGE"): a fresh file holds zeros, nothing stored.
const STORED: u32 = 0x4A50_4745;

/// The file, mapped shared. Read and written under the driver's state lock; a torn read of
/// another process's store is what the kernel's unlocked globals would give too.
pub(super) struct GlobalsFile(Memory);

impl GlobalsFile {
    pub(super) fn open(path: &Path) -> std::io::Result<GlobalsFile> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        file.set_len(LEN as u64)?;
        Memory::map(file.into(), LEN)
            .map(GlobalsFile)
            .map_err(std::io::Error::from_raw_os_error)
    }

    /// The words stored last, if any were.
    pub(super) fn load(&self) -> Option<[u32; WORDS]> {
        let mut bytes = [0u8; 4 * (WORDS + 1)];
        self.0.read(0, &mut bytes);
        let word = |i: usize| u32::from_le_bytes(bytes[4 * i..4 * i + 4].try_into().unwrap());
        (word(0) == STORED).then(|| std::array::from_fn(|i| word(1 + i)))
    }

    pub(super) fn store(&self, values: [u32; WORDS]) {
        let mut words = [0u8; 4 * WORDS];
        for (bytes, v) in words.chunks_exact_mut(4).zip(values) {
            bytes.copy_from_slice(&v.to_le_bytes());
        }
        self.0.write(4, &words);
        // The words first, then the mark that they are there.
        self.0.write(0, &STORED.to_le_bytes());
    }
}
