//! The J generation's side of a session (GXBB / Odroid C2 and later): the level from the
//! 7-word buffer info, a job as one 30-word NEW_CMD (media_modules: NEW_CMD2, with strides),
//! completion through poll alone (its stage is sticky), and the scan at the start of the
//! bitstream buffer (the header the driver writes into its assist buffer is never read: the
//! library knows it).

use super::{device_error, verify_all, Job, Scan, Session};
use crate::error::{Error, Result};
use crate::hw::board;
use crate::hw::buffers::{BufferInfo, MediaModules};
use crate::hw::protocol::{self as p, j};
use crate::hw::{header, output};
use crate::quant::Quantisation;
use nix::errno::Errno;
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

/// The media_modules driver's additions, when this is that driver: QUERY_DMA_SUPPORT answers
/// there and is EPERM on the 3.14 driver, with no side effect either way.
pub(super) fn media_modules(fd: BorrowedFd<'_>) -> Result<Option<MediaModules>> {
    match j::query_dma_support(fd) {
        Ok(dma_input) => {
            let soc = board::soc();
            Ok(Some(MediaModules {
                dma_input,
                honours_strides: board::honours_strides(soc.as_deref()),
                soc,
            }))
        }
        Err(Errno::EPERM) => Ok(None),
        Err(e) => Err(device_error("QUERY_DMA_SUPPORT", e)),
    }
}

/// Where a J job's input is.
#[derive(Debug, Clone, Copy)]
pub(super) enum Input {
    /// The input area, laid out in the canvas geometry (the job's).
    Local,
    /// The dma-buf CONFIG_DMA_INPUT imported (media_modules): its planes' strides and the
    /// luma plane's rows, which the C1+ path reads (others read the canvas geometry), and
    /// the bytes the frame takes there.
    DmaBuf {
        strides: [u32; 3],
        luma_rows: u32,
        len: u32,
    },
}

impl Session {
    pub(super) fn run_j(&mut self, job: Job<'_>, input: Input, deadline: Instant) -> Result<Scan> {
        let Quantisation::Quality(quality) = *job.coding.quant else {
            return Err(Error::unsupported(
                "the J driver takes a quality, not tables",
            ));
        };
        let geometry = job.geometry;
        // Size, quality (with the Annex K table set, so the tables are libjpeg's) and the
        // input flush all travel in the command.
        let (mem_type, framesize, flush, strides, luma_rows) = match input {
            Input::Local => {
                let g = geometry;
                let chroma = [g.chroma_stride as u32; 2];
                let strides = [g.stride as u32, chroma[0], chroma[1]];
                (
                    p::LOCAL_BUFF,
                    g.extent as u32,
                    1,
                    strides,
                    g.padded_height as u32,
                )
            }
            // The import maps the buffer for the device: no clean of ours.
            Input::DmaBuf {
                strides,
                luma_rows,
                len,
            } => (p::DMA_BUFF, len, 0, strides, luma_rows),
        };
        if self.info.media_modules.is_some() {
            // NEW_CMD2 names every field, strides included.
            let request = j::Request {
                mem_type,
                input_format: geometry.format,
                output_format: job.out_format(),
                width: geometry.width as u32,
                height: geometry.height as u32,
                framesize,
                quality: quality as u32,
                table: 1,
                flush,
                strides,
                luma_rows,
            };
            j::new_cmd2(self.fd(), &request).map_err(|e| device_error("NEW_CMD2", e))?;
        } else {
            // The 3.14 driver's 30 words; the rest stay zero.
            let mut cmd = [0u32; j::NEW_CMD_WORDS];
            cmd[..10].copy_from_slice(&[
                mem_type,
                geometry.format,
                job.out_format(),
                geometry.width as u32,
                geometry.height as u32,
                framesize,
                0,
                quality as u32,
                1,
                flush,
            ]);
            j::new_cmd(self.fd(), &cmd).map_err(|e| device_error("NEW_CMD", e))?;
        }
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
