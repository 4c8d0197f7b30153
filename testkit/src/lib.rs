//! What the tests of every crate share: the test photographs, synthetic frames, decoding with
//! libjpeg-turbo, PSNR, scratch directories, memfds standing in for dma-bufs, and running
//! programs built for the target.
//! Dev-only.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// An RGB image, tightly packed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rgb {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

/// The checkout's `testdata/`, or `$AMLJPEG_TESTDATA`.
pub fn testdata(name: &str) -> PathBuf {
    std::env::var_os("AMLJPEG_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata"))
        .join(name)
}

/// A test photograph (PNG) as RGB.
pub fn load_rgb(name: &str) -> Rgb {
    let file = std::fs::File::open(testdata(name)).expect("test image");
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let n = info.width as usize * info.height as usize;
    let pixels = match info.color_type {
        png::ColorType::Rgb => buf[..n * 3].to_vec(),
        png::ColorType::Rgba => buf[..n * 4]
            .chunks(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect(),
        png::ColorType::Grayscale => buf[..n].iter().flat_map(|&g| [g, g, g]).collect(),
        png::ColorType::GrayscaleAlpha => buf[..n * 2].chunks(2).flat_map(|p| [p[0]; 3]).collect(),
        png::ColorType::Indexed => unreachable!("normalize_to_color8 expands palettes"),
    };
    Rgb {
        width: info.width as usize,
        height: info.height as usize,
        pixels,
    }
}

/// `len` bytes of noise from `seed` (xorshift: the same every run for the same seed).
pub fn noise_bytes(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Noise: the worst input for a JPEG's size (the same every run).
pub fn noise(width: usize, height: usize) -> Rgb {
    let pixels = noise_bytes(width * height * 3, 0x2545_F491);
    Rgb {
        width,
        height,
        pixels,
    }
}

/// Decodes a JPEG to RGB with libjpeg-turbo.
pub fn decode_rgb(jpeg: &[u8]) -> Result<Rgb, String> {
    let image =
        turbojpeg::decompress(jpeg, turbojpeg::PixelFormat::RGB).map_err(|e| e.to_string())?;
    Ok(Rgb {
        width: image.width,
        height: image.height,
        pixels: image.pixels,
    })
}

/// Peak signal-to-noise ratio of two equally long sample buffers, in dB (99 when equal).
pub fn psnr(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let se: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum();
    let mse = se / a.len() as f64;
    if mse == 0.0 {
        99.0
    } else {
        10.0 * (255.0 * 255.0 / mse).log10()
    }
}

/// A fresh scratch directory (`<prefix>-<pid>-<n>` in the temporary directory).
pub fn scratch_dir(prefix: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A library the workspace builds (`libjpegenc_emu.so`, `libamljpeg_preload.so`) that the
/// tests preload: `$env_var` when it names one, else the workspace's release build of it,
/// brought up to date first. The whole workspace, as `cargo build --release --workspace`
/// builds it: building one package would resolve its dependencies' features on their own and
/// compile them (and the file) again, differently from the test command's build.
pub fn workspace_release_lib(file: &str, env_var: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env_var) {
        return PathBuf::from(path);
    }
    static BUILT: std::sync::Once = std::sync::Once::new();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    BUILT.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let ok = std::process::Command::new(cargo)
            .args(["build", "--release", "--workspace"])
            .current_dir(&root)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "cargo build --release --workspace failed");
    });
    root.join("target/release").join(file)
}

/// The driver generations the emulated-hardware tests run on: `$AMLJPEG_TEST_GENERATIONS`
/// (comma-separated, e.g. `J,MM`), else all three. An architecture's stage names those of its
/// boards; an unknown name fails the test.
pub fn generations() -> Vec<&'static str> {
    const ALL: [&str; 3] = ["E", "J", "MM"];
    match std::env::var("AMLJPEG_TEST_GENERATIONS") {
        Ok(list) if !list.trim().is_empty() => list
            .split(',')
            .map(|name| {
                let name = name.trim();
                *ALL.iter()
                    .find(|g| **g == name)
                    .unwrap_or_else(|| panic!("AMLJPEG_TEST_GENERATIONS: no generation {name:?}"))
            })
            .collect(),
        _ => ALL.to_vec(),
    }
}

/// A command for a program built for the target: prefixed with `$AMLJPEG_TEST_RUNNER` (e.g.
/// `qemu-arm -L /usr/arm-linux-gnueabihf` when testing armhf without binfmt_misc).
pub fn target_command(program: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
    match std::env::var("AMLJPEG_TEST_RUNNER")
        .ok()
        .filter(|r| !r.trim().is_empty())
    {
        Some(runner) => {
            let mut words = runner.split_whitespace();
            let mut cmd = std::process::Command::new(words.next().unwrap());
            cmd.args(words).arg(program);
            cmd
        }
        None => std::process::Command::new(program),
    }
}

/// A memfd holding `bytes` from byte `offset` (zeros before): what the tests hand the library,
/// the emulator and GStreamer as a dma-buf.
pub fn memfd(bytes: &[u8], offset: usize) -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: memfd_create with a NUL-terminated name (the system call: glibc's
    // wrapper is newer than the boards' 2.17 floor).
    let raw = unsafe {
        libc::syscall(libc::SYS_memfd_create, c"frame".as_ptr(), libc::MFD_CLOEXEC) as libc::c_int
    };
    assert!(
        raw >= 0,
        "memfd_create: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: a fresh descriptor we own.
    let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(raw) };
    let file = std::fs::File::from(fd.try_clone().unwrap());
    std::os::unix::fs::FileExt::write_all_at(&file, bytes, offset as u64).unwrap();
    fd
}

/// A counter from the emulator stats file at `path` (0 when absent).
pub fn stat_in(path: &std::path::Path, key: &str) -> u64 {
    let json = std::fs::read_to_string(path).unwrap_or_default();
    let Some(at) = json.find(&format!("\"{key}\": ")) else {
        return 0;
    };
    json[at + key.len() + 4..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or(0)
}
