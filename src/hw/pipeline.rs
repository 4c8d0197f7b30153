//! Pipelined batches on the E generation: frame N+1 is laid out in the second of two input
//! slots while the device encodes frame N (NEW_CMD takes an input offset). Each frame's JPEG is
//! handed out before the next NEW_CMD, which overwrites the bitstream buffer.

use super::geometry::{write_frame, Geometry};
use super::session::{Coding, Job};
use super::Lease;
use crate::error::{ErrorKind, Result};
use crate::format::Frame;
use std::time::Instant;

/// The spacing of the two input slots, when the device can take every frame this way.
pub fn slot_stride(lease: &mut Lease, frames: &[Frame<'_>], coding: Coding<'_>) -> Option<usize> {
    let session = lease.session(None).ok()?;
    let mut extent = 0;
    for f in frames {
        let (w, h) = (f.width(), f.height());
        session.admit(w, h, coding.quant, coding.subsampling).ok()?;
        extent = extent.max(session.input_geometry(f.format(), w, h).ok()?.extent);
    }
    session.slot_stride(extent)
}

/// Encodes `frames` in order, two input slots `stride` apart; `done(i, result)` gets each
/// frame's JPEG (valid during the call) or the device's error for it (the device is reset
/// then, unless the frame was only too much for it). `deadline(frame)` is each job's. Err(i):
/// the device was lost before frame `i` started; frames `i..` are the caller's to do.
pub fn encode(
    lease: &mut Lease,
    stride: usize,
    frames: &[Frame<'_>],
    coding: Coding<'_>,
    deadline: impl Fn(&Frame<'_>) -> Instant,
    done: &mut impl FnMut(usize, Result<&[u8]>),
) -> std::result::Result<(), usize> {
    // The frame the device is encoding: (index, geometry, deadline).
    let mut running: Option<(usize, Geometry, Instant)> = None;
    for (i, frame) in frames.iter().enumerate() {
        let slot = i % 2;
        let lay_out = |lease: &mut Lease| -> Result<Geometry> {
            let session = lease.session(None)?;
            let geometry = session.input_geometry(frame.format(), frame.width(), frame.height())?;
            // The overlap: this frame goes into its slot while the device reads the other.
            write_frame(frame, &geometry, session.input_slot(slot, stride));
            Ok(geometry)
        };
        let Ok(mut geometry) = lay_out(lease) else {
            return Err(i);
        };
        if let Some((j, lj, until)) = running.take() {
            if finish(lease, j, &lj, coding, until, done) {
                // The device was reset: this frame's slot is gone; lay it out again.
                let Ok(again) = lay_out(lease) else {
                    return Err(i);
                };
                geometry = again;
            }
        }
        let until = deadline(frame);
        let Ok(session) = lease.session(None) else {
            return Err(i);
        };
        let job = Job {
            geometry: &geometry,
            coding,
        };
        match session.start(job, slot * stride) {
            Ok(()) => running = Some((i, geometry, until)),
            Err(e) => {
                lease.failed();
                done(i, Err(e));
            }
        }
    }
    if let Some((j, lj, until)) = running {
        finish(lease, j, &lj, coding, until, done);
    }
    Ok(())
}

/// Waits for frame `j` and hands it out. True when the device had to be reset.
fn finish(
    lease: &mut Lease,
    j: usize,
    geometry: &Geometry,
    coding: Coding<'_>,
    until: Instant,
    done: &mut impl FnMut(usize, Result<&[u8]>),
) -> bool {
    let job = Job { geometry, coding };
    let finished = lease
        .session(None)
        .and_then(|s| s.finish(job, until.max(Instant::now())));
    match finished {
        Ok(()) => {
            lease.succeeded();
            done(j, Ok(lease.current().expect("an open session").output()));
            false
        }
        Err(e) => {
            // Too long for the buffer is the frame's limit, not a device failure.
            let reset = e.kind() != ErrorKind::Unsupported;
            if reset {
                lease.failed();
            }
            done(j, Err(e));
            reset
        }
    }
}
