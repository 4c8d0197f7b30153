//! The J generation's side of a session (GXBB / Odroid C2 and later): the level from the
//! 7-word buffer info, a job as one 30-word NEW_CMD, completion through poll alone (its stage
//! is sticky), and the scan at the start of the bitstream buffer (the header the driver writes
//! into its assist buffer is never read: the library knows it).

use super::{device_error, verify_all, Job, Scan, Session};
use crate::error::{Error, Result};
use crate::hw::buffers::BufferInfo;
use crate::hw::protocol::{self as p, j};
use crate::hw::{header, output};
use crate::quant::Quantisation;
use std::os::fd::BorrowedFd;
use std::time::Instant;

/// The buffer geometry and the level's size limit: every J level's input area is 3 × max², so
/// the maximum side needs no private knowledge.
pub(super) fn limits(fd: BorrowedFd<'_>) -> Result<(BufferInfo, u32, u32)> {
    let words = j::get_buffinfo(fd).map_err(|e| device_error("GET_BUFFINFO", e))?;
    let buffers = BufferInfo::from_j_words(&words)?;
    let max = ((words[2] / 3) as f64).sqrt() as u32;
    Ok((buffers, max, max))
}

impl Session {
    pub(super) fn run_j(&mut self, job: Job<'_>, deadline: Instant) -> Result<Scan> {
        let Quantisation::Quality(quality) = *job.coding.quant else {
            return Err(Error::unsupported(
                "the J driver takes a quality, not tables",
            ));
        };
        let geometry = job.geometry;
        // Size, quality (with the Annex K table set, so the tables are libjpeg's) and the
        // input flush all travel in the command; the rest of the 30 words stay zero.
        let mut cmd = [0u32; j::NEW_CMD_WORDS];
        cmd[..10].copy_from_slice(&[
            p::LOCAL_BUFF,
            geometry.format,
            job.out_format(),
            geometry.width as u32,
            geometry.height as u32,
            geometry.extent as u32,
            0,
            quality as u32,
            1,
            1,
        ]);
        j::new_cmd(self.fd(), &cmd).map_err(|e| device_error("NEW_CMD", e))?;
        // GET_STAGE is sticky at 4 on J: completion is known only through poll.
        self.wait(deadline, false)?;
        let [head_bytes, size] =
            j::get_output_size(self.fd()).map_err(|e| device_error("GET_OUTPUT_SIZE", e))?;
        let (head_bytes, size) = (head_bytes as usize, size as usize);
        // The driver's header, to read the scan against: built, not read back, since the CPU
        // may hold a stale copy of the assist buffer (no ioctl invalidates it).
        let header = header::build(
            geometry.width as u16,
            geometry.height as u16,
            job.coding.subsampling,
            &job.coding.quant.tables(),
        );
        let bitstream = self.info.buffers.bitstream.clone();
        if size + 2 > bitstream.len() {
            self.too_long(job, size)?;
        }
        let buf = self.region(bitstream.clone());
        let resolved = output::resolve_scan(&header, buf, head_bytes, size, verify_all())?;
        // A missing EOI cannot be added in place: J has no ioctl to clean the CPU's line in
        // the DMA buffer.
        Ok(Scan {
            range: bitstream.start..bitstream.start + size,
            append_eoi: resolved.append_eoi,
        })
    }
}
