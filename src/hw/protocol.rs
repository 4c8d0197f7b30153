//! The `/dev/jpegenc` protocols: what both driver generations share, and each one's request
//! numbers, argument blocks and a safe call per request ([`e`]: Meson8b / Odroid C1; [`j`]:
//! GXBB / Odroid C2 and later). This is the one module that holds the ioctl `unsafe`: every
//! call passes the driver a buffer we own, at least as large as the driver reads or writes
//! for that request (docs/driver.md §2).
//!
//! Every request is `_IOW(magic, nr, 4)` whatever the real argument is; the drivers ignore the
//! size and direction fields, so the numbers are built with `request_code_write!` and size 4,
//! never from the argument type. They are the same on ARM32, aarch64 and x86_64.

use nix::errno::Errno;
use std::os::fd::BorrowedFd;

/// The two incompatible drivers behind the same device name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    /// Meson8b / Odroid C1, 3.10 kernels: magic 'E'.
    E,
    /// GXBB / Odroid C2 and later: magic 'J'.
    J,
}

/// `_IOW(magic, nr, 4)`.
macro_rules! request {
    ($magic:expr, $nr:expr) => {
        nix::request_code_write!($magic, $nr, 4)
    };
}

/// Our scratch for GET_BUFFINFO and GET_DEVINFO: larger than any generation writes (E 5
/// words, J 7; DEVINFO at most 10 bytes), zeroed.
const SCRATCH_WORDS: usize = 32;

/// NEW_CMD memory type: the input lives in the driver's own input area.
pub const LOCAL_BUFF: u32 = 0;
/// NEW_CMD memory type (media_modules): the input is the dma-buf CONFIG_DMA_INPUT imported.
pub const DMA_BUFF: u32 = 3;

/// Input/output formats (`jpegenc_frame_fmt`), the same in both generations.
pub mod fmt {
    pub const YUV422_SINGLE: u32 = 0;
    pub const NV21: u32 = 2;
    pub const NV12: u32 = 3;
    pub const YUV420: u32 = 4;
    pub const RGB888: u32 = 6;
}

/// The header both drivers write: 592 bytes, SOF0 and SOS at fixed offsets.
pub const HEADER_LEN: usize = 592;
pub const SOF_OFFSET: usize = 556;
pub const SOS_OFFSET: usize = 578;
/// The two tables of the header's DQT (8-bit, zig-zag order): luma, then chroma.
pub const DQT_LUMA: usize = 7;
pub const DQT_CHROMA: usize = 72;

/// A J call that copied short returns the count it did not copy: an error here.
fn whole(copied_short: i32) -> nix::Result<()> {
    if copied_short == 0 {
        Ok(())
    } else {
        Err(Errno::EFAULT)
    }
}

/// The E generation (magic 'E'). Its driver dereferences user pointers directly, so a bad
/// pointer would oops the kernel: every block here is ours and sized for it.
pub mod e {
    use super::{Errno, SCRATCH_WORDS};
    use std::os::fd::{AsRawFd, BorrowedFd};

    /// Words the driver reads for NEW_CMD and writes for GET_BUFFINFO.
    pub const NEW_CMD_WORDS: usize = 7;
    pub const BUFFINFO_WORDS: usize = 5;
    /// `encoder_status` once a job is complete (reset to 0 by every NEW_CMD).
    pub const STAGE_DONE: u32 = 4;

