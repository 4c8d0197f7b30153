//! The E driver (Meson8b / Odroid C1): its request numbers and ioctls. User pointers are
//! dereferenced directly, as the driver does (a bad one would oops the kernel).

requests! {
    GET_ADDR = 0x4004_4500,
    INPUT_UPDATE = 0x4004_4501,
    GET_STATUS = 0x4004_4502,
    NEW_CMD = 0x4004_4503,
    GET_STAGE = 0x4004_4504,
    GET_OUTPUT_SIZE = 0x4004_4505,
    SET_QUALTIY = 0x4004_4506,
    SET_ENCODER_WIDTH = 0x4004_4507,
    SET_ENCODER_HEIGHT = 0x4004_4508,
    CONFIG_INIT = 0x4004_4509,
    FLUSH_CACHE = 0x4004_450a,
    FLUSH_DMA = 0x4004_450b,
    GET_BUFFINFO = 0x4004_450c,
    INPUT_FORMAT = 0x4004_450d,
    SEL_QUANT_TABLE = 0x4004_450e,
    SET_EXT_QUANT_TABLE = 0x4004_450f,
    GET_DEVINFO = 0x4004_45f0,
}

use super::e;
use super::user::{copy_from_user, user_read, user_write, user_write_bytes};
use super::{stage, Driver, Errno, Job, State};
use crate::header;
use crate::input::{self, fmt};
use crate::tables;
use std::ffi::c_void;

impl Driver {
    /// SET_ENCODER_WIDTH/HEIGHT: a value over the level's maximum writes the maximum back and
    /// leaves the setting unchanged.
    ///
    /// # Safety
    /// `arg` is NULL or points to a u32 (see [`Driver::ioctl`]).
    unsafe fn set_size(&self, st: &mut State, width: bool, arg: *mut c_void) -> Result<i32, Errno> {
        let level = self.inner.level.expect("open implies a level");
        // SAFETY: `arg` has the size this command uses (this function's contract).
        let [v]: [u32; 1] = unsafe { user_read(self, st, arg) }?;
        let max = if width {
            level.max_width
        } else {
            level.max_height
        };
        if v > max {
            // SAFETY: as above.
            unsafe { user_write(self, st, arg, &[max]) }?;
        } else if width {
            st.globals.width = v;
        } else {
            st.globals.height = v;
        }
        self.save_globals(&st.globals);
        Ok(0)
    }

    /// # Safety
    /// See [`Driver::ioctl`].
    pub(super) unsafe fn ioctl_e(
        &self,
        st: &mut State,
        request: u32,
        arg: *mut c_void,
    ) -> Result<i32, Errno> {
        let level = self.inner.level.expect("open implies a level");
        match request {
            // SAFETY: `arg` has the size this command uses (this function's contract).
            e::GET_ADDR => unsafe { user_write(self, st, arg, &[1u32]) },
            e::NEW_CMD => {
                // SAFETY: `arg` has the size this command uses (this function's contract).
                let cmd: [u32; 7] = unsafe { user_read(self, st, arg) }?;
                self.new_cmd_e(st, &cmd)
            }
            e::GET_STAGE => {
                st.stats.get_stage_calls += 1;
                let status = st.globals.status;
                // SAFETY: `arg` has the size this command uses (this function's contract).
                unsafe { user_write(self, st, arg, &[status]) }
            }
            e::GET_OUTPUT_SIZE => {
                if !st.inited {
                    self.hazard(
                        st,
                        "GET_OUTPUT_SIZE before CONFIG_INIT reads an unpowered register".into(),
                    );
                }
                let size = st.vlc_total_bytes;
                // SAFETY: `arg` has the size this command uses (this function's contract).
                unsafe { user_write(self, st, arg, &[size]) }
            }
            e::SET_QUALTIY => {
                // SAFETY: `arg` has the size this command uses (this function's contract).
                let [q]: [i32; 1] = unsafe { user_read(self, st, arg) }?;
                st.globals.scale = tables::quality_scale(q);
                self.save_globals(&st.globals);
                Ok(0)
            }
            e::SET_ENCODER_WIDTH | e::SET_ENCODER_HEIGHT => {
                // SAFETY: forwarded from this function's contract.
                unsafe { self.set_size(st, request == e::SET_ENCODER_WIDTH, arg) }
            }
            e::CONFIG_INIT => {
                if st.inited {
                    self.hazard(st, "CONFIG_INIT twice in one open leaks an ioremap and registers the IRQ again".into());
                }
                self.power_up(st);
                st.globals.status = stage::IDLE;
                Ok(0)
            }
            e::FLUSH_CACHE | e::FLUSH_DMA => {
                // SAFETY: `arg` has the size this command uses (this function's contract).
                let [buf, start, end]: [u32; 3] = unsafe { user_read(self, st, arg) }?;
                self.flush(st, level, request == e::FLUSH_CACHE, buf, start, end);
                Ok(0)
            }
            e::GET_BUFFINFO => {
                let info = [
                    self.inner.config.reserve,
                    level.input_start,
                    level.input_size,
                    level.bitstream_start,
                    level.bitstream_size,
                ];
                // SAFETY: `arg` has the size this command uses (this function's contract).
                unsafe { user_write(self, st, arg, &info) }
            }
            e::INPUT_FORMAT => Ok(0),
            e::SEL_QUANT_TABLE => {
                // SAFETY: `arg` has the size this command uses (this function's contract).
                let [id]: [i32; 1] = unsafe { user_read(self, st, arg) }?;
                // `id < 4` passes, negatives included: an out-of-bounds table read.
                st.quant_id = if id < 4 { id } else { 0 };
                if id == 3 || id < 0 {
                    self.hazard(
                        st,
                        format!("SEL_QUANT_TABLE({id}) reads past the driver's table array"),
                    );
                }
                Ok(0)
            }
            e::SET_EXT_QUANT_TABLE => self.set_ext_table(st, arg),
            // SAFETY: `arg` has the size this command uses (this function's contract).
            e::GET_DEVINFO => unsafe { user_write_bytes(self, st, arg, b"AML-M8") },
            _ => Err(libc::EPERM),
        }
    }

