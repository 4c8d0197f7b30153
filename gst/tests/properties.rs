//! Properties changed while playing: `quality` takes effect at the next frame (in-process,
//! software: no device).

mod common;

use common::target_dir;
use gst::prelude::*;

#[test]
fn quality_changes_at_the_next_frame() {
    let state = amljpeg_testkit::scratch_dir("amljpeg-gst-props");
    std::fs::create_dir_all(&state).unwrap();
    std::env::set_var("GST_PLUGIN_PATH", target_dir());
    std::env::set_var("GST_REGISTRY", state.join("registry.bin"));
    std::env::set_var("AML_JPEG_DEVICE", state.join("no-such-device"));
    gst::init().unwrap();
    let (w, h) = (320usize, 240usize);
    let pipeline = gst::parse::launch(&format!(
        "appsrc name=src format=time caps=video/x-raw,format=RGB,width={w},height={h},framerate=30/1 \
         ! amljpegenc name=enc quality=10 ! multifilesink location={}/%05d.jpg",
        state.display()
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let (src, enc) = (
        pipeline.by_name("src").unwrap(),
        pipeline.by_name("enc").unwrap(),
    );
    pipeline.set_state(gst::State::Playing).unwrap();
    let frame: Vec<u8> = (0..w * h * 3).map(|k| ((k * 7) % 251) as u8).collect();
    for (i, quality) in [10u32, 95].into_iter().enumerate() {
        enc.set_property("quality", quality);
        let mut buffer = gst::Buffer::from_slice(frame.clone());
        buffer
            .get_mut()
            .unwrap()
            .set_pts(gst::ClockTime::from_mseconds(33 * i as u64));
        let flow = src.emit_by_name::<gst::FlowReturn>("push-buffer", &[&buffer]);
        assert_eq!(flow, gst::FlowReturn::Ok);
        // The frame is written before the next change.
        let file = state.join(format!("{i:05}.jpg"));
        let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !file.is_file() && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    common::end_stream(&pipeline, &src);
    pipeline.set_state(gst::State::Null).unwrap();
    let read = |i: usize| std::fs::read(state.join(format!("{i:05}.jpg"))).unwrap();
    let (low, high) = (read(0), read(1));
    // libjpeg's luma DC quantiser: 80 at quality 10, 2 at quality 95.
    let dqt = |j: &[u8]| {
        j.windows(2)
            .position(|p| p == [0xFF, 0xDB])
            .map(|at| j[at + 5])
    };
    assert_eq!((dqt(&low), dqt(&high)), (Some(80), Some(2)));
    let _ = std::fs::remove_dir_all(&state);
}
