//! Counters of what clients did, written as JSON to `$JPEGENC_EMU_STATS`.

use std::collections::BTreeMap;
use std::fmt::Write;

#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub opens: u64,
    pub busy: u64,
    pub releases: u64,
    pub new_cmds: u64,
    pub completions: u64,
    pub polls: u64,
    pub get_stage_calls: u64,
    /// Bytes cleaned (CPU→device) plus bytes invalidated (device→CPU).
    pub flush_bytes: u64,
    /// Jobs whose input, as the hardware saw it, differed from what the CPU had written.
    pub stale_input_jobs: u64,
    /// Calls the real driver would oops on, or that use it outside its contract.
    pub hazards: u64,
    pub eperm: u64,
    pub maps: u64,
    /// Bytes the CPU wrote into the bitstream buffer and never cleaned before the next job
    /// (their dirty lines are written back over the new output).
    pub writeback_bytes: u64,
    /// Jobs whose input starts at a non-zero offset in the input area (NEW_CMD word 4).
    pub offset_jobs: u64,
    /// MM: jobs whose input came from an imported dma-buf (DMA_BUFF).
    pub dma_jobs: u64,
    /// MM: jobs started with NEW_CMD2.
    pub cmd2_jobs: u64,
    /// MM on a C1+-class SoC: jobs whose input was fetched with the command's strides.
    pub strided_jobs: u64,
    /// Jobs whose model encode outlasted the modelled hardware time (completion came late).
    pub late_completions: u64,
    /// Microseconds from NEW_CMD to completion, summed over completed jobs.
    pub job_time_us: u64,
    /// CPU time the model spent in the client's process (its ioctl handling, cache model and
    /// completion thread), in nanoseconds: not the library's, and not what the kernel costs.
    pub model_cpu_ns: u64,
    /// Calls per request, by the driver's name for it.
    pub ioctls: BTreeMap<&'static str, u64>,
}

impl Stats {
    pub fn to_json(&self) -> String {
        let mut s = String::from("{");
        let fields = [
            ("opens", self.opens),
            ("busy", self.busy),
            ("releases", self.releases),
            ("new_cmds", self.new_cmds),
            ("completions", self.completions),
            ("polls", self.polls),
            ("get_stage_calls", self.get_stage_calls),
            ("flush_bytes", self.flush_bytes),
            ("stale_input_jobs", self.stale_input_jobs),
            ("hazards", self.hazards),
            ("eperm", self.eperm),
            ("maps", self.maps),
            ("offset_jobs", self.offset_jobs),
            ("dma_jobs", self.dma_jobs),
            ("cmd2_jobs", self.cmd2_jobs),
            ("strided_jobs", self.strided_jobs),
            ("writeback_bytes", self.writeback_bytes),
            ("late_completions", self.late_completions),
            ("job_time_us", self.job_time_us),
            ("model_cpu_us", self.model_cpu_ns / 1000),
        ];
        for (name, value) in fields {
            let _ = write!(s, "\"{name}\": {value}, ");
        }
        s.push_str("\"ioctls\": {");
        let body: Vec<String> = self
            .ioctls
            .iter()
            .map(|(k, v)| format!("\"{k}\": {v}"))
            .collect();
        s.push_str(&body.join(", "));
        s.push_str("}}");
        s
    }
}

/// CPU time of the calling thread, in nanoseconds.
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
