//! `amljpegenc` fed `video/x-raw(memory:DMABuf)`: frames in dma-bufs (memfds wrapped by
//! GStreamer's dma-buf allocator, as a camera's exported buffers are) reach the media_modules
//! driver's device without the CPU copying them. Runs in a child process with the emulator
//! preloaded and the plugin on GST_PLUGIN_PATH.

mod common;

use common::target_dir;
use gst::prelude::*;
use std::process::Command;

const FRAMES: usize = 10;

#[test]
fn dmabuf_frames_go_to_the_device_without_a_copy() {
    if std::env::var_os("AMLJPEG_GST_CHILD").is_some() {
        return child();
    }
    let emulator = target_dir().join("libjpegenc_emu.so");
    assert!(emulator.is_file(), "{} is not built", emulator.display());
    let state = amljpeg_testkit::scratch_dir("amljpeg-gst-dmabuf");
    std::fs::create_dir_all(&state).unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "dmabuf_frames_go_to_the_device_without_a_copy",
            "--exact",
            "--nocapture",
        ])
        .env("AMLJPEG_GST_CHILD", &state)
        .env("GST_PLUGIN_PATH", target_dir())
        .env("GST_REGISTRY", state.join("registry.bin"))
        .env("LD_PRELOAD", &emulator)
        .env("JPEGENC_EMU_GEN", "MM")
        .env("JPEGENC_EMU_STATE_DIR", &state)
        .env("JPEGENC_EMU_STATS", state.join("stats.json"))
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && text.contains("1 passed"), "{text}");
    let stats = state.join("stats.json");
    let stat = |key| amljpeg_testkit::stat_in(&stats, key);
    assert!(stats.is_file(), "the emulator wrote no stats");
    assert_eq!(
        stat("dma_jobs"),
        FRAMES as u64,
        "one zero-copy job per frame"
    );
    assert_eq!(stat("hazards"), 0);
    let _ = std::fs::remove_dir_all(&state);
}

fn child() {
    gst::init().unwrap();
    let state = std::path::PathBuf::from(std::env::var_os("AMLJPEG_GST_CHILD").unwrap());
    let (w, h) = (1280usize, 720usize);
    let pipeline = gst::parse::launch(&format!(
        "appsrc name=src format=time caps=video/x-raw(memory:DMABuf),format=NV12,width={w},height={h},framerate=30/1 \
         ! amljpegenc backend=hardware name=enc ! multifilesink location={}/%05d.jpg",
        state.display()
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let src = pipeline.by_name("src").unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let allocator = gst_allocators::DmaBufAllocator::new();
    for i in 0..FRAMES {
        let frame: Vec<u8> = (0..w * h * 3 / 2)
            .map(|k| ((k + i * 7) % 251) as u8)
            .collect();
        let fd = amljpeg_testkit::memfd(&frame, 0);
        // SAFETY: the allocator takes the descriptor over; `frame.len()` bytes are behind it.
        let memory = unsafe { allocator.alloc(fd, frame.len()) }.unwrap();
        let mut buffer = gst::Buffer::new();
        {
            let buffer = buffer.get_mut().unwrap();
            buffer.append_memory(memory);
            buffer.set_pts(gst::ClockTime::from_mseconds(33 * i as u64));
        }
        let flow = src.emit_by_name::<gst::FlowReturn>("push-buffer", &[&buffer]);
        assert_eq!(flow, gst::FlowReturn::Ok);
    }
    common::end_stream(&pipeline, &src);
    let last = pipeline
        .by_name("enc")
        .unwrap()
        .property::<String>("last-backend");
    assert_eq!(last, "hardware");
    pipeline.set_state(gst::State::Null).unwrap();
    let jpegs = std::fs::read_dir(&state)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "jpg")
        })
        .count();
    assert_eq!(jpegs, FRAMES);
}
