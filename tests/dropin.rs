//! The libjpeg drop-in (libamljpeg_preload.so) under legacy programs, as a user would try it:
//! the program unchanged, the drop-in and the emulator preloaded. Each image must decode with
//! its markers, come within 1.5 dB of what the same program writes without the drop-in, and
//! the emulator must have done the work (or, where the drop-in must stay out, not).

mod common;

use common::emulator::{emulator_lib, stat_in, state_dir};
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// libamljpeg_preload.so, with libamljpeg.so beside it (`$AMLJPEG_PRELOAD_LIB`, else the
/// workspace's release build).
fn preload_lib() -> PathBuf {
    amljpeg_testkit::workspace_release_lib("libamljpeg_preload.so", "AMLJPEG_PRELOAD_LIB")
}

/// Native tools only: under a cross runner the armhf script tries the drop-in itself.
fn native() -> bool {
    std::env::var_os("AMLJPEG_TEST_RUNNER").is_none()
}

struct Run {
    jpeg: Vec<u8>,
    new_cmds: u64,
    /// CONFIG_INITs: one per open of the device.
    config_inits: u64,
    stderr: String,
}

/// Runs `program args` with `out` as its output file, with or without the drop-in and the
/// emulator of generation `generation`; `env` on top.
fn run(
    program: &str,
    args: &[&str],
    out: &Path,
    dropin: Option<&str>,
    env: &[(&str, &str)],
) -> Run {
    let dir = state_dir();
    let stats = dir.join("stats.json");
    let mut cmd = Command::new(program);
    cmd.args(args);
    if let Some(generation) = dropin {
        let preload = format!("{} {}", preload_lib().display(), emulator_lib().display());
        cmd.env("LD_PRELOAD", preload)
            .env("JPEGENC_EMU_GEN", generation)
            .env("JPEGENC_EMU_STATE_DIR", &dir)
            .env("JPEGENC_EMU_STATS", &stats)
            .env("AMLJPEG_PRELOAD_LOG", "1");
    }
    cmd.envs(env.iter().copied());
    let result = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr).into_owned();
    assert!(
        result.status.success(),
        "{program} {args:?} (drop-in {dropin:?}) failed:\n{}{stderr}",
        String::from_utf8_lossy(&result.stdout)
    );
    Run {
        jpeg: std::fs::read(out).unwrap(),
        new_cmds: stat_in(&stats, "new_cmds"),
        config_inits: stat_in(&stats, "CONFIG_INIT"),
        stderr,
    }
}

fn psnr_of(jpeg: &[u8], img: &Rgb) -> f64 {
    let d = decode_rgb(jpeg);
    assert_eq!((d.width, d.height), (img.width, img.height));
    psnr(&d.pixels, &img.pixels)
}

fn ppm(img: &Rgb) -> PathBuf {
    let path = state_dir().join("in.ppm");
    let mut data = format!("P6\n{} {}\n255\n", img.width, img.height).into_bytes();
    data.extend_from_slice(&img.pixels);
    std::fs::write(&path, data).unwrap();
    path
}

fn has_segment(jpeg: &[u8], marker: u8, payload: &[u8]) -> bool {
    segments(jpeg)
        .iter()
        .any(|(m, p)| *m == marker && p == payload)
}

/// cjpeg must be there: scripts/setup.sh installs it (a missing tool fails, it never skips).
fn need_cjpeg() {
    assert!(
        Command::new("cjpeg").arg("-version").output().is_ok(),
        "cjpeg is missing: install Debian's libjpeg-turbo-progs (scripts/setup.sh does)"
    );
}

/// cjpeg's arguments for `img` at quality 85, and the file it writes.
fn cjpeg_q85(img: &Rgb) -> (PathBuf, Vec<String>) {
    let input = ppm(img);
    let out = state_dir().join("out.jpg");
    let args = ["-quality", "85", "-outfile"].map(String::from);
    let mut args = args.to_vec();
    args.extend([out.display().to_string(), input.display().to_string()]);
    (out, args)
}

