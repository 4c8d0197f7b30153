//! The J driver (GXBB / Odroid C2 and later): its request numbers and ioctls, with
//! copy_to/from_user throughout (a bad pointer fails with -1/EPERM); and, with `mm`, the
//! media_modules driver's additions (docs/driver.md §8): the inited checks, the area size
//! check, dma-buf input and NEW_CMD2, and on C1+-class SoCs the command's strides.

requests! {
    GET_BUFFINFO = 0x4004_4a00,
    CONFIG_INIT = 0x4004_4a01,
    NEW_CMD = 0x4004_4a02,
    GET_STAGE = 0x4004_4a03,
    GET_OUTPUT_SIZE = 0x4004_4a04,
    SET_EXT_QUANT_TABLE = 0x4004_4a05,
    QUERY_DMA_SUPPORT = 0x4004_4a06,
    CONFIG_DMA_INPUT = 0x4004_4a07,
    RELEASE_DMA_INPUT = 0x4004_4a08,
    NEW_CMD2 = 0x4048_4a09,
    GET_DEVINFO = 0x4004_4af0,
}

/// Words NEW_CMD copies from user, whatever the client allocated.
pub const NEW_CMD_WORDS: usize = 30;
/// Words of NEW_CMD2's `jpegenc_request_s`.
pub const REQUEST_WORDS: usize = 18;

/// Memory types (NEW_CMD word 0).
const LOCAL_BUFF: u32 = 0;
const DMA_BUFF: u32 = 3;

/// NEW_CMD2's request in NEW_CMD's word order: src, width, height, framesize, quality,
/// table, flush, block mode, type, input and output formats, y/u/v offsets (only printed),
/// y/u/v strides, luma height.
fn request_as_cmd(r: &[u32; REQUEST_WORDS]) -> [u32; NEW_CMD_WORDS] {
    let mut cmd = [0u32; NEW_CMD_WORDS];
    cmd[..15].copy_from_slice(&[
        r[8], r[9], r[10], r[1], r[2], r[3], r[0], r[4], r[5], r[6], r[7], r[14], r[15], r[16],
        r[17],
    ]);
    cmd
}

use super::j;
use super::user::copy_from_user;
use super::{Driver, Errno, Job, State};
use crate::header::{self, HEADER_LEN};
use crate::input::{self, fmt};
use crate::levels::{self, Level};
use crate::tables;
use std::ffi::c_void;
use std::os::fd::FromRawFd;

