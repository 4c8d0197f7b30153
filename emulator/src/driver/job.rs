//! One job of the encoder: what NEW_CMD hands the hardware (with the faults it draws), and the
//! hardware thread that runs it, takes the modelled time and completes it.

use super::{stage, Driver, State};
use crate::config::{FaultKind, Generation, OutputSize};
use crate::hardware::{self, HwJob, NO_INPUT};
use crate::header::HEADER_LEN;
use crate::hwproc::HwProcess;
use crate::input;
use crate::stats;
use crate::tables;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Instant;

/// A job handed to the hardware thread.
pub(super) struct Job {
    pub(super) generation: u64,
    pub(super) started: Instant,
    /// The input range (absolute start, length) the driver cleans before the hardware starts.
    pub(super) clean: Option<(u64, u64)>,
    pub(super) width: u32,
    pub(super) height: u32,
    pub(super) input_format: u32,
    /// MFDIN output: 4:2:0 (true) or 4:2:2.
    pub(super) mfdin_420: bool,
    /// Input read from here (offset into the block); None: not from the block (zeros).
    pub(super) input_base: Option<usize>,
    /// MM DMA_BUFF: the input is the imported dma-buf.
    pub(super) dma: Option<Arc<crate::memory::Memory>>,
    /// The C1+ path's strides (y, u, v, luma height); zeros: the canvas geometry.
    pub(super) strides: [u32; 4],
    pub(super) luma: [u8; 64],
    pub(super) chroma: [u8; 64],
    pub(super) hang: bool,
    pub(super) lost_irq: bool,
    pub(super) overflow: bool,
    pub(super) corrupt: bool,
    pub(super) eoi: bool,
    pub(super) slow: f64,
}

impl Driver {
    /// The skeleton of the next job: a new generation (an older job's completion is dropped),
    /// its start time, and the faults this occurrence of NEW_CMD draws. The caller fills in
    /// what to encode.
    pub(super) fn next_job(&self, st: &mut State, occurrence: u64) -> Job {
        st.generation += 1;
        let mut job = Job {
            generation: st.generation,
            started: Instant::now(),
            clean: None,
            width: 0,
            height: 0,
            input_format: 0,
            mfdin_420: true,
            input_base: None,
            dma: None,
            strides: [0; 4],
            luma: [0; 64],
            chroma: [0; 64],
            // Without microcode the block never runs the job.
            hang: !st.microcode,
            lost_irq: false,
            overflow: false,
            corrupt: false,
            eoi: self.inner.config.eoi,
            slow: 1.0,
        };
        for f in self
            .inner
            .config
            .faults
            .iter()
            .filter(|f| f.hits(occurrence))
        {
            match f.kind {
                FaultKind::Hang => job.hang = true,
                FaultKind::LostIrq => job.lost_irq = true,
                FaultKind::Overflow => job.overflow = true,
                FaultKind::Corrupt => job.corrupt = true,
                FaultKind::NoEoi => job.eoi = false,
                FaultKind::Slow(s) => job.slow *= s,
                FaultKind::Busy
                | FaultKind::Denied
                | FaultKind::NoMemory
                | FaultKind::Eperm(_)
                | FaultKind::NoMicrocode => {}
            }
        }
        job
    }

    /// The quantisation tables (natural order) the next job uses.
    pub(super) fn job_tables(&self, st: &State) -> ([u8; 64], [u8; 64]) {
        let (luma, chroma) = match &st.ext_table {
            Some(t) => (
                std::array::from_fn(|i| t[i]),
                std::array::from_fn(|i| t[64 + i]),
            ),
            None => tables::base_tables(st.quant_id),
        };
        (
            tables::scale_table(&luma, st.globals.scale),
            tables::scale_table(&chroma, st.globals.scale),
        )
    }

