//! `amljpeg info` against the emulator beside the binary (through `$AMLJPEG_TEST_RUNNER`, as
//! qemu-arm for armhf): the device, on the E driver's 8M level the usable maximum (its output
//! window runs past the reserved block), and the media_modules driver.

fn info(env: &[(&str, &str)]) -> String {
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_amljpeg"));
    let emulator = exe.with_file_name("libjpegenc_emu.so");
    assert!(
        emulator.is_file(),
        "{} is not built (cargo build --release --workspace)",
        emulator.display()
    );
    let state =
        std::env::temp_dir().join(format!("amljpeg-info-{}-{}", std::process::id(), env.len()));
    std::fs::create_dir_all(&state).unwrap();
    let out = amljpeg_testkit::target_command(exe)
        .arg("info")
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