impl Driver {
    /// The J driver's ioctls (docs/driver.md §2): copy_to/from_user throughout,
    /// so a bad pointer fails (-1/EPERM) rather than oopsing.
    ///
    /// # Safety
    /// See [`Driver::ioctl`].
    pub(super) unsafe fn ioctl_j(
        &self,
        st: &mut State,
        request: u32,
        arg: *mut c_void,
    ) -> Result<i32, Errno> {
        let level = self.inner.level.expect("open implies a level");
        let put = |st: &mut State, words: &[u32]| {
            if arg.is_null() {
                self.hazard(st, "NULL user pointer (copy_to_user fails)".into());
                return Err(libc::EPERM);
            }
            // SAFETY: the caller guarantees room for the words at `arg` (copy_to_user).
            unsafe { std::ptr::copy_nonoverlapping(words.as_ptr(), arg.cast(), words.len()) };
            Ok(0)
        };
        match request {
            j::GET_DEVINFO => {
                let id = self.inner.config.devinfo.as_bytes();
                if arg.is_null() {
                    return Err(libc::EPERM);
                }
                // SAFETY: as above; no NUL is written.
                unsafe { std::ptr::copy_nonoverlapping(id.as_ptr(), arg.cast(), id.len()) };
                Ok(0)
            }
            j::GET_BUFFINFO => {
                let assist = levels::j_assist_start(&level);
                let info = [
                    self.inner.config.reserve,
                    level.input_start,
                    level.input_size,
                    assist,
                    levels::J_ASSIST_SIZE,
                    level.bitstream_start,
                    level.bitstream_size,
                ];
                put(st, &info)
            }
            j::CONFIG_INIT if st.inited && self.inner.config.mm => Err(libc::EPERM),
            j::CONFIG_INIT => {
                if st.inited {
                    self.hazard(
                        st,
                        "CONFIG_INIT twice reloads the microcode and leaks an IRQ action".into(),
                    );
                }
                self.power_up(st);
                Ok(0)
            }
            j::NEW_CMD => {
                let mut cmd = [0u32; j::NEW_CMD_WORDS];
                if !copy_from_user(arg, &mut cmd) {
                    return Err(libc::EPERM);
                }
                self.new_cmd_j(st, level, &cmd, false)
            }
            j::NEW_CMD2 if self.inner.config.mm => {
                let mut request = [0u32; REQUEST_WORDS];
                if !copy_from_user(arg, &mut request) {
                    return Err(libc::EPERM);
                }
                self.new_cmd_j(st, level, &request_as_cmd(&request), true)
            }
            j::QUERY_DMA_SUPPORT if self.inner.config.mm => {
                put(st, &[self.inner.config.dma_io as u32])
            }
            j::CONFIG_DMA_INPUT if self.inner.config.mm => {
                let mut fd = [0u32; 1];
                if arg.is_null() || !copy_from_user(arg, &mut fd) {
                    return Err(libc::EFAULT);
                }
                self.import_dma(st, fd[0] as i32)
            }
            j::RELEASE_DMA_INPUT if self.inner.config.mm => {
                st.dma = None;
                Ok(0)
            }
            j::GET_STAGE => {
                st.stats.get_stage_calls += 1;
                let status = st.globals.status;
                put(st, &[status])
            }
            j::GET_OUTPUT_SIZE => {
                // Invalidates the CPU's view of [bitstream start, + output size) first.
                let size = st.vlc_total_bytes as usize;
                self.invalidate(level.bitstream_start as usize, 0, size);
                let sizes = [st.head_bytes, st.vlc_total_bytes];
                put(st, &sizes)
            }
            // The external table is compiled out of the J driver.
            j::SET_EXT_QUANT_TABLE => Ok(0),
            _ => Err(libc::EPERM),
        }
    }

    /// CONFIG_DMA_INPUT: imports the client's dma-buf (any descriptor it can map stands in
    /// for one); a descriptor that is not one fails, as the checked import does (7e175868).
    fn import_dma(&self, st: &mut State, fd: i32) -> Result<i32, Errno> {
        if !self.inner.config.dma_io {
            return Err(libc::EPERM);
        }
        // SAFETY: duplicating whatever descriptor number the client passed; a bad one fails.
        let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
        if dup < 0 {
            return Err(libc::EPERM);
        }
        // SAFETY: `dup` is a fresh descriptor we own.
        let owned = unsafe { std::os::fd::OwnedFd::from_raw_fd(dup) };
        let buffer = crate::memory::Memory::map_shared_buffer(owned).map_err(|_| libc::EPERM)?;
        st.dma = Some(std::sync::Arc::new(buffer));
        Ok(0)
    }

