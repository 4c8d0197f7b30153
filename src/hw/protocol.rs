//! The `/dev/jpegenc` protocols: what both driver generations share, and each one's request
//! numbers, argument sizes and typed calls ([`e`]: Meson8b / Odroid C1; [`j`]: GXBB / Odroid C2
//! and later). Facts: jpegenc-e-generation.md §2, §5, §7 and jpegenc-j-generation.md §2-§6.
//!
//! Every request is `_IOW(magic, nr, 4)` whatever the real argument is; the drivers ignore the
//! size and direction fields, so the raw numbers are what matters. They are the same on ARM32,
//! aarch64 and x86_64. The typed calls use nix's `*_bad` macros with those raw numbers; each
//! pointer type is exactly what the driver reads or writes, or a larger zeroed scratch, so the
//! driver never touches memory we do not own.

/// `_IOW(magic, nr, 4)`.
const fn request(magic: u8, nr: u32) -> u32 {
    (1 << 30) | (4 << 16) | ((magic as u32) << 8) | nr
}

/// Our scratch for GET_BUFFINFO and GET_DEVINFO: larger than any generation writes (E 5
/// words, J 7; DEVINFO at most 10 bytes), zeroed.
pub const SCRATCH_WORDS: usize = 32;

// The scratch must hold what either generation's GET_BUFFINFO writes.
const _: () = assert!(SCRATCH_WORDS >= j::BUFFINFO_WORDS && SCRATCH_WORDS >= e::BUFFINFO_WORDS);

/// NEW_CMD memory type: the input lives in the driver's own input area.
pub const LOCAL_BUFF: u32 = 0;

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

/// The E generation (magic 'E').
pub mod e {
    use super::{request, SCRATCH_WORDS};

    pub const NEW_CMD: u32 = request(b'E', 0x03);
    pub const GET_STAGE: u32 = request(b'E', 0x04);
    pub const GET_OUTPUT_SIZE: u32 = request(b'E', 0x05);
    pub const SET_QUALITY: u32 = request(b'E', 0x06);
    pub const SET_ENCODER_WIDTH: u32 = request(b'E', 0x07);
    pub const SET_ENCODER_HEIGHT: u32 = request(b'E', 0x08);
    pub const CONFIG_INIT: u32 = request(b'E', 0x09);
    pub const FLUSH_CACHE: u32 = request(b'E', 0x0a);
    pub const FLUSH_DMA: u32 = request(b'E', 0x0b);
    pub const GET_BUFFINFO: u32 = request(b'E', 0x0c);
    pub const SEL_QUANT_TABLE: u32 = request(b'E', 0x0e);
    pub const SET_EXT_QUANT_TABLE: u32 = request(b'E', 0x0f);
    pub const GET_DEVINFO: u32 = request(b'E', 0xf0);

    /// Words the driver reads for NEW_CMD and writes for GET_BUFFINFO.
    pub const NEW_CMD_WORDS: usize = 7;
    pub const BUFFINFO_WORDS: usize = 5;
    /// `encoder_status` once a job is complete (reset to 0 by every NEW_CMD).
    pub const STAGE_DONE: u32 = 4;

    nix::ioctl_readwrite_bad!(get_buffinfo, GET_BUFFINFO, [u32; SCRATCH_WORDS]);
    nix::ioctl_readwrite_bad!(get_devinfo, GET_DEVINFO, [u8; 4 * SCRATCH_WORDS]);
    nix::ioctl_readwrite_bad!(set_encoder_width, SET_ENCODER_WIDTH, u32);
    nix::ioctl_readwrite_bad!(set_encoder_height, SET_ENCODER_HEIGHT, u32);
    nix::ioctl_write_ptr_bad!(set_quality, SET_QUALITY, i32);
    nix::ioctl_write_ptr_bad!(sel_quant_table, SEL_QUANT_TABLE, i32);
    nix::ioctl_write_ptr_bad!(set_ext_quant_table, SET_EXT_QUANT_TABLE, [u16; 128]);
    nix::ioctl_none_bad!(config_init, CONFIG_INIT);
    nix::ioctl_write_ptr_bad!(new_cmd, NEW_CMD, [u32; NEW_CMD_WORDS]);
    nix::ioctl_read_bad!(get_stage, GET_STAGE, u32);
    nix::ioctl_read_bad!(get_output_size, GET_OUTPUT_SIZE, u32);
    nix::ioctl_write_ptr_bad!(flush_cache, FLUSH_CACHE, [u32; 3]);
    nix::ioctl_write_ptr_bad!(flush_dma, FLUSH_DMA, [u32; 3]);
}

/// The J generation (magic 'J').
pub mod j {
    use super::{request, SCRATCH_WORDS};

    pub const GET_BUFFINFO: u32 = request(b'J', 0x00);
    pub const CONFIG_INIT: u32 = request(b'J', 0x01);
    pub const NEW_CMD: u32 = request(b'J', 0x02);
    pub const GET_OUTPUT_SIZE: u32 = request(b'J', 0x04);
    pub const GET_DEVINFO: u32 = request(b'J', 0xf0);

    /// Words the driver copies for NEW_CMD (whatever the caller allocated) and GET_BUFFINFO.
    pub const NEW_CMD_WORDS: usize = 30;
    pub const BUFFINFO_WORDS: usize = 7;
    /// The assist (header) buffer's size.
    pub const ASSIST_SIZE: u32 = 0x2000;

    nix::ioctl_readwrite_bad!(get_buffinfo, GET_BUFFINFO, [u32; SCRATCH_WORDS]);
    nix::ioctl_readwrite_bad!(get_devinfo, GET_DEVINFO, [u8; 4 * SCRATCH_WORDS]);
    nix::ioctl_none_bad!(config_init, CONFIG_INIT);
    nix::ioctl_write_ptr_bad!(new_cmd, NEW_CMD, [u32; NEW_CMD_WORDS]);
    nix::ioctl_read_bad!(get_output_size, GET_OUTPUT_SIZE, [u32; 2]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_the_drivers_and_nix_agrees() {
        assert_eq!(e::NEW_CMD, 0x4004_4503);
        assert_eq!(e::GET_BUFFINFO, 0x4004_450c);
        assert_eq!(e::GET_DEVINFO, 0x4004_45f0);
        assert_eq!(j::GET_BUFFINFO, 0x4004_4a00);
        assert_eq!(j::NEW_CMD, 0x4004_4a02);
        assert_eq!(j::GET_OUTPUT_SIZE, 0x4004_4a04);
        assert_eq!(j::GET_DEVINFO, 0x4004_4af0);
        assert_eq!(
            nix::request_code_write!(b'E', 0x0c, 4) as u32,
            e::GET_BUFFINFO
        );
        assert_eq!(nix::request_code_write!(b'J', 0x02, 4) as u32, j::NEW_CMD);
        // The blocks we pass are exactly the driver's sizes.
        assert_eq!(std::mem::size_of::<[u32; e::NEW_CMD_WORDS]>(), 28);
        assert_eq!(std::mem::size_of::<[u32; j::NEW_CMD_WORDS]>(), 120);
    }
}
