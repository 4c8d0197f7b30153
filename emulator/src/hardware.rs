//! One job of the encoder hardware: read the input as the hardware sees it, encode it, write
//! the entropy data into the bitstream buffer. Runs in the encoder process (see
//! [`crate::hwproc`]) or, without one, on a thread of the client's process.

use crate::encoder::{self, McuLayout, Plane, ScanInput};
use crate::input;
use crate::memory::Memory;
use crate::scan;

/// What the hardware is told for one job, besides memory. Fixed-size so it crosses a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HwJob {
    pub generation: u64,
    pub width: u32,
    pub height: u32,
    pub input_format: u32,
    /// MFDIN output: 4:2:0 (1) or 4:2:2 (0).
    pub mfdin_420: u32,
    /// Offset of the frame in the reserved block; `NO_INPUT`: the input is not in the block.
    pub input_base: u64,
    /// 1: the frame is at the start of the imported dma-buf (MM's DMA_BUFF), handed over with
    /// the job, not in the block.
    pub dma: u32,
    /// The C1+ path's y, u, v strides and luma height; all 0: the canvas geometry.
    pub strides: [u32; 4],
    /// 1: the CPU's view of the output is coherent with memory (the relaxed cache model): the
    /// output lands in both. 0: only in memory, for the CPU to invalidate.
    pub coherent_output: u64,
    pub strict_cache: u32,
    pub corrupt: u32,
    pub eoi: u32,
    /// 1: the scan from the reference encoder; 0: from libjpeg-turbo.
    pub reference_scan: u32,
    /// The input range (start, length in the block) the driver cleaned before starting: the
    /// CPU's view copied to memory as the job's first step.
    pub clean: (u64, u64),
    /// Where the VLC writes and how many bytes fit there.
    pub vlc_start: u64,
    pub room: u64,
    pub luma: [u8; 64],
    pub chroma: [u8; 64],
}

pub const NO_INPUT: u64 = u64::MAX;

/// What a job produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HwResult {
    /// Bytes of entropy data (with EOI if written); more than `room` means it overflowed.
    pub payload_len: u64,
    /// The hardware read input that differs from what the CPU had written (no clean).
    pub stale: u32,
}

pub const JOB_BYTES: usize = 8 + 4 * 4 + 8 + 8 + 3 * 4 + 8 + 8 + 128 + 4 + 16 + 4 + 16;
pub const RESULT_BYTES: usize = 12;

impl HwJob {
    pub fn to_bytes(&self) -> [u8; JOB_BYTES] {
        let mut b = Vec::with_capacity(JOB_BYTES);
        b.extend_from_slice(&self.generation.to_le_bytes());
        for v in [self.width, self.height, self.input_format, self.mfdin_420] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&self.input_base.to_le_bytes());
        b.extend_from_slice(&self.coherent_output.to_le_bytes());
        for v in [self.strict_cache, self.corrupt, self.eoi] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&self.vlc_start.to_le_bytes());
        b.extend_from_slice(&self.room.to_le_bytes());
        b.extend_from_slice(&self.luma);
        b.extend_from_slice(&self.chroma);
        for v in [
            self.dma,
            self.strides[0],
            self.strides[1],
            self.strides[2],
            self.strides[3],
            self.reference_scan,
        ] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&self.clean.0.to_le_bytes());
        b.extend_from_slice(&self.clean.1.to_le_bytes());
        b.try_into().expect("JOB_BYTES")
    }

    pub fn from_bytes(b: &[u8; JOB_BYTES]) -> HwJob {
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
        HwJob {
            generation: u64_at(0),
            width: u32_at(8),
            height: u32_at(12),
            input_format: u32_at(16),
            mfdin_420: u32_at(20),
            input_base: u64_at(24),
            coherent_output: u64_at(32),
            strict_cache: u32_at(40),
            corrupt: u32_at(44),
            eoi: u32_at(48),
            vlc_start: u64_at(52),
            room: u64_at(60),
            luma: b[68..132].try_into().unwrap(),
            chroma: b[132..196].try_into().unwrap(),
            dma: u32_at(196),
            strides: std::array::from_fn(|i| u32_at(200 + 4 * i)),
            reference_scan: u32_at(216),
            clean: (u64_at(220), u64_at(228)),
        }
    }
}

impl HwResult {
    pub fn to_bytes(&self) -> [u8; RESULT_BYTES] {
        let mut b = [0u8; RESULT_BYTES];
        b[..8].copy_from_slice(&self.payload_len.to_le_bytes());
        b[8..].copy_from_slice(&self.stale.to_le_bytes());
        b
    }

    pub fn from_bytes(b: &[u8; RESULT_BYTES]) -> HwResult {
        HwResult {
            payload_len: u64::from_le_bytes(b[..8].try_into().unwrap()),
            stale: u32::from_le_bytes(b[8..].try_into().unwrap()),
        }
    }
}

