//! The J driver (GXBB / Odroid C2 and later): its request numbers and ioctls, with
//! copy_to/from_user throughout (a bad pointer fails with -1/EPERM).

requests! {
    GET_BUFFINFO = 0x4004_4a00,
    CONFIG_INIT = 0x4004_4a01,
    NEW_CMD = 0x4004_4a02,
    GET_STAGE = 0x4004_4a03,
    GET_OUTPUT_SIZE = 0x4004_4a04,
    SET_EXT_QUANT_TABLE = 0x4004_4a05,
    GET_DEVINFO = 0x4004_4af0,
}

/// Words NEW_CMD copies from user, whatever the client allocated.
pub const NEW_CMD_WORDS: usize = 30;

use super::j;
use super::user::copy_from_user;
use super::{Driver, Errno, Job, State};
use crate::header::{self, HEADER_LEN};
use crate::input::{self, fmt};
use crate::levels::{self, Level};
use crate::tables;
use std::ffi::c_void;

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
                self.new_cmd_j(st, level, &cmd)
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

    pub(super) fn new_cmd_j(
        &self,
        st: &mut State,
        level: Level,
        cmd: &[u32; j::NEW_CMD_WORDS],
    ) -> Result<i32, Errno> {
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
        if width > level.max_width || height > level.max_height {
            self.hazard(st, format!("{width}x{height} exceeds the level: the command is dropped and never completes"));
            return Ok(0);
        }
        let mut input_format = in_fmt;
        if input::accepted(in_fmt) {
            st.mfdin = (in_fmt, out_fmt != fmt::YUV422_SINGLE);
            if in_fmt == fmt::YUV420 {
                // Canvas +1 is never configured: U is read through whatever it held (the model: V).
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
        let input_base = if mem_type == 0 {
            if flush & 1 != 0 {
                st.stats.flush_bytes += framesize as u64;
                self.clean_input(level, 0, framesize as usize);
            }
            Some(level.input_start as usize)
        } else {
            self.hazard(
                st,
                format!("memory type {mem_type} is not reachable from userspace in the model"),
            );
            None
        };
        let (luma, chroma) = self.job_tables(st);
        let head = header::build(width, height, out_fmt, &luma, &chroma);
        let coherent = self.inner.config.j_header_coherent;
        self.write_header(levels::j_assist_start(&level) as usize, &head, coherent)?;
        st.head_bytes = HEADER_LEN as u32;
        // The stage is not reset (it stays 4 after the first completion ever).
        let mfdin_420 = st.mfdin.1;
        let job = self.next_job(st, occurrence);
        self.start_job(Job {
            width,
            height,
            input_format,
            mfdin_420,
            input_base,
            luma,
            chroma,
            ..job
        });
        Ok(0)
    }
}
