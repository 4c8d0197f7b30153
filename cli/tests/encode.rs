//! `amljpeg encode --exif --icc --comment` on the emulated hardware (the emulator beside the
//! binary) and in software: the same file start, which djpeg and `jpeginfo -c` accept. The
//! binary runs through `$AMLJPEG_TEST_RUNNER` (qemu-arm for armhf).

use amljpeg_testkit::target_command;
use std::path::{Path, PathBuf};
use std::process::Command;

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("amljpeg-cli-encode-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `amljpeg encode` with `args`, on the emulator when `generation` is given.
fn encode(dir: &Path, generation: Option<&str>, args: &[&str]) -> Vec<u8> {
    let exe = Path::new(env!("CARGO_BIN_EXE_amljpeg"));
    let out = dir.join("out.jpg");
    let mut cmd = target_command(exe);
    cmd.arg("encode")
        .arg(amljpeg_testkit::testdata("chelsea.png"))
        .arg(&out)
        .args(args);
    if let Some(generation) = generation {
        let emulator = exe.with_file_name("libjpegenc_emu.so");
        assert!(emulator.is_file(), "{} is not built", emulator.display());
        let state = dir.join(format!("state-{generation}"));
        std::fs::create_dir_all(&state).unwrap();
        cmd.args(["--backend", "hardware"])
            .env("LD_PRELOAD", &emulator)
            .env("JPEGENC_EMU_STATE_DIR", &state)
            .env("JPEGENC_EMU_GEN", generation);
    } else {
        cmd.args(["--backend", "software"]);
    }
    let run = cmd.output().unwrap();
    let said = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{said}");
    let by = if generation.is_some() {
        "(hardware"
    } else {
        "(software"
    };
    assert!(said.contains(by), "{said}");
    std::fs::read(&out).unwrap()
}

/// Runs a program that must accept the JPEG, and returns what it printed; names the package
/// when it is missing.
fn accepted_by(program: &str, args: &[&str], jpeg: &Path, package: &str) -> String {
    let run = Command::new(program)
        .args(args)
        .arg(jpeg)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}: install {package} (scripts/setup.sh does)"));
    assert!(
        run.status.success(),
        "{program} refuses {}: {}{}",
        jpeg.display(),
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8_lossy(&run.stdout).into_owned()
}

#[test]
fn exif_icc_and_comment_go_into_every_backends_jpeg() {
    let dir = scratch();
    let exif = dir.join("exif.bin");
    // A TIFF with one entry (orientation 6), without the Exif identifier.
    std::fs::write(
        &exif,
        b"II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0\x06\0\0\0\0\0\0\0",
    )
    .unwrap();
    let icc = dir.join("profile.icc");
    std::fs::write(&icc, (0..70_000u32).map(|i| i as u8).collect::<Vec<u8>>()).unwrap();
    let args = [
        "-q",
        "85",
        "--exif",
        exif.to_str().unwrap(),
        "--icc",
        icc.to_str().unwrap(),
        "--comment",
        "shot on an Odroid",
    ];
    let software = encode(&dir, None, &args);
    assert_eq!(&software[..4], &[0xFF, 0xD8, 0xFF, 0xE0]);
    assert_eq!(&software[20..24], &[0xFF, 0xE1, 0, 34]);
    assert_eq!(&software[24..32], b"Exif\0\0II");
    // Two ICC chunks, then the comment, then libjpeg-turbo's tables.
    let icc_at = 20 + 36;
    assert_eq!(&software[icc_at..icc_at + 2], &[0xFF, 0xE2]);
    let com_at = icc_at + 2 * 18 + 70_000;
    assert_eq!(&software[com_at..com_at + 4], &[0xFF, 0xFE, 0, 19]);
    assert_eq!(&software[com_at + 4..com_at + 21], b"shot on an Odroid");
    assert_eq!(&software[com_at + 21..com_at + 23], &[0xFF, 0xDB]);
    let head = com_at + 21 + 603;
    for generation in ["E", "J"] {
        let hardware = encode(&dir, Some(generation), &args);
        assert_eq!(&hardware[..head], &software[..head], "{generation}");
        let file = dir.join(format!("hardware-{generation}.jpg"));
        std::fs::write(&file, &hardware).unwrap();
        accepted_by(
            "djpeg",
            &["-outfile", "/dev/null"],
            &file,
            "libjpeg-turbo-progs",
        );
        let info = accepted_by("jpeginfo", &["-c"], &file, "jpeginfo");
        // "451 x 300 24bit N JFIF,Exif,ICC,COM ... OK": baseline, every marker, no warning.
        assert!(
            info.contains(" N JFIF,Exif,ICC,COM ") && info.trim_end().ends_with("OK"),
            "{info}"
        );
    }
    let bad = encode_fails(&dir, &["--comment", &"x".repeat(70_000)]);
    assert!(bad.contains("does not fit one COM segment"), "{bad}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn encode_fails(dir: &Path, args: &[&str]) -> String {
    let run = target_command(env!("CARGO_BIN_EXE_amljpeg"))
        .arg("encode")
        .arg(amljpeg_testkit::testdata("chelsea.png"))
        .arg(dir.join("never.jpg"))
        .args(args)
        .output()
        .unwrap();
    assert!(!run.status.success());
    String::from_utf8_lossy(&run.stderr).into_owned()
}

#[test]
fn a_greyscale_frame_is_reported_as_greyscale() {
    let dir = scratch().join("grey");
    std::fs::create_dir_all(&dir).unwrap();
    let raw = dir.join("grey.raw");
    let pixels: Vec<u8> = (0..64 * 48).map(|i| (i % 251) as u8).collect();
    std::fs::write(&raw, pixels).unwrap();
    let run = target_command(env!("CARGO_BIN_EXE_amljpeg"))
        .arg("encode")
        .arg(&raw)
        .arg(dir.join("grey.jpg"))
        .args([
            "--size",
            "64x48",
            "--format",
            "gray8",
            "--backend",
            "software",
        ])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{said}");
    assert!(
        said.contains("gray8") && said.contains("greyscale)"),
        "{said}"
    );
    assert!(!said.contains("4:2:0"), "{said}");
    let _ = std::fs::remove_dir_all(&dir);
}
