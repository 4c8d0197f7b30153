//! The emulator's switches, read from `JPEGENC_EMU_*` environment variables.

use std::path::PathBuf;
use std::time::Duration;

/// What GET_OUTPUT_SIZE counts on E (docs/driver.md §6, uncertain).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputSize {
    /// The 592 header bytes plus the entropy data (how the vendor HAL and the Blog read it).
    Total,
    /// Only the bytes the VLC wrote after the header.
    Payload,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// The job never completes.
    Hang,
    /// open() fails with EBUSY.
    Busy,
    /// open() fails with EACCES: the node is not the caller's to open (the udev rule's mode
    /// 0660 and group jpegenc, for someone outside the group). The VFS says so before the driver.
    Denied,
    /// open() fails with ENOMEM: the J and media_modules drivers allocate their buffer from
    /// CMA / codec_mm at open, and there was not enough (the E driver's memory is a carve-out).
    NoMemory,
    /// The named ioctl fails with -1/EPERM.
    Eperm(String),
    /// The output is larger than the bitstream buffer.
    Overflow,
    /// The microcode writes no EOI.
    NoEoi,
    /// The scan is garbage.
    Corrupt,
    /// The job takes this many times longer.
    Slow(f64),
    /// The job completes but poll never becomes readable.
    LostIrq,
    /// CONFIG_INIT fails to load the microcode (after the DMA wait) yet returns 0, as the
    /// driver does: no job of that open ever completes.
    NoMicrocode,
}

/// A fault and which occurrence it hits (`None`: every one).
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub kind: FaultKind,
    /// Only the n-th occurrence (`kind@n`).
    pub nth: Option<u64>,
    /// A deterministic pseudo-random share of the occurrences, in per cent (`kind%p`).
    pub percent: Option<f64>,
}

impl Fault {
    pub fn hits(&self, occurrence: u64) -> bool {
        if let Some(p) = self.percent {
            // splitmix64 of the occurrence and the kind: the same run hits the same jobs.
            let seed = format!("{:?}", self.kind)
                .bytes()
                .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64));
            let mut z = occurrence
                .wrapping_add(seed)
                .wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            return (z % 10_000) as f64 / 100.0 < p;
        }
        self.nth.is_none_or(|n| n == occurrence)
    }
}

/// Which driver generation to emulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    /// Meson8b / Odroid C1 (3.10): magic 'E'.
    E,
    /// GXBB / Odroid C2 and later: magic 'J'.
    J,
}

/// The SoCs whose media_modules driver takes the C1+ path: strides and block mode honoured
/// (docs/driver.md §8). Every other SoC reads the input with the canvas geometry.
pub const STRIDE_SOCS: [&str; 4] = ["c1", "t7", "t3", "s5"];

/// J's GET_DEVINFO string for a SoC: "AML-GXBB" on GXBB, "AML-GXTVBB" from GXL on (so the
/// string cannot tell a T7 from an SM1).
pub fn devinfo_of(soc: &str) -> &'static str {
    if soc == "gxbb" {
        "AML-GXBB"
    } else {
        "AML-GXTVBB"
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub generation: Generation,
    /// J as in Amlogic's media_modules tree (4.9 / 5.4 / 5.15 kernels): the inited checks, the
    /// mmap bound, the area size check, QUERY_DMA_SUPPORT, CONFIG/RELEASE_DMA_INPUT, NEW_CMD2.
    pub mm: bool,
    /// MM: the `use_dma_io` module parameter QUERY_DMA_SUPPORT reports.
    pub dma_io: bool,
    /// The board's SoC, lower case as in its device tree's "amlogic,<soc>" ("meson8b", "gxbb",
    /// "sm1", "t7", ...): the device tree the emulator shows, and on MM whether strides count.
    pub soc: String,
    /// J: the GET_DEVINFO string (E always says "AML-M8").
    pub devinfo: String,
    /// The device path that appears (`/dev/jpegenc`).
    pub path: String,
    /// The reserved memory size, which selects the buffer level.
    pub reserve: u32,
    pub output_size: OutputSize,
    /// Whether the microcode writes EOI.
    pub eoi: bool,
    /// Whether the START and MCU stages raise interrupts (visible through GET_STAGE).
    pub stages_visible: bool,
    /// Modelled encoder speed in megapixels per second; 0 = instant.
    pub mpixps: f64,
    /// Which encoder produces the scan: libjpeg-turbo (fast enough to keep the modelled pace)
    /// or the reference encoder (the hardware's arithmetic; `JPEGENC_EMU_SCAN=reference`).
    pub reference_scan: bool,
    pub strict_cache: bool,
    /// The CPU's view of the bitstream buffer is cached: stale until invalidated, and what
    /// the CPU writes there is written back whenever (false: coherent, no model).
    pub strict_output_cache: bool,
    /// J: whether the CPU sees the header the driver writes into the assist buffer (the 3.14
    /// driver writes it through a cacheable alias: J's default) or may read a stale copy
    /// (media_modules writes it through `codec_mm_vmap`, caching UNCERTAIN: MM's default, the
    /// strict choice).
    pub j_header_coherent: bool,
    pub faults: Vec<Fault>,
    pub stats_path: Option<PathBuf>,
    pub log: bool,
    /// Where the lock and state files that coordinate processes live.
    pub state_dir: PathBuf,
    /// CONFIG_INIT's power-up time.
    pub init_delay: Duration,
    /// The encoder process (`jpegenc-emu-hw`); None: encode on a thread of this process.
    pub encoder_process: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            generation: Generation::E,
            mm: false,
            dma_io: true,
            soc: "meson8b".into(),
            devinfo: "AML-GXBB".into(),
            path: "/dev/jpegenc".into(),
            reserve: 0x1800000,
            output_size: OutputSize::Total,
            eoi: true,
            stages_visible: false,
            mpixps: 150.0,
            reference_scan: false,
            strict_cache: true,
            strict_output_cache: true,
            j_header_coherent: false,
            faults: Vec::new(),
            stats_path: None,
            log: false,
            state_dir: std::env::temp_dir(),
            init_delay: Duration::from_millis(10),
            encoder_process: None,
        }
    }
}

