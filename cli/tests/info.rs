//! `amljpeg info` against the emulator beside the binary (through `$AMLJPEG_TEST_RUNNER`, as
//! qemu-arm for armhf): the device, on the E driver's 8M level the usable maximum (its output
//! window runs past the reserved block), and the media_modules driver.

fn info(env: &[(&str, &str)]) -> String {
    info_with(env, None)
}

/// `amljpeg info [--device DEVICE]` with the emulator preloaded and `env` set.
fn info_with(env: &[(&str, &str)], device: Option<&str>) -> String {
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_amljpeg"));
    let emulator = exe.with_file_name("libjpegenc_emu.so");
    assert!(
        emulator.is_file(),
        "{} is not built (cargo build --release --workspace)",
        emulator.display()
    );
    let state = amljpeg_testkit::scratch_dir("amljpeg-info");
    let mut command = amljpeg_testkit::target_command(exe);
    command.arg("info");
    if let Some(device) = device {
        command.args(["--device", device]);
    }
    let out = command
        .env("LD_PRELOAD", &emulator)
        .env("JPEGENC_EMU_STATE_DIR", &state)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&state);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn info_names_the_device_and_the_usable_maximum() {
    let c1 = info(&[]);
    assert!(c1.contains("AML-M8 (E-generation driver)"), "{c1}");
    assert!(c1.contains("usable output space: 4193712 bytes"), "{c1}");
    assert!(!c1.contains("past the reserved block"), "{c1}");
    let l8 = info(&[("JPEGENC_EMU_RESERVE", "0x2300000")]);
    assert!(
        l8.contains("up to 704x704 at quality 75, 640x640 at 100"),
        "{l8}"
    );
    let j = info(&[
        ("JPEGENC_EMU_GEN", "J"),
        ("JPEGENC_EMU_RESERVE", "0x2300000"),
    ]);
    assert!(
        j.contains("J-generation") && !j.contains("past the reserved block"),
        "{j}"
    );
    assert!(!j.contains("media_modules"), "{j}");
    let mm = info(&[("JPEGENC_EMU_GEN", "MM"), ("JPEGENC_EMU_SOC", "t7")]);
    assert!(
        mm.contains("AML-GXTVBB (J-generation driver)")
            && mm.contains("driver: media_modules (NEW_CMD2); dma-buf input available")
            && mm.contains("SoC t7: any 32-byte aligned strides"),
        "{mm}"
    );
}

/// Each reason the device stays away gets one line that names it and what to do, pointing to
/// the board guide: the emulator's open faults and switches stand for each board's state.
#[test]
fn info_says_in_one_line_what_keeps_the_device_away() {
    let line = |env: &[(&str, &str)], device: Option<&str>| {
        let out = info_with(env, device);
        let line = out
            .lines()
            .find(|l| l.starts_with("hardware: unavailable: "))
            .unwrap_or_else(|| panic!("no diagnosis in {out}"))
            .to_string();
        assert!(line.ends_with("; see docs/boards.md"), "{line}");
        assert!(out.contains("backend for AUTO: software"), "{out}");
        line
    };
    let missing = line(&[], Some("/dev/jpegenc-none"));
    assert!(
        missing.contains("cannot open /dev/jpegenc-none")
            && missing.contains("no JPEG encoder node")
            && missing.contains("device-tree node"),
        "{missing}"
    );
    let denied = line(&[("JPEGENC_EMU_FAULT", "eacces")], None);
    assert!(
        denied.contains("Permission denied") && denied.contains("sudo adduser $USER jpegenc"),
        "{denied}"
    );
    let busy = line(&[("JPEGENC_EMU_FAULT", "busy")], None);
    assert!(busy.contains("another process has it open"), "{busy}");
    for generation in ["J", "MM"] {
        let memory = line(
            &[
                ("JPEGENC_EMU_GEN", generation),
                ("JPEGENC_EMU_FAULT", "enomem"),
            ],
            None,
        );
        assert!(memory.contains("not enough CMA / codec memory"), "{memory}");
    }
    let silent = line(&[("JPEGENC_EMU_FAULT", "eperm:GET_DEVINFO")], None);
    assert!(
        silent.contains("GET_DEVINFO failed") && silent.contains("another driver"),
        "{silent}"
    );
    let unknown = line(
        &[("JPEGENC_EMU_GEN", "J"), ("JPEGENC_EMU_DEVINFO", "XYZ-NEW")],
        None,
    );
    assert!(
        unknown.contains("driver generation this library does not know")
            && unknown.contains("XYZ-NEW"),
        "{unknown}"
    );
}