/// c-tests/dropin/client.c built against the system's libjpeg, or the one in `libjpeg`
/// (a directory with include/ and lib/).
fn client(libjpeg: Option<&Path>) -> PathBuf {
    let client = state_dir().join("client");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let mut cmd = Command::new(cc);
    cmd.args([
        "-O2",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-std=c11",
        "-D_DEFAULT_SOURCE",
    ]);
    if let Some(dir) = libjpeg {
        cmd.arg(format!("-I{}", dir.join("include").display()))
            .arg(format!("-L{}", dir.join("lib").display()))
            .arg(format!("-Wl,-rpath,{}", dir.join("lib").display()));
    }
    let ok = cmd
        .arg(root().join("c-tests/dropin/client.c"))
        .arg("-o")
        .arg(&client)
        .arg("-ljpeg")
        .status()
        .unwrap()
        .success();
    assert!(ok, "client.c does not build");
    client
}

/// The C client: every way a libjpeg program hands over an image.
/// The emulator fault that makes the request starting a job fail (NEW_CMD2 on the
/// media_modules driver, NEW_CMD elsewhere).
fn refuse_job(generation: &str) -> &'static str {
    if generation == "MM" {
        "eperm:NEW_CMD2"
    } else {
        "eperm:NEW_CMD"
    }
}

#[test]
fn a_libjpeg_program_gets_the_hardware() {
    if !native() {
        return;
    }
    let img = load_rgb("chelsea.png");
    let input = ppm(&img);
    let client = client(None);
    let client = client.to_str().unwrap();
    let input = input.to_str().unwrap();
    for generation in ["E", "J", "MM"] {
        for mode in [
            "mem",
            "stdio",
            "raw420",
            "raw422",
            "ycc",
            "bgrx",
            "xrgb",
            "progressive",
            "linear",
            "suspend",
            "errors",
            "icc",
            "interleave",
            "many",
        ] {
            let out = state_dir().join("out.jpg");
            let args = [mode, input, out.to_str().unwrap(), "85"];
            let reference = run(client, &args, &out, None, &[]);
            let ours = run(client, &args, &out, Some(generation), &[]);
            let what = format!("{mode} on {generation}");
            // The hardware does every image but these: progressive is the real libjpeg's
            // from the start, and J (MM too) takes no custom tables (the real libjpeg then encodes
            // the collected image). "errors" encodes two images after its refused ones.
            // "interleave" encodes a second image while the first waits for its finish: the
            // first gave the device back when its body was written, so both are hardware.
            // "many" writes 100 pictures, each with its own compress object: the device
            // lingers open between them, so it is opened and initialised once.
            let expected = match (mode, generation) {
                ("progressive", _) | ("linear", "J" | "MM") => 0,
                ("errors", _) | ("interleave", _) => 2,
                ("many", _) => 100,
                _ => 1,
            };
            assert_eq!(ours.new_cmds, expected, "{what}:\n{}", ours.stderr);
            // The log speaks the program's terms (its colour space), not the code's.
            if expected > 0 {
                let layout = match mode {
                    "ycc" => "YCbCr rows",
                    "bgrx" => "BGRX/BGRA",
                    "xrgb" => "XRGB/ARGB",
                    "raw420" | "raw422" => "raw YCbCr planes",
                    _ => "RGB",
                };
                let line = ours.stderr.lines().find(|l| l.contains("on the hardware:"));
                let line = line.unwrap_or_default();
                assert!(
                    line.contains(&format!(" {layout} 4:2")) && !line.contains('{'),
                    "{what}: {line}"
                );
            }
            let inits = ours.config_inits;
            assert!(
                inits <= 1 && (expected == 0 || inits == 1),
                "{what}: {inits} CONFIG_INITs"
            );
            if expected == 0 {
                assert_eq!(
                    ours.jpeg, reference.jpeg,
                    "{what}: not the real libjpeg's file"
                );
            }
            assert!(
                has_segment(&ours.jpeg, 0xE1, b"Exif\0\0amljpg")
                    && has_segment(&ours.jpeg, 0xFE, b"hello"),
                "{what}: the program's markers are missing"
            );
            assert_eq!(segments(&ours.jpeg)[0].0, 0xE0, "{what}: JFIF first");
            let (p, r) = (psnr_of(&ours.jpeg, &img), psnr_of(&reference.jpeg, &img));
            assert!(
                p > r - 1.5,
                "{what}: {p:.2} dB, without the drop-in {r:.2} dB"
            );
        }
    }
}