fn parse_u32(text: &str) -> Option<u32> {
    let t = text.trim();
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => t.parse().ok(),
    }
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Parses `kind[@n][,kind[@n]...]`.
pub fn parse_faults(text: &str) -> Result<Vec<Fault>, String> {
    let mut faults = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (spec, nth) = match item.rsplit_once('@') {
            Some((spec, n)) => (
                spec,
                Some(
                    n.parse::<u64>()
                        .map_err(|_| format!("bad occurrence in {item:?}"))?,
                ),
            ),
            None => (item, None),
        };
        let (spec, percent) = match spec.rsplit_once('%') {
            Some((spec, p)) => (
                spec,
                Some(
                    p.parse::<f64>()
                        .ok()
                        .filter(|p| (0.0..=100.0).contains(p))
                        .ok_or_else(|| format!("bad percentage in {item:?}"))?,
                ),
            ),
            None => (spec, None),
        };
        let (name, value) = spec.split_once(':').unwrap_or((spec, ""));
        let kind = match name {
            "hang" => FaultKind::Hang,
            "busy" => FaultKind::Busy,
            "eacces" => FaultKind::Denied,
            "enomem" => FaultKind::NoMemory,
            "eperm" if !value.is_empty() => FaultKind::Eperm(value.to_ascii_uppercase()),
            "overflow" => FaultKind::Overflow,
            "no-eoi" => FaultKind::NoEoi,
            "corrupt" => FaultKind::Corrupt,
            "slow" => FaultKind::Slow(
                value
                    .parse()
                    .ok()
                    .filter(|f: &f64| *f > 0.0)
                    .ok_or_else(|| format!("bad factor in {item:?}"))?,
            ),
            "lost-irq" => FaultKind::LostIrq,
            "no-microcode" => FaultKind::NoMicrocode,
            _ => return Err(format!("unknown fault {item:?}")),
        };
        faults.push(Fault { kind, nth, percent });
    }
    Ok(faults)
}