    mod raw {
        use super::super::SCRATCH_WORDS;
        use super::NEW_CMD_WORDS;
        nix::ioctl_readwrite_bad!(get_buffinfo, request!(b'E', 0x0c), [u32; SCRATCH_WORDS]);
        nix::ioctl_readwrite_bad!(get_devinfo, request!(b'E', 0xf0), [u8; 4 * SCRATCH_WORDS]);
        nix::ioctl_readwrite_bad!(set_encoder_width, request!(b'E', 0x07), u32);
        nix::ioctl_readwrite_bad!(set_encoder_height, request!(b'E', 0x08), u32);
        nix::ioctl_write_ptr_bad!(set_quality, request!(b'E', 0x06), i32);
        nix::ioctl_write_ptr_bad!(sel_quant_table, request!(b'E', 0x0e), i32);
        nix::ioctl_write_ptr_bad!(set_ext_quant_table, request!(b'E', 0x0f), [u16; 128]);
        nix::ioctl_none_bad!(config_init, request!(b'E', 0x09));
        nix::ioctl_write_ptr_bad!(new_cmd, request!(b'E', 0x03), [u32; NEW_CMD_WORDS]);
        nix::ioctl_read_bad!(get_stage, request!(b'E', 0x04), u32);
        nix::ioctl_read_bad!(get_output_size, request!(b'E', 0x05), u32);
        nix::ioctl_write_ptr_bad!(flush_cache, request!(b'E', 0x0a), [u32; 3]);
        nix::ioctl_write_ptr_bad!(flush_dma, request!(b'E', 0x0b), [u32; 3]);
    }

    /// GET_BUFFINFO: `[total, input start, input size, bitstream start, bitstream size]`.
    pub fn get_buffinfo(fd: BorrowedFd<'_>) -> nix::Result<[u32; BUFFINFO_WORDS]> {
        let mut words = [0u32; SCRATCH_WORDS];
        // SAFETY: a zeroed scratch larger than the five words the driver writes.
        unsafe { raw::get_buffinfo(fd.as_raw_fd(), &mut words) }?;
        Ok([words[0], words[1], words[2], words[3], words[4]])
    }

    /// GET_DEVINFO: the SoC string (6 bytes, no NUL, in a zeroed scratch).
    pub fn get_devinfo(fd: BorrowedFd<'_>) -> nix::Result<[u8; 4 * SCRATCH_WORDS]> {
        let mut id = [0u8; 4 * SCRATCH_WORDS];
        // SAFETY: a zeroed scratch larger than any SoC string.
        unsafe { raw::get_devinfo(fd.as_raw_fd(), &mut id) }?;
        Ok(id)
    }

    /// SET_ENCODER_WIDTH: returns what the driver left in the word (the level's maximum,
    /// unchanged setting, when the width is beyond it).
    pub fn set_encoder_width(fd: BorrowedFd<'_>, width: u32) -> nix::Result<u32> {
        let mut w = width;
        // SAFETY: a u32 we own: what the driver reads and may write.
        unsafe { raw::set_encoder_width(fd.as_raw_fd(), &mut w) }?;
        Ok(w)
    }

    /// SET_ENCODER_HEIGHT: as [`set_encoder_width`].
    pub fn set_encoder_height(fd: BorrowedFd<'_>, height: u32) -> nix::Result<u32> {
        let mut h = height;
        // SAFETY: as above.
        unsafe { raw::set_encoder_height(fd.as_raw_fd(), &mut h) }?;
        Ok(h)
    }

    /// SET_QUALTIY (sic): libjpeg's quality, clamped to 1..=100 by the driver.
    pub fn set_quality(fd: BorrowedFd<'_>, quality: i32) -> nix::Result<()> {
        // SAFETY: an int we own.
        unsafe { raw::set_quality(fd.as_raw_fd(), &quality) }.map(drop)
    }

    /// SEL_QUANT_TABLE: the base table pair (0..=2; 3 and negatives read past the driver's
    /// array, so they are refused here).
    pub fn sel_quant_table(fd: BorrowedFd<'_>, id: i32) -> nix::Result<()> {
        if !(0..=2).contains(&id) {
            return Err(Errno::EINVAL);
        }
        // SAFETY: an int we own.
        unsafe { raw::sel_quant_table(fd.as_raw_fd(), &id) }.map(drop)
    }

    /// SET_EXT_QUANT_TABLE: 128 base entries (luma, chroma, natural order), or None to clear.
    pub fn set_ext_quant_table(fd: BorrowedFd<'_>, table: Option<&[u16; 128]>) -> nix::Result<()> {
        let ptr = table.map_or(std::ptr::null(), |t| t as *const _);
        // SAFETY: NULL (the driver copies nothing), or 128 u16s we own: what it copies.
        unsafe { raw::set_ext_quant_table(fd.as_raw_fd(), ptr) }.map(drop)
    }