/// A device fault mid-image: the real libjpeg encodes the collected image; never a broken file.
#[test]
fn a_device_fault_falls_back_to_the_real_libjpeg() {
    if !native() {
        return;
    }
    need_cjpeg();
    let img = load_rgb("chelsea.png");
    let (out, args) = cjpeg_q85(&img);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let reference = run("cjpeg", &args, &out, None, &[]);
    for generation in ["E", "J", "MM"] {
        for fault in ["corrupt", "no-eoi", "overflow", refuse_job(generation)] {
            let env = [
                ("JPEGENC_EMU_FAULT", fault),
                ("AML_JPEG_TIMEOUT_MS", "2000"),
            ];
            let ours = run("cjpeg", &args, &out, Some(generation), &env);
            let what = format!("{fault} on {generation}");
            // The device was tried; where its output is unusable the real libjpeg took over
            // (a missing EOI the library repairs itself).
            let fell_back = ours
                .stderr
                .contains("the real libjpeg encodes this image instead");
            // A refused NEW_CMD never reaches the model's count; the others run one job.
            let expected = if fault.starts_with("eperm") { 0 } else { 1 };
            assert_eq!(ours.new_cmds, expected, "{what}:\n{}", ours.stderr);
            assert!(fell_back || fault == "no-eoi", "{what}:\n{}", ours.stderr);
            let (p, r) = (psnr_of(&ours.jpeg, &img), psnr_of(&reference.jpeg, &img));
            assert!(p > r - 1.5, "{what}: {p:.2} dB vs {r:.2} dB");
        }
    }
}

/// Another process holds the device: the drop-in does not wait (by default) and the real
/// libjpeg encodes the image, giving the very file it would have written alone.
#[test]
fn a_busy_device_leaves_the_image_to_the_real_libjpeg() {
    if !native() {
        return;
    }
    need_cjpeg();
    let img = load_rgb("chelsea.png");
    let (out, args) = cjpeg_q85(&img);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let reference = run("cjpeg", &args, &out, None, &[]);
    for generation in ["E", "J", "MM"] {
        // The holder: libamljpeg from Python, a hardware handle kept open with a JPEG leased.
        let dir = state_dir();
        let holder = r#"
import sys, time
sys.path.insert(0, sys.argv[1])
import amljpeg
enc = amljpeg.Encoder(backend="hardware")
enc.encode(bytes(64 * 64 * 3), width=64, height=64, format="rgb24")
print("holding", flush=True)
time.sleep(30)
"#;
        let mut child = Command::new("python3")
            .args(["-c", holder, root().join("python").to_str().unwrap()])
            .env("AMLJPEG_LIB", preload_lib().with_file_name("libamljpeg.so"))
            .env("LD_PRELOAD", emulator_lib())
            .env("JPEGENC_EMU_GEN", generation)
            .env("JPEGENC_EMU_STATE_DIR", &dir)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line.trim(), "holding", "the holder did not get the device");
        let ours = run(
            "cjpeg",
            &args,
            &out,
            Some(generation),
            &[("JPEGENC_EMU_STATE_DIR", dir.to_str().unwrap())],
        );
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            ours.stderr.contains("the real libjpeg encodes this image"),
            "{generation}:\n{}",
            ours.stderr
        );
        assert!(
            ours.jpeg == reference.jpeg,
            "{generation}: not the real libjpeg's file"
        );
    }
}