impl Config {
    /// The configuration from the environment; bad values are reported and left at default.
    pub fn from_env() -> Config {
        let mut c = Config::default();
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let warn = |name: &str, value: &str| eprintln!("jpegenc-emu: ignoring {name}={value:?}");
        if let Some(v) = var("JPEGENC_EMU_GEN") {
            match v.to_ascii_uppercase().as_str() {
                "E" => c.generation = Generation::E,
                // The 3.14/3.16 driver of the Odroid C2: its header write through a cacheable
                // alias is seen by the CPU (docs/driver.md), so a C2-era client that reads the
                // header from the assist buffer gets the right file, as on the board.
                "J" => {
                    (c.generation, c.soc) = (Generation::J, "gxbb".into());
                    c.j_header_coherent = true;
                }
                // A G12/SM1-class board (Khadas VIM3, Odroid C4) on a vendor kernel.
                "MM" => (c.generation, c.mm, c.soc) = (Generation::J, true, "sm1".into()),
                _ => warn("JPEGENC_EMU_GEN", &v),
            }
        }
        if let Some(v) = var("JPEGENC_EMU_SOC") {
            c.soc = v.to_ascii_lowercase();
        }
        c.devinfo = devinfo_of(&c.soc).into();
        if let Some(v) = var("JPEGENC_EMU_DEVINFO") {
            c.devinfo = v;
        }
        if let Some(v) = var("JPEGENC_EMU_DMA") {
            match parse_bool(&v) {
                Some(b) => c.dma_io = b,
                None => warn("JPEGENC_EMU_DMA", &v),
            }
        }
        if let Some(v) = var("JPEGENC_EMU_J_HEADER") {
            match v.as_str() {
                "stale" => c.j_header_coherent = false,
                "coherent" => c.j_header_coherent = true,
                _ => warn("JPEGENC_EMU_J_HEADER", &v),
            }
        }

        if let Some(v) = var("JPEGENC_EMU_PATH") {
            c.path = v;
        }
        if let Some(v) = var("JPEGENC_EMU_RESERVE") {
            match parse_u32(&v) {
                Some(r) => c.reserve = r,
                None => warn("JPEGENC_EMU_RESERVE", &v),
            }
        }
        if let Some(v) = var("JPEGENC_EMU_OUTPUT_SIZE") {
            match v.as_str() {
                "total" => c.output_size = OutputSize::Total,
                "payload" => c.output_size = OutputSize::Payload,
                _ => warn("JPEGENC_EMU_OUTPUT_SIZE", &v),
            }
        }
        for (name, slot) in [
            ("JPEGENC_EMU_EOI", &mut c.eoi),
            ("JPEGENC_EMU_STAGES", &mut c.stages_visible),
            ("JPEGENC_EMU_STRICT_CACHE", &mut c.strict_cache),
            (
                "JPEGENC_EMU_STRICT_OUTPUT_CACHE",
                &mut c.strict_output_cache,
            ),
            ("JPEGENC_EMU_LOG", &mut c.log),
        ] {
            if let Some(v) = var(name) {
                match parse_bool(&v) {
                    Some(b) => *slot = b,
                    None => warn(name, &v),
                }
            }
        }
        if let Some(v) = var("JPEGENC_EMU_MPIXPS") {
            match v.parse::<f64>() {
                Ok(m) if m >= 0.0 => c.mpixps = m,
                _ => warn("JPEGENC_EMU_MPIXPS", &v),
            }
        }
        if let Some(v) = var("JPEGENC_EMU_SCAN") {
            match v.trim() {
                "turbo" => c.reference_scan = false,
                "reference" => c.reference_scan = true,
                _ => warn("JPEGENC_EMU_SCAN", &v),
            }
        }
        if let Some(v) = var("JPEGENC_EMU_FAULT") {
            match parse_faults(&v) {
                Ok(f) => c.faults = f,
                Err(e) => eprintln!("jpegenc-emu: ignoring JPEGENC_EMU_FAULT: {e}"),
            }
        }
        if let Some(v) = var("JPEGENC_EMU_INIT_MS") {
            match v.parse::<u64>() {
                Ok(ms) => c.init_delay = Duration::from_millis(ms),
                _ => warn("JPEGENC_EMU_INIT_MS", &v),
            }
        }
        c.stats_path = var("JPEGENC_EMU_STATS")
            .map(|p| PathBuf::from(p.replace("%p", &std::process::id().to_string())));
        // The encoder process: `$JPEGENC_EMU_HW` (a path, or "thread" for none), else the
        // helper beside this library.
        c.encoder_process = match var("JPEGENC_EMU_HW") {
            Some(v) if v == "thread" => None,
            Some(v) => Some(PathBuf::from(v)),
            None => crate::hwproc::find_helper(),
        };
        if let Some(v) = var("JPEGENC_EMU_STATE_DIR") {
            c.state_dir = PathBuf::from(v);
        }
        c
    }

    /// MM on a C1+-class SoC: NEW_CMD's stride words are honoured.
    pub fn honours_strides(&self) -> bool {
        self.mm && STRIDE_SOCS.contains(&self.soc.as_str())
    }

    /// What the emulated board's `/proc/device-tree/compatible` holds.
    pub fn compatible(&self) -> Vec<u8> {
        let board = match self.soc.as_str() {
            "meson8b" => "hardkernel,odroid-c1",
            "gxbb" => "hardkernel,odroid-c2",
            _ => "jpegenc-emu,board",
        };
        format!("{board}\0amlogic,{}\0", self.soc).into_bytes()
    }

    /// The time the modelled hardware takes for `pixels` (padded) pixels.
    pub fn job_time(&self, pixels: usize) -> Duration {
        if self.mpixps <= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(pixels as f64 / (self.mpixps * 1e6))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse() {
        let f = parse_faults("hang@3, eperm:get_stage,slow:2.5@1,lost-irq").unwrap();
        assert_eq!(
            f[0],
            Fault {
                kind: FaultKind::Hang,
                nth: Some(3),
                percent: None
            }
        );
        assert_eq!(f[1].kind, FaultKind::Eperm("GET_STAGE".into()));
        assert_eq!(
            f[2],
            Fault {
                kind: FaultKind::Slow(2.5),
                nth: Some(1),
                percent: None
            }
        );
        assert!(f[3].hits(17));
        assert!(!f[0].hits(2));
        assert!(parse_faults("melt").is_err());
        assert!(parse_faults("slow:0").is_err());
        // A share of the occurrences, the same ones every run.
        let some = parse_faults("corrupt%5").unwrap();
        let hits = (1..=10_000).filter(|&n| some[0].hits(n)).count();
        assert!((400..600).contains(&hits), "{hits} of 10000 at 5%");
        assert!(
            (1..=10_000).all(|n| some[0].hits(n) == parse_faults("corrupt%5").unwrap()[0].hits(n))
        );
        assert!(parse_faults("hang%120").is_err());
    }
}
