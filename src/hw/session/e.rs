//! The E generation's side of a session (Meson8b / Odroid C1): its limits, set-up, and a job
//! as separate ioctls (size, quality, tables, the 7-word NEW_CMD), completion confirmed with
//! GET_STAGE, and the scan in the bitstream buffer behind the driver's own header.

use super::{device_error, verify_all, Job, Scan, Session};
use crate::error::{Error, ErrorKind, Result};
use crate::format::Subsampling;
use crate::hw::buffers::BufferInfo;
use crate::hw::output;
use crate::hw::protocol::{self as p, e, e::Buffer};
use crate::quant::{QuantTables, Quantisation};
use std::os::fd::BorrowedFd;
use std::time::Instant;

/// The buffer geometry and the level's size limits: asking for more than the maximum writes
/// the maximum back and changes nothing.
pub(super) fn limits(fd: BorrowedFd<'_>) -> Result<(BufferInfo, u32, u32)> {
    let words = e::get_buffinfo(fd).map_err(|e| device_error("GET_BUFFINFO", e))?;
    let buffers = BufferInfo::from_e_words(&words)?;
    let w = e::set_encoder_width(fd, u32::MAX);
    let h = e::set_encoder_height(fd, u32::MAX);
    let (w, h) = w
        .and_then(|w| Ok((w, h?)))
        .map_err(|e| device_error("SET_ENCODER_WIDTH/HEIGHT", e))?;
    Ok((buffers, w, h))
}

/// CONFIG_INIT, then quantisation from the Annex K base tables (with SET_QUALTIY they are
/// libjpeg's) and no external table.
pub(super) fn init(fd: BorrowedFd<'_>) -> Result<()> {
    e::config_init(fd).map_err(|e| device_error("CONFIG_INIT", e))?;
    e::sel_quant_table(fd, 1).map_err(|e| device_error("SEL_QUANT_TABLE", e))?;
    e::set_ext_quant_table(fd, None).map_err(|e| device_error("SET_EXT_QUANT_TABLE", e))
}

impl Session {
    /// Programs and starts the job whose input is at `offset` in the input area.
    pub(super) fn start_e(&mut self, job: Job<'_>, offset: usize) -> Result<()> {
        let geometry = job.geometry;
        let end = offset.checked_add(geometry.extent);
        if offset % 64 != 0 || end.is_none_or(|end| end > self.info.buffers.input.len()) {
            return Err(Error::new(
                ErrorKind::Internal,
                "an input slot outside the input area",
            ));
        }
        let quality = self.set_e_tables(job.coding.quant)?;
        let fd = self.fd();
        // Width, height and quality are driver globals: set them for every frame and make sure
        // the size was taken (a refused size writes the maximum back).
        let (w, h) = (geometry.width as u32, geometry.height as u32);
        let taken = e::set_encoder_width(fd, w)
            .and_then(|rw| Ok((rw, e::set_encoder_height(fd, h)?)))
            .map_err(|e| device_error("SET_ENCODER_WIDTH/HEIGHT", e))?;
        if taken != (w, h) {
            return Err(Error::device(format!(
                "the driver refused the size {w}x{h}"
            )));
        }
        e::set_quality(fd, quality as i32).map_err(|e| device_error("SET_QUALTIY", e))?;
        // need_flush with the whole extent: the driver cleans the cache over every byte the
        // hardware reads, padding included.
        let cmd: [u32; e::NEW_CMD_WORDS] = [
            p::LOCAL_BUFF,
            geometry.format,
            job.out_format(),
            0,
            offset as u32,
            geometry.extent as u32,
            1,
        ];
        e::new_cmd(fd, &cmd).map_err(|e| device_error("NEW_CMD", e))
    }

    /// Waits for the job, checks the driver's header and finds the scan behind it.
    pub(super) fn finish_e(&mut self, job: Job<'_>, deadline: Instant) -> Result<Scan> {
        self.wait(deadline, true)?;
        let size =
            e::get_output_size(self.fd()).map_err(|e| device_error("GET_OUTPUT_SIZE", e))? as usize;
        let bitstream = self.info.buffers.bitstream.clone();
        if size + p::HEADER_LEN >= bitstream.len() {
            // Counted with or without the header, it does not fit.
            self.too_long(job, size)?;
        }
        // Invalidate the CPU's view of the header and data before reading them.
        let end = size.saturating_add(p::HEADER_LEN).min(bitstream.len()) as u32;
        e::flush_dma(self.fd(), Buffer::Bitstream, 0, end)
            .map_err(|e| device_error("FLUSH_DMA", e))?;
        let known = self.rule;
        let buf = self.region(bitstream.clone());
        let resolved = output::resolve(buf, size, known, verify_all())?;
        if resolved.append_eoi {
            buf[resolved.len - 2..resolved.len].copy_from_slice(&[0xFF, 0xD9]);
            // The EOI sits in a cache line of the DMA buffer: clean it now, or the CPU's dirty
            // line could be written back over a later frame's output.
            let (from, to) = ((resolved.len - 2) as u32, resolved.len as u32);
            e::flush_cache(self.fd(), Buffer::Bitstream, from, to)
                .map_err(|e| device_error("FLUSH_CACHE", e))?;
        }
        self.rule = resolved.rule.or(known);
        check_driver_header(job, &self.region(bitstream.clone())[..p::HEADER_LEN])?;
        Ok(Scan {
            range: bitstream.start + p::HEADER_LEN..bitstream.start + resolved.len,
            append_eoi: false,
        })
    }

    /// Points the E driver at the tables of `quant` and returns the quality to set: custom
    /// tables go in as the external base table at quality 50, which the driver scales by 100 %.
    /// The driver leaks its previous copy at every SET_EXT_QUANT_TABLE: set it only on change.
    fn set_e_tables(&mut self, quant: &Quantisation) -> Result<u8> {
        let (wanted, quality) = match quant {
            Quantisation::Quality(q) => (None, *q),
            Quantisation::Custom(t) => (Some(&**t), 50),
        };
        if self.ext_table.as_ref() != wanted {
            let words = wanted.map(QuantTables::words);
            e::set_ext_quant_table(self.fd(), words.as_ref())
                .map_err(|e| device_error("SET_EXT_QUANT_TABLE", e))?;
            self.ext_table = wanted.cloned();
        }
        Ok(quality)
    }
}

/// The driver's header carries the size, sampling and tables asked for: they are driver
/// globals, and the E ones persist across opens.
fn check_driver_header(job: Job<'_>, header: &[u8]) -> Result<()> {
    let info = output::check_header(header)?;
    let luma = &header[p::DQT_LUMA..p::DQT_LUMA + 64];
    let chroma = &header[p::DQT_CHROMA..p::DQT_CHROMA + 64];
    if !job.coding.quant.tables().matches_zigzag(luma, chroma) {
        return Err(Error::device(
            "the JPEG's quantisation tables are not the ones asked for",
        ));
    }
    let want_v = if job.coding.subsampling == Subsampling::S422 {
        1
    } else {
        2
    };
    if (info.width, info.height, info.h, info.v)
        != (job.geometry.width, job.geometry.height, 2, want_v)
    {
        return Err(Error::device(format!(
            "the JPEG header says {}x{} sampling {}x{}, not what was asked",
            info.width, info.height, info.h, info.v
        )));
    }
    Ok(())
}