/// libjpeg-turbo's cjpeg, as shipped.
#[test]
fn cjpeg() {
    if !native() {
        return;
    }
    need_cjpeg();
    let img = load_rgb("astronaut.png");
    let input = ppm(&img);
    let out = state_dir().join("out.jpg");
    let args = |extra: &'static [&'static str]| {
        let mut a: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        a.extend([
            "-outfile".into(),
            out.display().to_string(),
            input.display().to_string(),
        ]);
        a
    };
    for generation in ["E", "J", "MM"] {
        let plain = args(&["-quality", "85"]);
        let plain: Vec<&str> = plain.iter().map(String::as_str).collect();
        let reference = run("cjpeg", &plain, &out, None, &[]);
        let ours = run("cjpeg", &plain, &out, Some(generation), &[]);
        assert_eq!(ours.new_cmds, 1, "{generation}:\n{}", ours.stderr);
        let (p, r) = (psnr_of(&ours.jpeg, &img), psnr_of(&reference.jpeg, &img));
        assert!(p > r - 1.5, "{generation}: {p:.2} dB vs {r:.2} dB");
        assert_eq!(dqt_tables(&ours.jpeg), dqt_tables(&reference.jpeg));
        // What the hardware cannot do, and the switch that turns the drop-in off, leave the
        // real libjpeg's file byte for byte.
        for (extra, env) in [
            (&["-quality", "85", "-progressive"][..], &[][..]),
            (&["-quality", "85", "-optimize"][..], &[][..]),
            (&["-quality", "85", "-sample", "1x1"][..], &[][..]),
            (&["-quality", "85"][..], &[("AMLJPEG_PRELOAD", "0")][..]),
        ] {
            let a = args(extra);
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            let reference = run("cjpeg", &a, &out, None, &[]);
            let ours = run("cjpeg", &a, &out, Some(generation), env);
            assert_eq!(ours.new_cmds, 0, "{extra:?} {env:?}");
            assert!(ours.jpeg == reference.jpeg, "{extra:?} {env:?}: changed");
        }
    }
}

/// Pillow's Image.save (pip wheels bundle their own libjpeg, loaded RTLD_LOCAL).
#[test]
fn pillow() {
    let python = "python3";
    if !native() {
        return;
    }
    assert!(
        Command::new(python)
            .args(["-c", "import PIL"])
            .status()
            .is_ok_and(|s| s.success()),
        "Pillow is missing: pip install pillow (scripts/setup.sh does)"
    );
    let script = r#"
import sys
from PIL import Image
src, out = sys.argv[1], sys.argv[2]
im = Image.open(src).convert("RGB")
exif = Image.Exif()
exif[0x010F] = "amljpeg"
im.save(out, quality=85, exif=exif, dpi=(300, 300))
back = Image.open(out)
back.load()  # decompression in the same process
assert back.size == im.size and back.getexif()[0x010F] == "amljpeg", back.info
assert back.info["dpi"] == (300, 300), back.info
"#;
    let img = load_rgb("coffee.png");
    let src = testdata("coffee.png");
    let out = state_dir().join("out.jpg");
    let args = ["-c", script, src.to_str().unwrap(), out.to_str().unwrap()];
    let reference = run(python, &args, &out, None, &[]);
    for generation in ["E", "J", "MM"] {
        let ours = run(python, &args, &out, Some(generation), &[]);
        assert_eq!(ours.new_cmds, 1, "{generation}:\n{}", ours.stderr);
        let (p, r) = (psnr_of(&ours.jpeg, &img), psnr_of(&reference.jpeg, &img));
        assert!(p > r - 1.5, "{generation}: {p:.2} dB vs {r:.2} dB");
    }
}

