//! `amljpeg bench` runs end to end (against the emulator beside the binary) and reports every
//! section with finite figures. Tiny frame counts: this checks that it works, not how fast.

use std::process::Command;

#[test]
fn bench_reports_every_section() {
    if std::env::var_os("AMLJPEG_TEST_RUNNER").is_some() {
        return; // it re-executes itself with the emulator preloaded: native runs only
    }
    let out = Command::new(env!("CARGO_BIN_EXE_amljpeg"))
        .args(["bench", "--frames", "2", "--json"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let emulated = std::path::Path::new(env!("CARGO_BIN_EXE_amljpeg"))
        .with_file_name("libjpegenc_emu.so")
        .is_file();
    let mut sections = vec!["input", "software"];
    if emulated {
        sections.extend(["hardware", "pipeline", "scaling", "overhead", "dma-buf"]);
    }
    for section in sections {
        assert!(
            text.contains(&format!("\"section\": \"{section}\"")),
            "no {section} figures in {text}"
        );
    }
    if emulated {
        // The figures the hardware's pace is judged by (issue #18), each in the report.
        for case in [
            "1280x720 nv12: emulator's job time / modelled",
            "1920x1080 rgb24: emulator's job time / modelled",
            "1920x1080 nv12: wall / (modelled + one copy)",
            "1280x720 rgb24: batch throughput / modelled hardware rate",
            "1280x720 nv12, 8 threads: throughput / 1 thread",
            "640x480 nv12: library CPU per frame (emulator excluded) / one copy",
            "1920x1080 nv12: library CPU per frame, zero-copy input (emulator excluded) / one copy",
            "1280x720 nv12: library CPU per frame (emulator excluded) / one copy made between encodes",
            "1280x720 nv12: library CPU per frame, zero-copy input (emulator excluded) / one copy made between encodes",
            // The foreign client gets the device once the bench's own handles are gone.
            "1280x720 nv12: CPU / busy-poll client's CPU",
            "1920x1080 rgb24: wall / busy-poll client's wall",
        ] {
            assert!(text.contains(case), "no \"{case}\" in {text}");
        }
    }
    // Every figure is there or the report says why not.
    assert!(text.contains("\"missing\": []"), "figures missing: {text}");
    for value in text.split("\"value\": ").skip(1) {
        let v: f64 = value
            .split(',')
            .next()
            .unwrap()
            .trim()
            .parse()
            .unwrap_or(f64::NAN);
        assert!(v.is_finite() && v >= 0.0, "a figure is {v}: {text}");
    }
}
