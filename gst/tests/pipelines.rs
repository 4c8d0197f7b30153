//! `amljpegenc` in real `gst-launch-1.0` pipelines, as a user runs them: every sink format,
//! under the emulated E and J drivers and without a device; each JPEG against `jpegenc`'s at
//! the same quality; timestamps; MJPEG over TCP to a second process; caps refusal; a device
//! failing mid-stream.

mod common;

use amljpeg_testkit::{decode_rgb, psnr};
use common::target_dir;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn emulator() -> PathBuf {
    amljpeg_testkit::workspace_release_lib("libjpegenc_emu.so", "JPEGENC_EMU_LIB")
}

/// A gst-launch-1.0 (or gst-inspect-1.0) that finds the plugin, with its own registry;
/// `generation` preloads the emulator as that driver.
fn gst(tool: &str, generation: Option<&str>, state: &Path) -> Command {
    let mut cmd = Command::new(tool);
    cmd.env("GST_PLUGIN_PATH", target_dir())
        .env("GST_REGISTRY", state.join("registry.bin"))
        .env_remove("AML_JPEG_DEVICE");
    match generation {
        Some(generation) => {
            cmd.env("LD_PRELOAD", emulator())
                .env("JPEGENC_EMU_GEN", generation)
                .env("JPEGENC_EMU_STATE_DIR", state)
                .env("JPEGENC_EMU_STATS", state.join("stats.json"));
        }
        // No device: the encoder falls back to software.
        None => {
            cmd.env("AML_JPEG_DEVICE", state.join("no-such-device"));
        }
    }
    cmd
}

fn run(mut cmd: Command, pipeline: &str) -> Output {
    let out = cmd
        .args(pipeline.split_whitespace())
        .output()
        .unwrap_or_else(|e| panic!("{e}: install gstreamer1.0-tools (scripts/setup.sh does)"));
    out
}

fn launch(generation: Option<&str>, state: &Path, pipeline: &str) -> String {
    let mut cmd = gst("gst-launch-1.0", generation, state);
    cmd.arg("-e");
    let out = run(cmd, pipeline);
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{pipeline}\n{text}");
    text
}