    /// CONFIG_INIT: powers the block up and loads the microcode (returns 0 even when that
    /// failed).
    pub fn config_init(fd: BorrowedFd<'_>) -> nix::Result<()> {
        // SAFETY: no argument.
        unsafe { raw::config_init(fd.as_raw_fd()) }.map(drop)
    }

    /// NEW_CMD: starts a job and returns at once.
    pub fn new_cmd(fd: BorrowedFd<'_>, cmd: &[u32; NEW_CMD_WORDS]) -> nix::Result<()> {
        // SAFETY: the seven words the driver reads.
        unsafe { raw::new_cmd(fd.as_raw_fd(), cmd) }.map(drop)
    }

    /// GET_STAGE: the driver's copy of the encoder status.
    pub fn get_stage(fd: BorrowedFd<'_>) -> nix::Result<u32> {
        let mut stage = 0;
        // SAFETY: a u32 we own.
        unsafe { raw::get_stage(fd.as_raw_fd(), &mut stage) }?;
        Ok(stage)
    }

    /// GET_OUTPUT_SIZE: the live VLC byte counter.
    pub fn get_output_size(fd: BorrowedFd<'_>) -> nix::Result<u32> {
        let mut size = 0;
        // SAFETY: a u32 we own.
        unsafe { raw::get_output_size(fd.as_raw_fd(), &mut size) }?;
        Ok(size)
    }

    /// Which buffer a cache call is about (the input is cleaned through NEW_CMD's need_flush).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Buffer {
        Bitstream = 1,
    }

    /// The driver syncs `[start, end)` and wraps to about 4 GiB when `end < start`: refused.
    fn range(buffer: Buffer, start: u32, end: u32) -> nix::Result<[u32; 3]> {
        if end < start {
            return Err(Errno::EINVAL);
        }
        Ok([buffer as u32, start, end])
    }

    /// FLUSH_CACHE: CPU→device clean of `[start, end)` of `buffer`.
    pub fn flush_cache(
        fd: BorrowedFd<'_>,
        buffer: Buffer,
        start: u32,
        end: u32,
    ) -> nix::Result<()> {
        let words = range(buffer, start, end)?;
        // SAFETY: the three words the driver reads.
        unsafe { raw::flush_cache(fd.as_raw_fd(), &words) }.map(drop)
    }

    /// FLUSH_DMA: device→CPU invalidate of `[start, end)` of `buffer`.
    pub fn flush_dma(fd: BorrowedFd<'_>, buffer: Buffer, start: u32, end: u32) -> nix::Result<()> {
        let words = range(buffer, start, end)?;
        // SAFETY: the three words the driver reads.
        unsafe { raw::flush_dma(fd.as_raw_fd(), &words) }.map(drop)
    }
}

/// The J generation (magic 'J'): copy_to/from_user throughout; a short copy returns the count
/// not copied, which these calls report as EFAULT. The media_modules driver (docs/driver.md
/// §8) adds the dma-buf calls and NEW_CMD2; the 3.14 driver answers those EPERM.
pub mod j {
    use super::{whole, SCRATCH_WORDS};
    use std::os::fd::{AsRawFd, BorrowedFd};

    /// Words the driver copies for NEW_CMD (whatever the caller allocated) and GET_BUFFINFO.
    pub const NEW_CMD_WORDS: usize = 30;
    pub const BUFFINFO_WORDS: usize = 7;
    /// The assist (header) buffer's size.
    pub const ASSIST_SIZE: u32 = 0x2000;
    /// Words of NEW_CMD2's `jpegenc_request_s` (72 bytes, which its request number encodes).
    pub const REQUEST_WORDS: usize = 18;

