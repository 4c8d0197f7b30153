//! Running a test body inside a child process that has the emulator preloaded, so the
//! library's real syscalls meet a /dev/jpegenc.

use std::path::PathBuf;

/// libjpegenc_emu.so: `$JPEGENC_EMU_LIB`, or the workspace's release build.
pub fn emulator_lib() -> PathBuf {
    amljpeg_testkit::workspace_release_lib("libjpegenc_emu.so", "JPEGENC_EMU_LIB")
}

/// A fresh state directory: this test's own device (lock, persisted globals, stats).
pub fn state_dir() -> PathBuf {
    amljpeg_testkit::scratch_dir("amljpeg-test")
}

pub use amljpeg_testkit::{stat_in, target_command};

/// True inside the child. Outside, runs test `name` of this binary in a child with the
/// emulator preloaded and `env` set, once per driver generation (E, J, then the media_modules
/// driver MM, or those `$AMLJPEG_TEST_GENERATIONS` names) unless `env` names one with
/// `JPEGENC_EMU_GEN`, and fails if any run fails.
pub fn in_emulator(name: &str, env: &[(&str, &str)]) -> bool {
    if std::env::var_os("AMLJPEG_IN_EMULATOR").is_some() {
        return true;
    }
    if env.iter().any(|(k, _)| *k == "JPEGENC_EMU_GEN") {
        run_child(name, env);
    } else {
        for generation in amljpeg_testkit::generations() {
            let mut with = env.to_vec();
            with.push(("JPEGENC_EMU_GEN", generation));
            run_child(name, &with);
        }
    }
    false
}

/// The driver generation the child runs against.
pub fn generation() -> String {
    std::env::var("JPEGENC_EMU_GEN").unwrap_or_else(|_| "E".into())
}

fn run_child(name: &str, env: &[(&str, &str)]) {
    let dir = state_dir();
    let out = target_command(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env("LD_PRELOAD", emulator_lib())
        .env("AMLJPEG_IN_EMULATOR", "1")
        .env("JPEGENC_EMU_STATE_DIR", &dir)
        .env("JPEGENC_EMU_STATS", dir.join("stats.json"))
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{name} failed in the emulator ({env:?}):\n{text}"
    );
    assert!(
        text.contains("1 passed"),
        "{name} did not run in the child:\n{text}"
    );
}

/// A counter from the emulator's stats file (inside the child).
pub fn emu_stat(key: &str) -> u64 {
    let path = std::env::var("JPEGENC_EMU_STATS").expect("inside the emulator");
    stat_in(std::path::Path::new(&path), key)
}

/// How much slower the target runs than native (`$AMLJPEG_TEST_SLOWDOWN`, e.g. 20 under
/// qemu-arm): every deadline a test sets is stretched by it.
pub fn slowdown() -> u64 {
    std::env::var("AMLJPEG_TEST_SLOWDOWN")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1)
}

/// A test deadline of `ms` native milliseconds.
pub fn deadline_ms(ms: u64) -> std::time::Duration {
    std::time::Duration::from_millis(ms * slowdown())
}