    pub(super) fn new_cmd_j(
        &self,
        st: &mut State,
        level: Level,
        cmd: &[u32; j::NEW_CMD_WORDS],
        cmd2: bool,
    ) -> Result<i32, Errno> {
        let mm = self.inner.config.mm;
        if mm && !st.inited {
            // MM's inited check (1e5a14bb).
            return Err(libc::EPERM);
        }
        st.stats.new_cmds += 1;
        let occurrence = st.stats.new_cmds;
        let [mem_type, in_fmt, out_fmt, width, height, framesize, _src, quality, table, flush] = [
            cmd[0], cmd[1], cmd[2], cmd[3], cmd[4], cmd[5], cmd[6], cmd[7], cmd[8], cmd[9],
        ];
        if !st.inited {
            // K programs an unpowered block with no IRQ handler: nothing ever completes.
            self.hazard(st, "NEW_CMD before CONFIG_INIT never completes".into());
            return Ok(0);
        }
        // K and MM0 check each side; MM the area (`is_oversize`).
        let oversize = if mm {
            height == 0
                || width as u64 > (level.max_width as u64 * level.max_height as u64) / height as u64
        } else {
            width > level.max_width || height > level.max_height
        };
        if oversize {
            if cmd2 {
                return Err(libc::EPERM);
            }
            self.hazard(st, format!("{width}x{height} exceeds the level: the command is dropped and never completes"));
            return Ok(0);
        }
        st.stats.cmd2_jobs += cmd2 as u64;
        let mut input_format = in_fmt;
        if input::accepted(in_fmt) {
            st.mfdin = (in_fmt, out_fmt != fmt::YUV422_SINGLE);
            if in_fmt == fmt::YUV420 && !self.inner.config.honours_strides() {
                // Canvas +1 is never configured: U is read through whatever it held (the model:
                // V). The C1+ path sets its planes up itself.
                self.hazard(
                    st,
                    "I420 input on the J canvas path reads U through an unconfigured canvas".into(),
                );
                input_format = fmt::YUV420_U_FROM_V;
            }
        } else {
            self.hazard(
                st,
                format!(
                    "input format {in_fmt} is rejected; the job runs with the stale MFDIN setup"
                ),
            );
            input_format = st.mfdin.0;
        }
        st.globals.width = width;
        st.globals.height = height;
        st.globals.output_format = out_fmt;
        st.globals.scale = tables::quality_scale(quality as i32);
        st.quant_id = if table < 4 { table as i32 } else { 0 };
        // The C1+ path fetches with the command's strides (zeros: the canvas geometry).
        let strides = if self.inner.config.honours_strides() && cmd[11] != 0 {
            st.stats.strided_jobs += 1;
            [cmd[11], cmd[12], cmd[13], cmd[14]]
        } else {
            [0; 4]
        };
        let (mut input_base, mut dma, mut clean) = (None, None, None);
        match mem_type {
            LOCAL_BUFF => {
                if flush & 1 != 0 {
                    st.stats.flush_bytes += framesize as u64;
                    clean = self.input_clean(level, 0, framesize as usize);
                }
                input_base = Some(level.input_start as usize);
            }
            DMA_BUFF if mm => {
                match st.dma.clone() {
                    Some(buffer) => {
                        st.stats.dma_jobs += 1;
                        let strides = (strides != [0; 4]).then(|| strides.map(|s| s as usize));
                        let span =
                            input::span(input_format, width as usize, height as usize, strides);
                        if span > buffer.len() {
                            self.hazard(st, format!("the device reads {span} bytes of a {}-byte dma-buf: past its end", buffer.len()));
                        }
                        dma = Some(buffer);
                    }
                    None => self.hazard(
                        st,
                        "DMA_BUFF without CONFIG_DMA_INPUT: the device reads no frame".into(),
                    ),
                }
            }
            _ => self.hazard(
                st,
                format!("memory type {mem_type} is not reachable from userspace in the model"),
            ),
        }
        let (luma, chroma) = self.job_tables(st);
        let head = header::build(width, height, out_fmt, &luma, &chroma);
        let coherent = self.inner.config.j_header_coherent;
        self.write_header(levels::j_assist_start(&level) as usize, &head, coherent)?;
        st.head_bytes = HEADER_LEN as u32;
        // The stage is not reset (it stays 4 after the first completion ever).
        let mfdin_420 = st.mfdin.1;
        let job = self.next_job(st, occurrence);
        self.start_job(Job {
            clean,
            width,
            height,
            input_format,
            mfdin_420,
            input_base,
            dma,
            strides,
            luma,
            chroma,
            ..job
        });
        Ok(0)
    }
}