    mod raw {
        use super::super::SCRATCH_WORDS;
        use super::{NEW_CMD_WORDS, REQUEST_WORDS};
        nix::ioctl_readwrite_bad!(get_buffinfo, request!(b'J', 0x00), [u32; SCRATCH_WORDS]);
        nix::ioctl_readwrite_bad!(get_devinfo, request!(b'J', 0xf0), [u8; 4 * SCRATCH_WORDS]);
        nix::ioctl_none_bad!(config_init, request!(b'J', 0x01));
        nix::ioctl_write_ptr_bad!(new_cmd, request!(b'J', 0x02), [u32; NEW_CMD_WORDS]);
        nix::ioctl_read_bad!(get_output_size, request!(b'J', 0x04), [u32; 2]);
        nix::ioctl_read_bad!(query_dma_support, request!(b'J', 0x06), u32);
        nix::ioctl_write_ptr_bad!(config_dma_input, request!(b'J', 0x07), i32);
        nix::ioctl_none_bad!(release_dma_input, request!(b'J', 0x08));
        nix::ioctl_write_ptr_bad!(
            new_cmd2,
            nix::request_code_write!(b'J', 0x09, 4 * REQUEST_WORDS),
            [u32; REQUEST_WORDS]
        );
    }

    /// NEW_CMD2's request, by name (the driver's field order is [`Request::words`]).
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct Request {
        pub mem_type: u32,
        pub input_format: u32,
        pub output_format: u32,
        pub width: u32,
        pub height: u32,
        /// LOCAL: bytes to clean when `flush` is set.
        pub framesize: u32,
        pub quality: u32,
        /// 1: the Annex K tables (libjpeg's, scaled by quality).
        pub table: u32,
        /// Bit 0: clean the input first (LOCAL).
        pub flush: u32,
        /// The C1+ path's plane strides and luma height (others read the canvas geometry).
        pub strides: [u32; 3],
        pub luma_rows: u32,
    }

    impl Request {
        /// `jpegenc_request_s`: src, width, height, framesize, quality, table, flush, block
        /// mode, type, input and output formats, y/u/v offsets (unused), y/u/v strides, height
        /// stride.
        pub fn words(&self) -> [u32; REQUEST_WORDS] {
            let [y, u, v] = self.strides;
            [
                0,
                self.width,
                self.height,
                self.framesize,
                self.quality,
                self.table,
                self.flush,
                0,
                self.mem_type,
                self.input_format,
                self.output_format,
                0,
                0,
                0,
                y,
                u,
                v,
                self.luma_rows,
            ]
        }
    }

    /// QUERY_DMA_SUPPORT (media_modules): whether dma-buf input is enabled. The 3.14 driver
    /// answers EPERM, with no side effect: how the two are told apart.
    pub fn query_dma_support(fd: BorrowedFd<'_>) -> nix::Result<bool> {
        let mut enabled = 0u32;
        // SAFETY: the u32 the driver writes with put_user.
        unsafe { raw::query_dma_support(fd.as_raw_fd(), &mut enabled) }?;
        Ok(enabled != 0)
    }

    /// CONFIG_DMA_INPUT (media_modules): imports the dma-buf `buffer` as the next DMA_BUFF
    /// job's input. The driver takes its own reference; the descriptor stays the caller's.
    pub fn config_dma_input(fd: BorrowedFd<'_>, buffer: BorrowedFd<'_>) -> nix::Result<()> {
        let raw_fd: i32 = buffer.as_raw_fd();
        // SAFETY: the i32 the driver copies from user.
        unsafe { raw::config_dma_input(fd.as_raw_fd(), &raw_fd) }.map(drop)
    }

    /// RELEASE_DMA_INPUT (media_modules): drops the imported dma-buf.
    pub fn release_dma_input(fd: BorrowedFd<'_>) -> nix::Result<()> {
        // SAFETY: no argument.
        unsafe { raw::release_dma_input(fd.as_raw_fd()) }.map(drop)
    }

    /// NEW_CMD2 (media_modules): a job from a named request; starts it and returns at once.
    /// Refused (EPERM) before CONFIG_INIT and for a frame beyond the level's area.
    pub fn new_cmd2(fd: BorrowedFd<'_>, request: &Request) -> nix::Result<()> {
        let words = request.words();
        // SAFETY: the 72 bytes the driver copies.
        unsafe { raw::new_cmd2(fd.as_raw_fd(), &words) }.map(drop)
    }

