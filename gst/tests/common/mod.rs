//! Helpers shared by the element's tests.
#![allow(dead_code)]

use gst::prelude::*;

/// target/release (or debug): where cargo put libgstamljpeg.so and the emulator.
pub fn target_dir() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

/// Ends the stream at the appsrc `src` and waits (a minute at most) until `pipeline` has
/// drained it: EOS on the bus, not an error.
pub fn end_stream(pipeline: &impl IsA<gst::Element>, src: &gst::Element) {
    let eos = src.emit_by_name::<gst::FlowReturn>("end-of-stream", &[]);
    assert_eq!(eos, gst::FlowReturn::Ok);
    let bus = pipeline.bus().unwrap();
    let msg = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(60),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("the pipeline ends");
    assert_eq!(msg.type_(), gst::MessageType::Eos, "{msg:?}");
}