    pub(super) fn new_cmd_e(&self, st: &mut State, cmd: &[u32; 7]) -> Result<i32, Errno> {
        let level = self.inner.level.expect("open implies a level");
        st.stats.new_cmds += 1;
        let occurrence = st.stats.new_cmds;
        if !st.inited {
            self.hazard(st, "NEW_CMD before CONFIG_INIT: the driver writes the header through a NULL pointer (oops)".into());
            return Err(libc::EFAULT);
        }
        let [mem_type, in_fmt, out_fmt, _input, offset, size, need_flush] = *cmd;
        // A rejected format stops set_jpeg_input_format before it stores anything: the job runs
        // with the previous MFDIN setup and output format, and the ioctl still returns 0.
        if input::accepted(in_fmt) {
            st.globals.input_format = in_fmt;
            st.globals.output_format = out_fmt;
            st.mfdin = (in_fmt, out_fmt != fmt::YUV422_SINGLE);
            if !matches!(
                out_fmt,
                fmt::YUV420 | fmt::NV12 | fmt::NV21 | fmt::YUV422_SINGLE
            ) {
                self.hazard(st, format!("output format {} ({out_fmt}) has no working MFDIN mode: the JPEG is broken", fmt::name(out_fmt)));
            }
            if matches!(in_fmt, fmt::RGBA8888) {
                self.hazard(
                    st,
                    "RGBA8888 takes the linear path with 3 bytes per pixel: the image is skewed"
                        .into(),
                );
            }
        } else {
            self.hazard(
                st,
                format!(
                    "input format {in_fmt} is rejected; the job runs with the stale MFDIN setup"
                ),
            );
        }
        let mut clean = None;
        let input_base = if mem_type == 0 {
            if need_flush & 0xFF != 0 {
                st.stats.flush_bytes += size as u64;
                clean = self.input_clean(level, offset as usize, size as usize);
            }
            if offset % 8 != 0 {
                self.hazard(st, format!("input offset {offset:#x} is not 8-byte aligned (canvas addresses round up)"));
            }
            st.stats.offset_jobs += (offset != 0) as u64;
            Some(level.input_start as usize + offset as usize)
        } else {
            self.hazard(st, format!("memory type {mem_type} (CANVAS/PHYSICAL) is not reachable from userspace in the model; the hardware reads foreign memory"));
            None
        };
        let (luma, chroma) = self.job_tables(st);
        let g = st.globals;
        let head = header::build(g.width, g.height, g.output_format, &luma, &chroma);
        // Written through the kernel's uncached alias: into memory, past the CPU's cache.
        self.write_header(level.bitstream_start as usize, &head, false)?;
        st.globals.status = stage::IDLE;
        st.vlc_total_bytes = 0;
        let (input_format, mfdin_420) = st.mfdin;
        let mut job = self.next_job(st, occurrence);
        if input::align(g.height as usize, 16) >= 4096 {
            self.hazard(st, format!("a padded height of {} overflows MFDIN's 12-bit size field: the hardware reads a garbled geometry", input::align(g.height as usize, 16)));
            job.corrupt = true;
        }
        self.start_job(Job {
            clean,
            width: g.width,
            height: g.height,
            input_format,
            mfdin_420,
            input_base,
            luma,
            chroma,
            ..job
        });
        self.inner.changed.notify_all();
        Ok(0)
    }

    pub(super) fn set_ext_table(&self, st: &mut State, arg: *mut c_void) -> Result<i32, Errno> {
        if arg.is_null() {
            st.ext_table = None;
            return Ok(0);
        }
        if st.ext_table.is_some() {
            self.hazard(
                st,
                "SET_EXT_QUANT_TABLE again without clearing leaks the previous table".into(),
            );
        }
        // copy_from_user: a bad pointer fails with -1/EPERM rather than oopsing.
        let mut table = [0u16; 128];
        if !copy_from_user(arg, &mut table) {
            return Err(libc::EPERM);
        }
        st.ext_table = Some(table);
        Ok(0)
    }
}