    pub(super) fn start_job(&self, job: Job) {
        let mut jobs = self.inner.jobs.lock();
        let sender = jobs.get_or_insert_with(|| {
            let (tx, rx) = std::sync::mpsc::channel::<Job>();
            let weak = Arc::downgrade(&self.inner);
            // The encoder runs in its own process when the helper is there (the client's CPU
            // time is then its own, as on the board), else on this thread.
            let mut process = self.inner.config.encoder_process.as_ref().and_then(|helper| {
                let m = self.memories().ok()?;
                HwProcess::spawn(helper, &m.live, &m.phys)
                    .map_err(|e| eprintln!("jpegenc-emu: cannot start {}: {e}; encoding in-process", helper.display()))
                    .ok()
            });
            std::thread::Builder::new()
                .name("jpegenc-hw".into())
                .spawn(move || {
                    // Every cycle of this thread is the model's: its wake-ups included.
                    uncounted_cpu();
                    while let Ok(job) = rx.recv() {
                        let Some(inner) = weak.upgrade() else { break };
                        let driver = Driver { inner };
                        // A bug in the model must not stop the hardware thread for good.
                        let run = std::panic::AssertUnwindSafe(|| driver.run_job(job, &mut process));
                        if std::panic::catch_unwind(run).is_err() {
                            eprintln!("jpegenc-emu: internal error in the encoder model; the job never completes");
                        }
                        driver.charge_cpu(uncounted_cpu());
                    }
                })
                .expect("spawn the hardware thread");
            tx
        });
        let _ = sender.send(job);
    }

    /// Sets the stage as the ISR would on a mailbox interrupt, if the job is still current.
    pub(super) fn interrupt(&self, generation: u64, value: u32) -> bool {
        let mut st = self.inner.state.lock();
        if st.generation != generation || st.open.is_none() {
            return false;
        }
        st.globals.status = value;
        self.inner.changed.notify_all();
        true
    }

    /// What the hardware is told for `job`: where the VLC writes and how far it may go (the
    /// window the driver programs: 64 MiB on E's 8M/13M/HD levels, past the block).
    fn hw_job(&self, job: &Job) -> HwJob {
        let cfg = &self.inner.config;
        let level = self.inner.level.expect("jobs imply a level");
        let window = level.bitstream_size as usize;
        let (vlc_start, room) = match cfg.generation {
            // E: the VLC writes after the header in the bitstream buffer; J: from its start.
            Generation::E => (
                level.bitstream_start as usize + HEADER_LEN,
                window - HEADER_LEN,
            ),
            Generation::J => (level.bitstream_start as usize, window),
        };
        HwJob {
            generation: job.generation,
            width: job.width,
            height: job.height,
            input_format: job.input_format,
            mfdin_420: job.mfdin_420 as u32,
            input_base: job.input_base.map_or(NO_INPUT, |b| b as u64),
            dma: job.dma.is_some() as u32,
            strides: job.strides,
            coherent_output: !cfg.strict_output_cache as u64,
            strict_cache: cfg.strict_cache as u32,
            corrupt: job.corrupt as u32,
            eoi: job.eoi as u32,
            reference_scan: cfg.reference_scan as u32,
            clean: job.clean.unwrap_or((0, 0)),
            vlc_start: vlc_start as u64,
            room: room as u64,
            luma: job.luma,
            chroma: job.chroma,
        }
    }

    /// The encoder hardware: read the input, encode, take the modelled time, then complete.
    pub(super) fn run_job(&self, job: Job, process: &mut Option<HwProcess>) {
        let cfg = &self.inner.config;
        let staged = cfg.stages_visible && cfg.generation == Generation::E;
        if staged && !self.interrupt(job.generation, stage::START) {
            return;
        }
        let Ok(memories) = self.memories() else {
            return;
        };
        let hw_job = self.hw_job(&job);
        let dma = job.dma.as_deref();
        let result = match process.as_mut().map(|p| p.run(&hw_job, dma)) {
            Some(Ok(r)) => r,
            Some(Err(e)) => {
                eprintln!("jpegenc-emu: the encoder process failed ({e}); encoding in-process from now on");
                *process = None;
                hardware::run(&hw_job, &memories.live, &memories.phys, dma)
            }
            None => hardware::run(&hw_job, &memories.live, &memories.phys, dma),
        };
        if staged && !self.interrupt(job.generation, stage::MCU) {
            return;
        }
        if job.hang {
            self.log(|| "job hangs (fault)".into());
            return;
        }
        let (pw, ph) = (
            input::align(job.width as usize, 16),
            input::align(job.height as usize, 16),
        );
        let modelled = cfg.job_time(pw * ph).mul_f64(job.slow);
        let done_at = job.started + modelled;
        let now = Instant::now();
        let late = done_at < now && !modelled.is_zero();
        self.write_back_dirty(&job, &hw_job, &result, &memories.phys);
        finish_at(done_at);
        self.complete(&job, &hw_job, result, late);
    }

