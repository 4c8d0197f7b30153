//! What the device is: its buffer geometry (validated against the map, with the bitstream
//! buffer as far as it really extends), its limits, and which frames it may be given.

use super::bound::max_scan_bytes;
use super::protocol::{self as p, Generation};
use crate::error::{Error, Result};
use crate::format::Subsampling;
use crate::quant::Quantisation;
use std::ops::Range;

/// The device's buffer geometry, validated: every area inside the map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BufferInfo {
    pub total: usize,
    pub input: Range<usize>,
    /// J: the assist buffer the driver writes the header into.
    pub header: Option<Range<usize>>,
    /// The bitstream buffer, as far as it lies inside the map.
    pub bitstream: Range<usize>,
    /// The bitstream size the driver reports, and programs as the hardware's output window:
    /// larger than `bitstream` when it runs past the reserved block (E levels 8M, 13M, HD).
    pub window: usize,
}

fn implausible(w: &[u32]) -> Error {
    Error::device(format!("implausible buffer geometry {w:x?}"))
}

impl BufferInfo {
    /// E: `[total, input start, input size, bitstream start, bitstream size]`. The bitstream
    /// capacity is min(size, total − start): the 8M/HD levels report 64 MiB.
    pub fn from_e_words(w: &[u32; p::e::BUFFINFO_WORDS]) -> Result<BufferInfo> {
        let [total, in_start, in_size, bs_start, bs_size] =
            [w[0], w[1], w[2], w[3], w[4]].map(|v| v as usize);
        Self::check(w, total, in_start, in_size, None, bs_start, bs_size)
    }

    /// J: `[total, input start, input size, assist start, assist size, bitstream start,
    /// bitstream size]`.
    pub fn from_j_words(w: &[u32; p::j::BUFFINFO_WORDS]) -> Result<BufferInfo> {
        let [total, in_start, in_size, as_start, as_size, bs_start, bs_size] =
            [w[0], w[1], w[2], w[3], w[4], w[5], w[6]].map(|v| v as usize);
        if as_size != p::j::ASSIST_SIZE as usize
            || as_start < in_start
            || as_start.saturating_add(as_size) > bs_start.min(total)
        {
            return Err(implausible(w));
        }
        Self::check(
            w,
            total,
            in_start,
            in_size.min(as_start - in_start),
            Some(as_start..as_start + as_size),
            bs_start,
            bs_size,
        )
    }

    fn check(
        w: &[u32],
        total: usize,
        in_start: usize,
        in_size: usize,
        header: Option<Range<usize>>,
        bs_start: usize,
        bs_size: usize,
    ) -> Result<BufferInfo> {
        if total == 0 {
            return Err(Error::device(
                "the driver reports no memory (GET_BUFFINFO: 0 bytes reserved): the encoder's \
                 reserved memory or CMA pool is missing",
            ));
        }
        if total > 1 << 30 {
            return Err(Error::device(format!(
                "implausible reserved size {total:#x}"
            )));
        }
        if in_start >= total || bs_start >= total || in_start >= bs_start || in_size == 0 {
            return Err(implausible(w));
        }
        let input_cap = in_size.min(bs_start - in_start);
        let bitstream_cap = bs_size.min(total - bs_start);
        if bitstream_cap < 64 * 1024 {
            return Err(Error::device(format!(
                "bitstream buffer of {bitstream_cap} bytes is too small"
            )));
        }
        Ok(BufferInfo {
            total,
            input: in_start..in_start + input_cap,
            header,
            bitstream: bs_start..bs_start + bitstream_cap,
            window: bs_size,
        })
    }

    /// Whether the hardware's output window runs past the reserved block, so a long scan
    /// would be written into memory that is not the device's.
    pub fn window_overruns(&self) -> bool {
        self.window > self.bitstream.len()
    }
}

/// What the media_modules driver (J on 4.9 / 5.4 / 5.15 vendor kernels) adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaModules {
    /// Dma-buf input is enabled (QUERY_DMA_SUPPORT, the `use_dma_io` module parameter).
    pub dma_input: bool,
    /// The board's SoC from its device tree (or `$AML_JPEG_SOC`), if it says.
    pub soc: Option<String>,
    /// The driver reads the input with NEW_CMD2's strides (a C1+-class SoC).
    pub honours_strides: bool,
}

/// What the device is, for `amljpeg info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    pub generation: Generation,
    /// What GET_DEVINFO says ("AML-M8", "AML-GXBB", "AML-GXTVBB").
    pub soc: String,
    pub max_width: u32,
    pub max_height: u32,
    pub buffers: BufferInfo,
    /// J: the media_modules driver's additions, when it is that driver.
    pub media_modules: Option<MediaModules>,
}

/// E: the MFDIN size register holds the padded height in 12 bits (`(PW << 12) | PH`), so
/// padded heights of 4096 and more corrupt the width (docs/driver.md §3).
const E_MAX_HEIGHT: usize = 4080;