/// The frame at `base` in `memory` as the hardware fetches it, in the canvas geometry.
fn fetch(job: &HwJob, memory: &Memory, base: usize) -> Vec<u8> {
    let (w, h) = (job.width as usize, job.height as usize);
    if job.strides == [0; 4] {
        let mut frame = vec![0u8; input::extent(job.input_format, w, h)];
        memory.read(base, &mut frame);
        frame
    } else {
        let strides = job.strides.map(|s| s as usize);
        input::gather(job.input_format, w, h, strides, |at, out| {
            memory.read(base + at, out)
        })
    }
}

/// Runs `job` against the CPU's view of the reserved block (`live`, what clients map) and the
/// memory behind it as the device sees it (`phys`: the block and, past it, whatever the
/// driver's output window reaches); a DMA_BUFF job reads the imported buffer `dma`.
pub fn run(job: &HwJob, live: &Memory, phys: &Memory, dma: Option<&Memory>) -> HwResult {
    let (w, h) = (job.width as usize, job.height as usize);
    let (clean_at, clean_len) = (job.clean.0 as usize, job.clean.1 as usize);
    phys.copy_from(clean_at, live, clean_at, clean_len);
    let mut stale = false;
    let source = match (job.dma != 0, dma) {
        (true, Some(buffer)) => fetch(job, buffer, 0),
        (false, _) if job.input_base != NO_INPUT => {
            let base = job.input_base as usize;
            let strides = (job.strides != [0; 4]).then(|| job.strides.map(|s| s as usize));
            let span = input::span(job.input_format, w, h, strides);
            let just_cleaned = clean_at <= base && base + span <= clean_at + clean_len;
            if job.strict_cache == 0 {
                fetch(job, live, base)
            } else if just_cleaned {
                // Memory holds what the CPU wrote: nothing can be stale (one fetch, not two).
                fetch(job, phys, base)
            } else {
                let (cpu, seen) = (fetch(job, live, base), fetch(job, phys, base));
                stale = seen != cpu;
                seen
            }
        }
        // Not in the block, or a DMA_BUFF job without an import: zeros.
        _ => vec![0u8; input::extent(job.input_format, w, h)],
    };
    let mut payload = Vec::new();
    if w > 0 && h > 0 {
        let planes = input::read(&source, job.input_format, w, h, job.mfdin_420 != 0);
        let layout = if job.mfdin_420 != 0 {
            McuLayout { h: 2, v: 2 }
        } else {
            McuLayout { h: 2, v: 1 }
        };
        let input = ScanInput {
            y: Plane::packed(&planes.y[..], planes.luma_width, planes.luma_height),
            cb: Plane::packed(&planes.cb[..], planes.chroma_width, planes.chroma_height),
            cr: Plane::packed(&planes.cr[..], planes.chroma_width, planes.chroma_height),
            layout,
            mcu_cols: w.div_ceil(16),
            mcu_rows: h.div_ceil(8 * layout.v),
            luma: &job.luma,
            chroma: &job.chroma,
        };
        payload.reserve(w * h / 4);
        let fast = job.reference_scan == 0
            && scan::encode_scan(&input, &mut payload)
                .map_err(|e| eprintln!("jpegenc-emu: {e}; using the reference encoder"))
                .is_ok();
        if !fast {
            payload.clear();
            encoder::encode_scan(&input, &mut payload);
        }
    }
    if job.corrupt != 0 {
        let mut x = job.generation as u32 ^ 0x9E37_79B9;
        for b in payload.iter_mut() {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = x as u8;
        }
    }
    if job.eoi != 0 {
        payload.extend_from_slice(&[0xFF, 0xD9]);
    }
    // The VLC stops at the end of its window (whether it wraps is not known; stopping is the
    // case that loses data the size register still counts).
    let fits = payload.len().min(job.room as usize);
    phys.write(job.vlc_start as usize, &payload[..fits]);
    if job.coherent_output != 0 {
        live.write(job.vlc_start as usize, &payload[..fits]);
    }
    HwResult {
        payload_len: payload.len() as u64,
        stale: stale as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_round_trips_through_bytes() {
        let job = HwJob {
            generation: 7,
            width: 451,
            height: 300,
            input_format: 3,
            mfdin_420: 1,
            input_base: NO_INPUT,
            coherent_output: 0,
            strict_cache: 1,
            corrupt: 0,
            eoi: 1,
            vlc_start: 0x1400250,
            room: 1234,
            luma: [3; 64],
            chroma: std::array::from_fn(|i| i as u8),
            dma: 1,
            strides: [2048, 2048, 0, 1080],
            reference_scan: 1,
            clean: (4096, 1 << 20),
        };
        assert_eq!(HwJob::from_bytes(&job.to_bytes()), job);
        let r = HwResult {
            payload_len: 99,
            stale: 1,
        };
        assert_eq!(HwResult::from_bytes(&r.to_bytes()), r);
    }
}