    /// The CPU's dirty lines where the hardware wrote reach memory after it, over it: done as
    /// the hardware finishes writing, while the modelled time runs out (not after it, where it
    /// would delay the completion).
    fn write_back_dirty(
        &self,
        job: &Job,
        hw_job: &HwJob,
        result: &hardware::HwResult,
        phys: &crate::memory::Memory,
    ) {
        let written = (result.payload_len as usize).min(hw_job.room as usize);
        let mut st = self.inner.state.lock();
        if st.generation != job.generation || st.open.is_none() {
            return;
        }
        for (at, bytes) in self.take_dirty(&mut st, hw_job.vlc_start as usize + written) {
            phys.write(at, &bytes);
        }
    }

    /// The completion: a write past the block counted, the size register and stage set, the
    /// ready count raised (unless the IRQ is lost).
    fn complete(&self, job: &Job, hw_job: &HwJob, result: hardware::HwResult, late: bool) {
        let cfg = &self.inner.config;
        let payload_len = result.payload_len as usize;
        let written_end = hw_job.vlc_start as usize + payload_len.min(hw_job.room as usize);
        let block_end = cfg.reserve as usize;
        let mut st = self.inner.state.lock();
        if st.generation != job.generation || st.open.is_none() {
            return;
        }
        st.stats.late_completions += late as u64;
        st.stats.job_time_us += job.started.elapsed().as_micros() as u64;
        if written_end > block_end {
            self.hazard(
                &mut st,
                format!(
                    "the hardware wrote {} bytes past the reserved block (an output of {payload_len} \
                     bytes in a {}-byte window): foreign memory on a board",
                    written_end - block_end,
                    hw_job.room
                ),
            );
        }
        let produced = if job.overflow {
            hw_job.room as u32 + 4096
        } else {
            payload_len as u32
        };
        st.vlc_total_bytes = match (cfg.generation, cfg.output_size) {
            (Generation::E, OutputSize::Total) => produced + HEADER_LEN as u32,
            _ => produced,
        };
        st.globals.status = stage::DONE;
        st.stats.stale_input_jobs += (result.stale != 0) as u64;
        st.stats.completions += 1;
        if !job.lost_irq {
            if let Some(open) = &st.open {
                let one = 1u64;
                // SAFETY: writing 8 bytes to our eventfd.
                unsafe { libc::write(open.ready.as_raw_fd(), (&one as *const u64).cast(), 8) };
            }
        }
        self.inner.changed.notify_all();
        self.save_globals(&st.globals);
        // Written before the client's next ioctl can run (it needs the state lock): a test
        // or benchmark that reads the file after its call returns sees this job counted, with
        // this thread's CPU for it (what follows shows in the next job's write).
        st.stats.model_cpu_ns += uncounted_cpu();
        self.write_stats(&st.stats);
        self.log(|| format!("job done: {payload_len} bytes"));
    }
}

thread_local! {
    /// The hardware thread's CPU clock when its time was last counted as the model's.
    static COUNTED_UNTIL: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// The hardware thread's CPU nanoseconds not yet counted as the model's; counts them.
fn uncounted_cpu() -> u64 {
    let now = stats::thread_cpu_ns();
    now.saturating_sub(COUNTED_UNTIL.replace(now))
}

/// How long before a job's modelled end the hardware thread stops sleeping and spins: a
/// sleep overshoots by tens to hundreds of microseconds, which would make every job late.
const SPIN: std::time::Duration = std::time::Duration::from_micros(300);

/// Returns at `done_at`, not measurably later: sleeps until just before it, then yields.
fn finish_at(done_at: Instant) {
    let now = Instant::now();
    if done_at > now + SPIN {
        std::thread::sleep(done_at - now - SPIN);
    }
    while Instant::now() < done_at {
        std::thread::yield_now();
    }
}
