//! The `/dev/jpegenc` protocol of the E generation (Meson8b / Odroid C1): request numbers,
//! argument sizes, formats and constants (spec: jpegenc-e-generation.md §2, §5, §7).
//!
//! Every request is `_IOW('E', nr, unsigned int)` whatever the real argument is; the driver
//! ignores the size and direction fields, so the raw numbers are what matters. They are the
//! same on ARM32 and x86_64.

/// `_IOW('E', nr, 4)`.
const fn request(nr: u32) -> u32 {
    (1 << 30) | (4 << 16) | ((b'E' as u32) << 8) | nr
}

pub const GET_ADDR: u32 = request(0x00);
pub const NEW_CMD: u32 = request(0x03);
pub const GET_STAGE: u32 = request(0x04);
pub const GET_OUTPUT_SIZE: u32 = request(0x05);
pub const SET_QUALITY: u32 = request(0x06);
pub const SET_ENCODER_WIDTH: u32 = request(0x07);
pub const SET_ENCODER_HEIGHT: u32 = request(0x08);
pub const CONFIG_INIT: u32 = request(0x09);
pub const FLUSH_CACHE: u32 = request(0x0a);
pub const FLUSH_DMA: u32 = request(0x0b);
pub const GET_BUFFINFO: u32 = request(0x0c);
pub const SEL_QUANT_TABLE: u32 = request(0x0e);
pub const SET_EXT_QUANT_TABLE: u32 = request(0x0f);
pub const GET_DEVINFO: u32 = request(0xf0);

/// The J generation's GET_DEVINFO, used only to tell the generations apart (both drivers
/// answer the other's numbers with EPERM and have no side effects on either).
pub const J_GET_DEVINFO: u32 = 0x4004_4af0;

/// Words the driver reads for NEW_CMD.
pub const NEW_CMD_WORDS: usize = 7;
/// Words the driver writes for GET_BUFFINFO.
pub const BUFFINFO_WORDS: usize = 5;
/// Our scratch for GET_BUFFINFO and GET_DEVINFO: larger than any generation writes (E 5
/// words, J 7; DEVINFO at most 10 bytes), zeroed, so a mismatch can never write past it.
pub const SCRATCH_WORDS: usize = 32;

/// NEW_CMD memory type: the input lives in the driver's own input area.
pub const LOCAL_BUFF: u32 = 0;

/// Input/output formats (`jpegenc_frame_fmt`).
pub mod fmt {
    pub const YUV422_SINGLE: u32 = 0;
    pub const NV21: u32 = 2;
    pub const NV12: u32 = 3;
    pub const YUV420: u32 = 4;
    pub const RGB888_PLANE: u32 = 7;
}

/// `encoder_status` once a job is complete.
pub const STAGE_DONE: u32 = 4;

/// The header the driver writes in front of the entropy data.
pub const HEADER_LEN: usize = 592;
/// Offsets of the SOF0 and SOS markers inside that header.
pub const SOF_OFFSET: usize = 556;
pub const SOS_OFFSET: usize = 578;

/// Typed ioctl calls (nix's `*_bad` macros take the raw number as it is). Each pointer type is
/// exactly what the driver reads or writes, or (GET_BUFFINFO, GET_DEVINFO) a larger zeroed
/// scratch, so the driver never touches memory we do not own.
pub mod ioctl {
    use super::*;
    nix::ioctl_readwrite_bad!(get_buffinfo, GET_BUFFINFO, [u32; SCRATCH_WORDS]);
    nix::ioctl_readwrite_bad!(get_devinfo, GET_DEVINFO, [u8; 4 * SCRATCH_WORDS]);
    nix::ioctl_readwrite_bad!(j_get_devinfo, J_GET_DEVINFO, [u8; 4 * SCRATCH_WORDS]);
    nix::ioctl_readwrite_bad!(set_encoder_width, SET_ENCODER_WIDTH, u32);
    nix::ioctl_readwrite_bad!(set_encoder_height, SET_ENCODER_HEIGHT, u32);
    nix::ioctl_write_ptr_bad!(set_quality, SET_QUALITY, i32);
    nix::ioctl_write_ptr_bad!(sel_quant_table, SEL_QUANT_TABLE, i32);
    nix::ioctl_write_ptr_bad!(set_ext_quant_table, SET_EXT_QUANT_TABLE, [u16; 128]);
    nix::ioctl_none_bad!(config_init, CONFIG_INIT);
    nix::ioctl_write_ptr_bad!(new_cmd, NEW_CMD, [u32; NEW_CMD_WORDS]);
    nix::ioctl_read_bad!(get_stage, GET_STAGE, u32);
    nix::ioctl_read_bad!(get_output_size, GET_OUTPUT_SIZE, u32);
    nix::ioctl_write_ptr_bad!(flush_dma, FLUSH_DMA, [u32; 3]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_the_drivers_and_nix_agrees() {
        assert_eq!(NEW_CMD, 0x4004_4503);
        assert_eq!(GET_BUFFINFO, 0x4004_450c);
        assert_eq!(GET_DEVINFO, 0x4004_45f0);
        assert_eq!(nix::request_code_write!(b'E', 0x0c, 4) as u32, GET_BUFFINFO);
        assert_eq!(
            nix::request_code_write!(b'J', 0xf0, 4) as u32,
            J_GET_DEVINFO
        );
    }
}
