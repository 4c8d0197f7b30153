//! The device lingers open after the process's last handle goes (`AML_JPEG_LINGER_MS`): a
//! program making a handle per picture opens and initialises it once; another process gets it
//! when the linger ends; a process exiting meanwhile leaves it free at once. Against the
//! emulated drivers (E, J, MM), each test in a child process (common/emulator.rs).

mod common;

use amljpeg::{Backend, BackendChoice, Encoder, Frame, PixelFormat};
use common::emulator::{deadline_ms, emu_stat, in_emulator, slowdown, target_command};
use common::*;
use std::io::BufRead;
use std::time::{Duration, Instant};

fn picture() -> Vec<u8> {
    convert(&synthetic(64, 48), PixelFormat::Nv12)
}

/// Opens a HARDWARE handle, encodes one picture, and closes the handle.
fn one_picture(data: &[u8]) -> Duration {
    let started = Instant::now();
    let mut enc = Encoder::open(None, BackendChoice::Hardware).unwrap();
    enc.set_timeout(Some(deadline_ms(10_000)));
    let frame = Frame::new(data, 64, 48, 0, PixelFormat::Nv12).unwrap();
    enc.encode(&frame, 80).unwrap();
    assert_eq!(enc.last_backend(), Some(Backend::Hardware));
    started.elapsed()
}

#[test]
fn a_handle_per_picture_opens_the_device_once() {
    let name = "a_handle_per_picture_opens_the_device_once";
    if !in_emulator(name, &[("JPEGENC_EMU_MPIXPS", "0")]) {
        // Linger 0 is the old behaviour: an open and a CONFIG_INIT per picture.
        in_emulator(
            name,
            &[("AML_JPEG_LINGER_MS", "0"), ("JPEGENC_EMU_MPIXPS", "0")],
        );
        return;
    }
    let data = picture();
    for _ in 0..100 {
        one_picture(&data);
    }
    let expected = if std::env::var("AML_JPEG_LINGER_MS").as_deref() == Ok("0") {
        100
    } else {
        1
    };
    assert_eq!(emu_stat("new_cmds"), 100);
    assert_eq!(
        emu_stat("CONFIG_INIT"),
        expected,
        "CONFIG_INITs for 100 handles"
    );
    assert_eq!(emu_stat("opens"), expected);
}

/// A child that takes the device, closes its handle (the device lingers) and says "idle",
/// then exits at once or stays a while.
#[test]
fn lingering_child() {
    let Ok(mode) = std::env::var("AMLJPEG_LINGER_CHILD") else {
        return;
    };
    one_picture(&picture());
    println!("idle");
    if mode == "stay" {
        std::thread::sleep(Duration::from_secs(5));
    }
}

fn start_lingering(mode: &str, linger_ms: u64) -> std::process::Child {
    let mut child = target_command(std::env::current_exe().unwrap())
        .args([
            "lingering_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("AMLJPEG_LINGER_CHILD", mode)
        .env("AML_JPEG_LINGER_MS", linger_ms.to_string())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(
        lines.any(|l| l.unwrap().contains("idle")),
        "the child never used the device"
    );
    // The rest of its output must find a reader, or its harness fails writing it.
    std::thread::spawn(move || lines.for_each(drop));
    child
}

#[test]
fn another_process_gets_the_device_when_the_linger_ends() {
    if !in_emulator(
        "another_process_gets_the_device_when_the_linger_ends",
        &[("JPEGENC_EMU_MPIXPS", "0"), ("JPEGENC_EMU_INIT_MS", "0")],
    ) {
        return;
    }
    let linger = 400;
    let mut first = start_lingering("stay", linger);
    let idle = Instant::now();
    // AUTO does not wait for it: software meanwhile.
    let data = picture();
    let frame = Frame::new(&data, 64, 48, 0, PixelFormat::Nv12).unwrap();
    let mut auto = Encoder::open(None, BackendChoice::Auto).unwrap();
    auto.encode(&frame, 80).unwrap();
    assert_eq!(auto.last_backend(), Some(Backend::Software));
    drop(auto);
    // HARDWARE waits, and has it once the linger is over.
    one_picture(&data);
    let waited = idle.elapsed();
    let bound = Duration::from_millis(linger + 100 * slowdown());
    assert!(
        waited >= Duration::from_millis(linger / 2),
        "{waited:?}: the first process did not keep the device"
    );
    assert!(waited <= bound, "{waited:?}: more than {bound:?}");
    first.kill().unwrap();
    first.wait().unwrap();
}

#[test]
fn a_process_exiting_while_the_device_lingers_leaves_it_free() {
    if !in_emulator(
        "a_process_exiting_while_the_device_lingers_leaves_it_free",
        &[("JPEGENC_EMU_MPIXPS", "0")],
    ) {
        return;
    }
    let mut first = start_lingering("exit", 60_000);
    assert!(first.wait().unwrap().success());
    // No wait at all: the device is free the moment the process is gone.
    let mut enc = Encoder::open(None, BackendChoice::Hardware).unwrap();
    enc.set_busy_wait(Some(Duration::ZERO));
    let data = picture();
    let frame = Frame::new(&data, 64, 48, 0, PixelFormat::Nv12).unwrap();
    enc.encode(&frame, 80).unwrap();
}