/// A progress monitor cancels (longjmp) the fallback's pass over the rows: the program's
/// object is left reusable, its own destination in place, and its next image works.
#[test]
fn an_error_inside_the_fallback_leaves_the_object_reusable() {
    if !native() {
        return;
    }
    let img = load_rgb("chelsea.png");
    let input = ppm(&img);
    let client = client(None);
    for generation in ["E", "J", "MM"] {
        let out = state_dir().join("out.jpg");
        let args = [
            "cancel",
            input.to_str().unwrap(),
            out.to_str().unwrap(),
            "85",
        ];
        let first_refused = format!("{}@1", refuse_job(generation));
        let env = [("JPEGENC_EMU_FAULT", first_refused.as_str())];
        let ours = run(
            client.to_str().unwrap(),
            &args,
            &out,
            Some(generation),
            &env,
        );
        assert!(ours
            .stderr
            .contains("the real libjpeg encodes this image instead"));
        // The first image failed on the device; the one after the cancel is hardware.
        assert_eq!(ours.new_cmds, 1, "{generation}:\n{}", ours.stderr);
        assert!(psnr_of(&ours.jpeg, &img) > 30.0);
    }
}

/// libjpeg-turbo 3 linked with -Bsymbolic-functions (scripts/libjpeg-turbo3.sh): its internal
/// calls never reach the drop-in, so the fallback, ICC profiles and jpeg_finish_compress must
/// not depend on them; and its lossless mode stays the real libjpeg's, byte for byte.
#[test]
fn a_libjpeg_that_binds_its_own_calls() {
    if !native() {
        return;
    }
    let built = Command::new(root().join("scripts/libjpeg-turbo3.sh"))
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "building libjpeg-turbo 3 failed (cmake and nasm: scripts/setup.sh):\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let dir = PathBuf::from(String::from_utf8(built.stdout).unwrap().trim());
    // The build is what the test needs: no PLT slot for libjpeg's own functions.
    let relocs = Command::new("readelf")
        .args(["-rW"])
        .arg(dir.join("lib/libjpeg.so.62"))
        .output()
        .unwrap();
    let relocs = String::from_utf8_lossy(&relocs.stdout);
    assert!(
        relocs.contains("R_X86_64") || relocs.contains("R_ARM") || relocs.contains("R_AARCH64")
    );
    assert!(!relocs
        .lines()
        .any(|l| l.contains("JUMP_SLOT") && l.contains(" jpeg_")));
    let img = load_rgb("coffee.png");
    let input = ppm(&img);
    let client = client(Some(&dir));
    let client = client.to_str().unwrap();
    let out = state_dir().join("out.jpg");
    let args = |mode: &'static str| [mode, input.to_str().unwrap(), out.to_str().unwrap(), "85"];
    for generation in ["E", "J", "MM"] {
        let refused = refuse_job(generation);
        let first_refused = format!("{refused}@1");
        for (mode, fault, new_cmds) in [
            ("mem", "", 1),
            ("icc", "", 1),
            ("interleave", "", 2),
            ("mem", refused, 0),
            ("icc", refused, 0),
            ("cancel", first_refused.as_str(), 1),
            ("lossless", "", 0),
        ] {
            let what = format!("{mode} {fault} on {generation}");
            let reference = run(client, &args(mode), &out, None, &[]);
            let env = [("JPEGENC_EMU_FAULT", fault)];
            let ours = run(client, &args(mode), &out, Some(generation), &env);
            assert_eq!(ours.new_cmds, new_cmds, "{what}:\n{}", ours.stderr);
            if mode == "lossless" || fault == refused {
                // The real libjpeg's file, byte for byte (lossless is not ours; the fallback
                // writes what libjpeg would have, around the program's markers).
                assert!(
                    ours.jpeg == reference.jpeg,
                    "{what}: not the real libjpeg's file"
                );
            } else {
                let (p, r) = (psnr_of(&ours.jpeg, &img), psnr_of(&reference.jpeg, &img));
                assert!(p > r - 1.5, "{what}: {p:.2} dB vs {r:.2} dB");
            }
        }
    }
}
