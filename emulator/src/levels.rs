//! The E driver's buffer levels (docs/driver.md §3) and how the reserved size selects one.

/// A buffer level: limits and the layout of the reserved block (offsets from its start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    pub id: u32,
    pub name: &'static str,
    pub max_width: u32,
    pub max_height: u32,
    pub min_buffsize: u32,
    pub input_start: u32,
    pub input_size: u32,
    pub bitstream_start: u32,
    /// As the driver has it: 64 MiB for 8M/13M/HD, sixteen times what fits (the bitstream-size bug).
    pub bitstream_size: u32,
}

const fn level(
    id: u32,
    name: &'static str,
    max: u32,
    min_buffsize: u32,
    input_size: u32,
    bs_start: u32,
    bs_size: u32,
) -> Level {
    Level {
        id,
        name,
        max_width: max,
        max_height: max,
        min_buffsize,
        input_start: 0,
        input_size,
        bitstream_start: bs_start,
        bitstream_size: bs_size,
    }
}

pub const LEVELS: [Level; 7] = [
    level(0, "VGA", 640, 0x330000, 0x12C000, 0x130000, 0x200000),
    level(1, "2M", 1600, 0x960000, 0x753000, 0x760000, 0x200000),
    level(2, "3M", 2048, 0xE10000, 0xC00000, 0xC10000, 0x200000),
    level(3, "5M", 2624, 0x1800000, 0x13B3000, 0x1400000, 0x400000),
    level(4, "8M", 3264, 0x2300000, 0x1E7B000, 0x1F00000, 0x4000000),
    level(5, "13M", 8192, 0xC400000, 0xC000000, 0xC000000, 0x4000000),
    level(6, "HD", 8192, 0xC400000, 0xC000000, 0xC000000, 0x4000000),
];

/// The J driver's levels: the same sizes, an 8 KiB assist buffer for the header after the
/// input area, and bitstream sizes that fit (the E size bug fixed).
pub const J_LEVELS: [Level; 7] = [
    jlevel(LEVELS[0], 0x130000, 0x200000),
    jlevel(LEVELS[1], 0x760000, 0x200000),
    jlevel(LEVELS[2], 0xC10000, 0x200000),
    jlevel(LEVELS[3], 0x1400000, 0x400000),
    jlevel(LEVELS[4], 0x1F00000, 0x400000),
    jlevel(LEVELS[5], 0xC010000, 0x3F0000),
    jlevel(LEVELS[6], 0xC010000, 0x3F0000),
];

/// Where J's assist (header) buffer starts: after the input area, rounded up to 4 KiB.
pub const fn j_assist_start(level: &Level) -> u32 {
    (level.input_size + 0x1000) & !0xFFF
}

pub const J_ASSIST_SIZE: u32 = 0x2000;

const fn jlevel(e: Level, bitstream_start: u32, bitstream_size: u32) -> Level {
    Level {
        bitstream_start,
        bitstream_size,
        ..e
    }
}

/// The J driver's choice: the largest level whose minimum the buffer reaches.
pub fn select_j(reserved: u32) -> Option<Level> {
    J_LEVELS
        .iter()
        .rev()
        .find(|l| reserved >= l.min_buffsize)
        .copied()
}

/// The level probe picks: the first of HD, 13M, 8M, 5M, 3M, 2M, VGA whose minimum the reserved
/// size reaches. HD shares 13M's threshold and is tested first, so 13M is never chosen. Below
/// VGA's minimum the probe fails and there is no device.
pub fn select(reserved: u32) -> Option<Level> {
    LEVELS
        .iter()
        .rev()
        .find(|l| reserved >= l.min_buffsize)
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection() {
        assert_eq!(select(0x1800000).unwrap().name, "5M");
        assert_eq!(select(0x17FFFFF).unwrap().name, "3M");
        assert_eq!(select(0xC400000).unwrap().name, "HD");
        assert_eq!(select(0x2300000).unwrap().bitstream_size, 0x4000000);
        assert!(select(0x32FFFF).is_none());
        assert!(LEVELS
            .iter()
            .all(|l| select(l.min_buffsize).unwrap().name != "13M"));
        // J: assist buffers where the spec's table has them.
        let assists: Vec<u32> = J_LEVELS.iter().map(j_assist_start).collect();
        assert_eq!(
            assists,
            [0x12D000, 0x754000, 0xC01000, 0x13B4000, 0x1E7C000, 0xC001000, 0xC001000]
        );
        assert_eq!(select_j(0x2300000).unwrap().bitstream_size, 0x400000);
    }
}
