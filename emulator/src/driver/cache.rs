//! The cache model: the CPU's view of the block (`live`, what clients map) against memory as
//! the device sees it (`phys`). Input reaches the device only through cleans; output reaches
//! the CPU only through invalidates; bytes the CPU writes into the bitstream buffer are dirty
//! lines that get written back over later output unless cleaned (a counted hazard).

use super::{Driver, Errno, State};
use crate::levels::Level;

impl Driver {
    pub(super) fn flush(
        &self,
        st: &mut State,
        level: Level,
        clean: bool,
        buf: u32,
        start: u32,
        end: u32,
    ) {
        if !st.inited {
            self.hazard(
                st,
                "FLUSH before CONFIG_INIT uses base addresses not yet computed".into(),
            );
            return;
        }
        if end < start {
            self.hazard(
                st,
                format!("FLUSH end {end:#x} < start {start:#x}: the driver would sync about 4 GiB"),
            );
            return;
        }
        st.stats.flush_bytes += (end - start) as u64;
        let (start, end) = (start as usize, end as usize);
        match (clean, buf == 1) {
            (true, false) => self.clean_input(level, start, end),
            (false, false) => self.invalidate(level.input_start as usize, start, end),
            (true, true) => self.clean_output(start, end),
            (false, true) => self.invalidate(level.bitstream_start as usize, start, end),
        }
    }

    /// The driver writes the header: into memory and, when the CPU's view of it is coherent
    /// (or the output cache is not modelled), into that view too.
    pub(super) fn write_header(
        &self,
        at: usize,
        head: &[u8],
        cpu_sees_it: bool,
    ) -> Result<(), Errno> {
        let m = self.memories()?;
        m.phys.write(at, head);
        if cpu_sees_it || !self.inner.config.strict_output_cache {
            m.live.write(at, head);
        }
        Ok(())
    }

    /// CPU→device clean of `[start, end)` of the input area: the hardware sees those bytes now.
    pub(super) fn clean_input(&self, level: Level, start: usize, end: usize) {
        if !self.inner.config.strict_cache {
            return;
        }
        let Ok(m) = self.memories() else { return };
        let at = level.input_start as usize + start;
        m.phys.copy_from(at, &m.live, at, end.saturating_sub(start));
    }

    /// The clean NEW_CMD asks for before the hardware starts, as (absolute start, length): the
    /// hardware's side does it as the job's first step (in the encoder process), so the copy
    /// that models it costs the client's call nothing. None without the strict input model.
    pub(super) fn input_clean(&self, level: Level, start: usize, len: usize) -> Option<(u64, u64)> {
        self.inner
            .config
            .strict_cache
            .then(|| ((level.input_start as usize + start) as u64, len as u64))
    }

    /// The real bitstream buffer (absolute offsets): the level's, as far as the block holds it.
    pub(super) fn bitstream_area(&self) -> std::ops::Range<usize> {
        let level = self.inner.level.expect("open implies a level");
        let start = level.bitstream_start as usize;
        let end = (start + level.bitstream_size as usize).min(self.inner.config.reserve as usize);
        start..end
    }

    /// `synced` sized to the bitstream buffer (it starts as zeros, like both memories).
    pub(super) fn synced(&self) -> parking_lot::MutexGuard<'_, Vec<u8>> {
        let mut synced = self.inner.synced.lock();
        let len = self.bitstream_area().len();
        if synced.len() != len {
            synced.resize(len, 0);
        }
        synced
    }

    /// Device→CPU invalidate of `[start, end)` from `base`: the CPU's lines there are dropped
    /// (a dirty one loses what the CPU wrote) and its next reads come from memory.
    pub(super) fn invalidate(&self, base: usize, start: usize, end: usize) {
        if !self.inner.config.strict_output_cache {
            return;
        }
        let Ok(m) = self.memories() else { return };
        let (from, to) = (base + start, (base + end).min(m.live.len()));
        if from >= to {
            return;
        }
        m.live.copy_from(from, &m.phys, from, to - from);
        let area = self.bitstream_area();
        let (a, b) = (from.max(area.start), to.min(area.end));
        if a < b {
            m.phys
                .read(a, &mut self.synced()[a - area.start..b - area.start]);
        }
    }

    /// CPU→device clean of `[start, end)` of the bitstream buffer: what the CPU wrote there
    /// reaches memory now, and its lines are clean.
    pub(super) fn clean_output(&self, start: usize, end: usize) {
        if !self.inner.config.strict_output_cache {
            return;
        }
        let Ok(m) = self.memories() else { return };
        let area = self.bitstream_area();
        let (from, to) = (area.start + start, (area.start + end).min(area.end));
        if from >= to {
            return;
        }
        m.phys.copy_from(from, &m.live, from, to - from);
        m.live
            .read(from, &mut self.synced()[from - area.start..to - area.start]);
    }

    /// What the CPU wrote into the bitstream buffer up to `end` (where the hardware just
    /// wrote) and never cleaned: dirty lines the cache may write back at any time, so the
    /// model writes them back over the new output (absolute offsets). They are clean from here.
    pub(super) fn take_dirty(&self, st: &mut State, end: usize) -> Vec<(usize, Vec<u8>)> {
        if !self.inner.config.strict_output_cache {
            return Vec::new();
        }
        let Ok(m) = self.memories() else {
            return Vec::new();
        };
        let area = self.bitstream_area();
        let area = area.start..end.clamp(area.start, area.end);
        let mut cpu = vec![0u8; area.len()];
        m.live.read(area.start, &mut cpu);
        let mut all = self.synced();
        let synced = &mut all[..area.len()];
        if cpu == *synced {
            return Vec::new();
        }
        const LINE: usize = 64;
        let mut dirty: Vec<(usize, Vec<u8>)> = Vec::new();
        for (line, (ours, theirs)) in cpu.chunks(LINE).zip(synced.chunks(LINE)).enumerate() {
            if ours == theirs {
                continue;
            }
            let at = area.start + line * LINE;
            match dirty.last_mut() {
                Some((start, bytes)) if *start + bytes.len() == at => bytes.extend_from_slice(ours),
                _ => dirty.push((at, ours.to_vec())),
            }
        }
        synced.copy_from_slice(&cpu);
        drop(all);
        let bytes: usize = dirty.iter().map(|d| d.1.len()).sum();
        let first = dirty[0].0 - area.start;
        self.hazard(
            st,
            format!(
                "{bytes} bytes of the bitstream buffer written by the CPU and never cleaned \
                 (first at offset {first:#x}): their dirty cache lines are written back over \
                 the new output"
            ),
        );
        st.stats.writeback_bytes += bytes as u64;
        dirty
    }
}
