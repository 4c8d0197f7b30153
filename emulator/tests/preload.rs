//! libjpegenc_emu.so in LD_PRELOAD: foreign C clients see a working /dev/jpegenc.

mod common;

use amljpeg_testkit::stat_in;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The preload library: `$JPEGENC_EMU_LIB`, or the workspace's release build.
fn preload_lib() -> PathBuf {
    amljpeg_testkit::workspace_release_lib("libjpegenc_emu.so", "JPEGENC_EMU_LIB")
}

/// Compiles a C client from c-tests/emu, once per test process (tests run in parallel and
/// must never overwrite a binary another one is executing).
fn client(name: &str) -> PathBuf {
    static BUILT: Mutex<Vec<(String, PathBuf)>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap();
    if let Some((_, path)) = built.iter().find(|(n, _)| n == name) {
        return path.clone();
    }
    let dir = std::env::temp_dir().join(format!("jpegenc-emu-clients-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(name);
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let src = root().join(format!("c-tests/emu/{name}.c"));
    let ok = Command::new(cc)
        .args(["-O2", "-Wall", "-Werror", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .unwrap()
        .success();
    assert!(ok, "compiling {name}");
    built.push((name.to_string(), out.clone()));
    out
}

fn run(program: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    // `$AMLJPEG_TEST_RUNNER` runs target programs under an emulator (qemu-arm for armhf).
    let mut cmd = match std::env::var("AMLJPEG_TEST_RUNNER")
        .ok()
        .filter(|r| !r.trim().is_empty())
    {
        Some(runner) => {
            let mut words = runner.split_whitespace();
            let mut c = Command::new(words.next().unwrap());
            c.args(words).arg(program);
            c
        }
        None => Command::new(program),
    };

    cmd.args(args)
        .env("LD_PRELOAD", preload_lib())
        .env("JPEGENC_EMU_STATE_DIR", state_dir());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn the_blog_articles_client_encodes_a_photo() {
    let img = photo("astronaut.png");
    let dir = state_dir();
    let raw = dir.join("astronaut.raw");
    std::fs::write(&raw, &img.pixels).unwrap();
    let out = dir.join("out.jpeg");
    let stats = dir.join("stats.json");
    // The article's client reads the output without FLUSH_DMA: on a board that works only
    // while none of the buffer's lines are in the CPU's cache (a fresh process, a cold
    // cache). The strict model serves it the stale bytes; the coherent one, the JPEG.
    let args = [raw.to_str().unwrap(), "512", "512", out.to_str().unwrap()];
    let (ok, text) = run(
        &client("blog_client"),
        &args,
        &[("JPEGENC_EMU_STATS", stats.to_str().unwrap())],
    );
    assert!(ok, "{text}");
    assert!(
        decode(&std::fs::read(&out).unwrap()).is_err(),
        "stale: no JPEG"
    );
    let (ok, text) = run(
        &client("blog_client"),
        &args,
        &[
            ("JPEGENC_EMU_STATS", stats.to_str().unwrap()),
            ("JPEGENC_EMU_STRICT_OUTPUT_CACHE", "0"),
        ],
    );
    assert!(ok, "{text}");
    let decoded = decode(&std::fs::read(&out).unwrap()).unwrap();
    let p = psnr(&decoded, &img);
    assert!(p >= 28.0, "PSNR {p:.2} dB at the driver's default quality");
    let json = std::fs::read_to_string(&stats).unwrap();
    assert_eq!(stat_in(&stats, "new_cmds"), 1, "{json}");
    assert!(stat_in(&stats, "get_stage_calls") >= 1, "{json}");
}

#[test]
fn one_open_at_a_time_across_threads_and_processes() {
    let (ok, text) = run(&client("quirks_client"), &["busy", "x"], &[]);
    assert!(ok, "{text}");
}

#[test]
fn the_device_stays_open_until_its_mapping_is_gone() {
    let (ok, text) = run(&client("quirks_client"), &["mapping", "x"], &[]);
    assert!(ok, "{text}");
}

#[test]
fn poll_reports_each_completion_once() {
    let prefix = state_dir().join("o");
    let (ok, text) = run(
        &client("quirks_client"),
        &["poll", prefix.to_str().unwrap()],
        &[],
    );
    assert!(ok, "{text}");
    let jpeg = std::fs::read(format!("{}-poll.jpg", prefix.display())).unwrap();
    assert_eq!(decode(&jpeg).unwrap().width, 64);
}

#[test]
fn a_client_that_skips_the_flush_encodes_a_stale_frame() {
    let prefix = state_dir().join("o");
    let stats = state_dir().join("stats.json");
    let (ok, text) = run(
        &client("quirks_client"),
        &["stale", prefix.to_str().unwrap()],
        &[("JPEGENC_EMU_STATS", stats.to_str().unwrap())],
    );
    assert!(ok, "{text}");
    let a = decode(&std::fs::read(format!("{}-a.jpg", prefix.display())).unwrap()).unwrap();
    let b = decode(&std::fs::read(format!("{}-b.jpg", prefix.display())).unwrap()).unwrap();
    assert!(a.pixels.iter().all(|&v| v > 190), "frame A is bright");
    assert_eq!(
        a.pixels, b.pixels,
        "frame B shows frame A: its writes never reached the device"
    );
    assert_eq!(stat_in(&stats, "stale_input_jobs"), 1);
    // Without the strict cache model the second frame is the dark one.
    let (ok, text) = run(
        &client("quirks_client"),
        &["stale", prefix.to_str().unwrap()],
        &[("JPEGENC_EMU_STRICT_CACHE", "0")],
    );
    assert!(ok, "{text}");
    let b = decode(&std::fs::read(format!("{}-b.jpg", prefix.display())).unwrap()).unwrap();
    assert!(b.pixels.iter().all(|&v| v < 60));
}

#[test]
fn other_files_pass_through_untouched() {
    if std::env::var_os("AMLJPEG_TEST_RUNNER").is_some() {
        eprintln!("skipped: /bin/sh is a host program, not one for the target under test");
        return;
    }

    let (ok, text) = run(
        Path::new("/bin/sh"),
        &[
            "-c",
            "echo hello > /dev/null && cat /etc/hostname >/dev/null && echo done",
        ],
        &[],
    );
    assert!(ok && text.contains("done"), "{text}");
}

#[test]
fn a_c2_style_client_encodes_under_the_j_driver() {
    let img = photo("astronaut.png");
    let dir = state_dir();
    let raw = dir.join("astronaut.raw");
    std::fs::write(&raw, &img.pixels).unwrap();
    let out = dir.join("out.jpg");
    let stats = dir.join("stats.json");
    let (ok, text) = run(
        &client("c2_client"),
        &[raw.to_str().unwrap(), "512", "512", out.to_str().unwrap()],
        &[
            // On J's defaults, the 3.14 driver's: C2J reads the header from the assist
            // buffer, and the CPU sees that driver's header write there (media_modules' may
            // leave it stale: MM's default).
            ("JPEGENC_EMU_GEN", "J"),
            ("JPEGENC_EMU_STATS", stats.to_str().unwrap()),
        ],
    );
    assert!(ok, "{text}");
    assert!(text.contains("header 592 bytes"), "{text}");
    let decoded = decode(&std::fs::read(&out).unwrap()).unwrap();
    assert!(psnr(&decoded, &img) > 30.0);
    let json = std::fs::read_to_string(&stats).unwrap();
    assert_eq!(stat_in(&stats, "new_cmds"), 1, "{json}");
}