fn scratch(name: &str) -> PathBuf {
    let dir = amljpeg_testkit::scratch_dir(&format!("amljpeg-gst-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn files(dir: &Path, prefix: &str) -> Vec<Vec<u8>> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    names
        .iter()
        .map(|n| std::fs::read(dir.join(n)).unwrap())
        .collect()
}

fn stat(state: &Path, key: &str) -> u64 {
    amljpeg_testkit::stat_in(&state.join("stats.json"), key)
}

/// `frames` of videotestsrc in `format` through a tee: amljpegenc, jpegenc (same quality) and
/// the raw RGB picture; each of our JPEGs must decode as well as jpegenc's.
fn against_jpegenc(
    generation: Option<&str>,
    format: &str,
    (width, height, frames): (usize, usize, usize),
    backend: &str,
) {
    let state = scratch(&format!("{format}-{}", generation.unwrap_or("none")));
    let d = state.display();
    let caps = format!("video/x-raw,format={format},width={width},height={height},framerate=30/1");
    let pipeline = format!(
        "videotestsrc num-buffers={frames} pattern=ball ! {caps} ! tee name=t \
         t. ! queue ! amljpegenc backend={backend} quality=85 ! multifilesink location={d}/ours%05d.jpg \
         t. ! queue ! videoconvert ! jpegenc quality=85 ! multifilesink location={d}/theirs%05d.jpg \
         t. ! queue ! videoconvert ! video/x-raw,format=RGB ! multifilesink location={d}/raw%05d.rgb"
    );
    launch(generation, &state, &pipeline);
    let (ours, theirs, raw) = (
        files(&state, "ours"),
        files(&state, "theirs"),
        files(&state, "raw"),
    );
    let what = format!("{format} on {generation:?}");
    assert_eq!(ours.len(), frames, "{what}: one JPEG per frame");
    assert_eq!(theirs.len(), frames);
    for ((o, t), r) in ours.iter().zip(&theirs).zip(&raw) {
        let (po, pt) = (
            psnr(&decode_rgb(o).unwrap().pixels, r),
            psnr(&decode_rgb(t).unwrap().pixels, r),
        );
        assert!(po > pt - 1.0, "{what}: {po:.2} dB, jpegenc {pt:.2} dB");
    }
    if generation.is_some() && backend == "hardware" {
        assert_eq!(
            stat(&state, "new_cmds"),
            frames as u64,
            "{what}: one job per frame"
        );
        assert_eq!(stat(&state, "hazards"), 0);
    }
    // Pillow opens every one (the system's python3; scripts/setup.sh installs Pillow) ...
    let pillow = Command::new("python3")
        .args([
            "-c",
            "import sys, glob; from PIL import Image\n\
             for f in sorted(glob.glob(sys.argv[1] + '/ours*.jpg')): Image.open(f).load()",
        ])
        .arg(&state)
        .output()
        .expect("python3 with Pillow (scripts/setup.sh installs it)");
    assert!(
        pillow.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&pillow.stderr)
    );
    // ... and jpegdec takes them back as a stream.
    launch(
        None,
        &state,
        &format!(
            "multifilesrc location={d}/ours%05d.jpg caps=image/jpeg,framerate=30/1 ! jpegdec ! fakesink"
        ),
    );
    let _ = std::fs::remove_dir_all(&state);
}

const FORMATS: [&str; 13] = [
    "NV12", "NV21", "I420", "YUY2", "RGB", "BGR", "RGBx", "BGRx", "xRGB", "xBGR", "RGBA", "BGRA",
    "GRAY8",
];

#[test]
fn every_format_on_every_driver_and_without_one() {
    for format in FORMATS {
        // The camera formats at 720p, 60 frames; the rest briefly.
        let case = if format == "NV12" || format == "RGB" {
            (1280, 720, 60)
        } else {
            (320, 240, 5)
        };
        for generation in ["E", "J"] {
            against_jpegenc(Some(generation), format, case, "hardware");
        }
        against_jpegenc(None, format, case, "auto");
    }
}

#[test]
fn the_element_documents_itself_and_keeps_timestamps() {
    let state = scratch("inspect");
    let mut cmd = gst("gst-inspect-1.0", None, &state);
    cmd.arg("amljpegenc");
    let out = run(cmd, "");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for property in [
        "quality",
        "subsampling",
        "backend",
        "device",
        "last-backend",
    ] {
        assert!(
            text.contains(&format!("  {property} ")),
            "{property}:\n{text}"
        );
    }
    assert!(text.contains("image/jpeg") && text.contains("NV12") && text.contains("memory:DMABuf"));
    // Output buffers carry the input's timestamps: 0, 1/25 s, 2/25 s, ...
    let log = launch(
        Some("E"),
        &state,
        "-v videotestsrc num-buffers=5 ! video/x-raw,format=NV12,width=64,height=48,framerate=25/1 \
         ! amljpegenc ! fakesink silent=false",
    );
    let pts: Vec<&str> = log
        .lines()
        .filter(|l| {
            l.contains("chain") && l.contains("image/jpeg")
                || l.contains("chain   ******* (fakesink")
        })
        .filter_map(|l| l.split("pts: ").nth(1))
        .map(|p| p.split(',').next().unwrap())
        .collect();
    assert_eq!(
        pts,
        [
            "0:00:00.000000000",
            "0:00:00.040000000",
            "0:00:00.080000000",
            "0:00:00.120000000",
            "0:00:00.160000000"
        ],
        "{log}"
    );
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn mjpeg_over_tcp_reaches_a_second_process() {
    let state = scratch("tcp");
    let port = 20000 + std::process::id() % 20000;
    let d = state.display();
    let mut server = gst("gst-launch-1.0", Some("E"), &state);
    server.args(
        format!(
            "-e videotestsrc is-live=true num-buffers=60 ! video/x-raw,format=NV12,width=320,height=240,framerate=30/1 \
             ! amljpegenc ! multipartmux ! tcpserversink host=127.0.0.1 port={port}"
        )
        .split_whitespace(),
    );
    let mut server = server.spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let received = launch(
        None,
        &state,
        &format!(
            "tcpclientsrc host=127.0.0.1 port={port} ! multipartdemux ! image/jpeg ! jpegdec \
             ! videoconvert ! video/x-raw,format=RGB ! multifilesink location={d}/got%05d.rgb"
        ),
    );
    assert!(server.wait().unwrap().success());
    let frames = files(&state, "got").len();
    assert!(
        frames >= 30,
        "{frames} frames decoded on the far side\n{received}"
    );
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn unsupported_input_is_refused_at_negotiation_and_a_failing_device_is_reported() {
    let state = scratch("errors");
    // UYVY is not taken: refused when the caps are negotiated, before any buffer.
    let mut cmd = gst("gst-launch-1.0", Some("E"), &state);
    cmd.arg("-e");
    let out = run(
        cmd,
        "videotestsrc num-buffers=3 ! video/x-raw,format=UYVY,width=64,height=48 ! amljpegenc ! fakesink",
    );
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    let refused = ["can't handle caps", "not negotiated", "not-negotiated"];
    assert!(
        !out.status.success() && refused.iter().any(|r| text.contains(r)),
        "{text}"
    );
    assert_eq!(stat(&state, "new_cmds"), 0);
    let d = state.display();
    // A device that fails mid-stream: AUTO warns and goes on in software ...
    let mut cmd = gst("gst-launch-1.0", Some("E"), &state);
    cmd.env("JPEGENC_EMU_FAULT", "corrupt@3,corrupt@4")
        .arg("-e");
    let out = run(
        cmd,
        &format!(
            "videotestsrc num-buffers=10 ! video/x-raw,format=NV12,width=64,height=48 ! amljpegenc backend=auto \
             ! multifilesink location={d}/auto%05d.jpg"
        ),
    );
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("WARNING") && text.contains("encoded in software"),
        "{text}"
    );
    assert_eq!(files(&state, "auto").len(), 10);
    for jpeg in files(&state, "auto") {
        decode_rgb(&jpeg).unwrap();
    }
    // ... HARDWARE stops the pipeline with an error.
    let mut cmd = gst("gst-launch-1.0", Some("E"), &state);
    cmd.env("JPEGENC_EMU_FAULT", "corrupt@2").arg("-e");
    let out = run(
        cmd,
        "videotestsrc num-buffers=10 ! video/x-raw,format=NV12,width=64,height=48 ! amljpegenc backend=hardware ! fakesink",
    );
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && text.contains("cannot encode frame"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&state);
}