    /// GET_BUFFINFO: `[total, input start, input size, assist start, assist size, bitstream
    /// start, bitstream size]`.
    pub fn get_buffinfo(fd: BorrowedFd<'_>) -> nix::Result<[u32; BUFFINFO_WORDS]> {
        let mut words = [0u32; SCRATCH_WORDS];
        // SAFETY: a zeroed scratch larger than the seven words the driver copies.
        whole(unsafe { raw::get_buffinfo(fd.as_raw_fd(), &mut words) }?)?;
        Ok(std::array::from_fn(|i| words[i]))
    }

    /// GET_DEVINFO: the SoC string (no NUL, in a zeroed scratch). The E driver answers EPERM,
    /// with no side effect: how the generations are told apart.
    pub fn get_devinfo(fd: BorrowedFd<'_>) -> nix::Result<[u8; 4 * SCRATCH_WORDS]> {
        let mut id = [0u8; 4 * SCRATCH_WORDS];
        // SAFETY: a zeroed scratch larger than any SoC string.
        whole(unsafe { raw::get_devinfo(fd.as_raw_fd(), &mut id) }?)?;
        Ok(id)
    }

    /// CONFIG_INIT (returns 0 even when loading the microcode failed, on the 3.14 driver).
    pub fn config_init(fd: BorrowedFd<'_>) -> nix::Result<()> {
        // SAFETY: no argument.
        unsafe { raw::config_init(fd.as_raw_fd()) }.map(drop)
    }

    /// NEW_CMD: the 30-word command; starts the job and returns at once.
    pub fn new_cmd(fd: BorrowedFd<'_>, cmd: &[u32; NEW_CMD_WORDS]) -> nix::Result<()> {
        // SAFETY: the 120 bytes the driver copies.
        unsafe { raw::new_cmd(fd.as_raw_fd(), cmd) }.map(drop)
    }

    /// GET_OUTPUT_SIZE: `[header bytes, output size]`; the driver invalidates the CPU's view
    /// of the output first.
    pub fn get_output_size(fd: BorrowedFd<'_>) -> nix::Result<[u32; 2]> {
        let mut sizes = [0u32; 2];
        // SAFETY: the two words the driver copies.
        whole(unsafe { raw::get_output_size(fd.as_raw_fd(), &mut sizes) }?)?;
        Ok(sizes)
    }
}

/// The device's completion: `poll(POLLIN)` up to `ms` milliseconds. Ok(true) when readable
/// (the driver consumed one completion), Ok(false) on timeout or EINTR.
pub fn poll_ready(fd: BorrowedFd<'_>, ms: i32) -> nix::Result<bool> {
    use nix::poll::{PollFd, PollFlags, PollTimeout};
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    match nix::poll::poll(
        &mut fds,
        PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
    ) {
        Ok(0) | Err(Errno::EINTR) => Ok(false),
        Ok(_) => Ok(true),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_are_the_drivers() {
        assert_eq!(request!(b'E', 0x03) as u32, 0x4004_4503);
        assert_eq!(request!(b'E', 0x0c) as u32, 0x4004_450c);
        assert_eq!(request!(b'E', 0xf0) as u32, 0x4004_45f0);
        assert_eq!(request!(b'J', 0x00) as u32, 0x4004_4a00);
        assert_eq!(request!(b'J', 0x02) as u32, 0x4004_4a02);
        assert_eq!(request!(b'J', 0x04) as u32, 0x4004_4a04);
        assert_eq!(request!(b'J', 0xf0) as u32, 0x4004_4af0);
        assert_eq!(request!(b'J', 0x07) as u32, 0x4004_4a07);
        assert_eq!(nix::request_code_write!(b'J', 0x09, 72) as u32, 0x4048_4a09);
        // The blocks we pass are exactly the driver's sizes.
        assert_eq!(std::mem::size_of::<[u32; super::e::NEW_CMD_WORDS]>(), 28);
        assert_eq!(std::mem::size_of::<[u32; super::j::NEW_CMD_WORDS]>(), 120);
    }
}