impl DeviceInfo {
    /// The side of the largest square frame the device is given at `quality` in 4:2:0 (the
    /// level's maximum, or less where only frames whose worst case fits go; see
    /// [`DeviceInfo::check_output_fits`]).
    pub fn largest_square(&self, quality: u8) -> usize {
        let level = self.max_width.min(self.max_height) as usize;
        if !self.buffers.window_overruns() {
            return level;
        }
        let tables = crate::quant::QuantTables::for_quality(quality);
        super::bound::largest_square(self.scan_space(), Subsampling::S420, &tables).min(level)
    }

    /// Whether the hardware can encode this frame: size within the level (and E's size
    /// register), a subsampling it produces.
    pub fn supports(&self, width: usize, height: usize, subsampling: Subsampling) -> Result<()> {
        if subsampling == Subsampling::S444 {
            return Err(Error::unsupported(
                "the hardware encoder cannot produce 4:4:4",
            ));
        }
        if width > self.max_width as usize || height > self.max_height as usize {
            return Err(Error::unsupported(format!(
                "{width}x{height} exceeds the device's {}x{} buffer level",
                self.max_width, self.max_height
            )));
        }
        if self.generation == Generation::E && height > E_MAX_HEIGHT {
            return Err(Error::unsupported(format!(
                "a height of {height} overflows the E hardware's size register (at most {E_MAX_HEIGHT})"
            )));
        }
        Ok(())
    }

    /// Bytes of entropy data (with EOI) the real bitstream buffer holds: E's header takes the
    /// first 592 bytes of it, J's lives elsewhere.
    pub fn scan_space(&self) -> usize {
        let header = match self.generation {
            Generation::E => p::HEADER_LEN,
            Generation::J => 0,
        };
        self.buffers.bitstream.len().saturating_sub(header)
    }

    /// Whether the driver may be given this frame without the hardware writing outside the
    /// device's memory: where its output window runs past the reserved block, only frames
    /// whose worst-case scan fits the real buffer go (see [`super::bound`]).
    pub fn check_output_fits(
        &self,
        width: usize,
        height: usize,
        subsampling: Subsampling,
        quant: &Quantisation,
    ) -> Result<()> {
        if !self.buffers.window_overruns() {
            return Ok(());
        }
        let worst = max_scan_bytes(width, height, subsampling, &quant.tables());
        if worst > self.scan_space() {
            return Err(Error::unsupported(format!(
                "a {width}x{height} frame can take up to {worst} bytes at these settings, but the \
                 device's real bitstream buffer holds {} (its driver programs a {}-byte output \
                 window that runs past the reserved memory, so larger frames stay off the device; \
                 a 24 MiB reservation avoids this)",
                self.scan_space(),
                self.buffers.window
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e_buffer_info_is_validated() {
        let c1 = BufferInfo::from_e_words(&[0x1800000, 0, 0x13B3000, 0x1400000, 0x400000]).unwrap();
        assert_eq!(
            (c1.input, c1.bitstream),
            (0..0x13B3000, 0x1400000..0x1800000)
        );
        // The 8M level reports a 64 MiB bitstream buffer that runs 60 MiB past the block.
        let l8 =
            BufferInfo::from_e_words(&[0x2300000, 0, 0x1E7B000, 0x1F00000, 0x4000000]).unwrap();
        assert_eq!(l8.bitstream, 0x1F00000..0x2300000);
        for bad in [
            [0, 0, 1, 2, 3],
            [0x1000000, 0, 0x100, 0x2000000, 0x100000],
            [0x1000000, 0x800000, 0x100, 0x400000, 0x100000],
            [0x100000, 0, 0x1000, 0xFF000, 0x100000],
        ] {
            assert!(BufferInfo::from_e_words(&bad).is_err(), "{bad:x?}");
        }
    }

    #[test]
    fn j_buffer_info_is_validated() {
        let c2 = BufferInfo::from_j_words(&[
            0x1800000, 0, 0x13B3000, 0x13B4000, 0x2000, 0x1400000, 0x400000,
        ])
        .unwrap();
        assert_eq!(
            (c2.input, c2.header, c2.bitstream),
            (
                0..0x13B3000,
                Some(0x13B4000..0x13B6000),
                0x1400000..0x1800000
            )
        );
        // An assist buffer overlapping the bitstream, or too small for the header: refused.
        assert!(BufferInfo::from_j_words(&[
            0x1800000, 0, 0x13B3000, 0x13FF000, 0x2000, 0x1400000, 0x400000
        ])
        .is_err());
        assert!(BufferInfo::from_j_words(&[
            0x1800000, 0, 0x13B3000, 0x13B4000, 0x100, 0x1400000, 0x400000
        ])
        .is_err());
    }
}
