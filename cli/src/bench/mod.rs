//! `amljpeg bench`: where the time goes, as ratios of things measured side by side in one run.
//!
//! The hardware part runs in child processes with the emulator preloaded (unless a real device
//! is present): one with the encoder modelled at 150 megapixels per second, one at 0 (instant,
//! so what remains is the library's own overhead), and one with the media_modules driver for
//! the dma-buf path ([`dmabuf`]).

mod dmabuf;

use amljpeg::hw::geometry::{hardware_format, write_frame, Geometry};
use amljpeg::hw::protocol::Generation;
use amljpeg::{BackendChoice, Encoder, Frame, PixelFormat};
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

/// One measured figure.
struct Row {
    section: String,
    case: String,
    value: f64,
    unit: String,
}

struct Report {
    rows: Vec<Row>,
    /// Figures that could not be measured, each with why.
    missing: Vec<String>,
    progress: bool,
    done: usize,
    total: usize,
}

impl Report {
    fn step(&mut self, what: &str) {
        self.done += 1;
        if self.progress {
            let width = 30;
            let filled = width * self.done / self.total.max(1);
            eprint!(
                "\r[{}{}] {:>3}/{:<3} {:<48}",
                "#".repeat(filled),
                ".".repeat(width - filled),
                self.done,
                self.total,
                what
            );
            let _ = std::io::stderr().flush();
        }
    }

    fn add(&mut self, section: &str, case: impl Into<String>, value: f64, unit: &str) {
        self.rows.push(Row {
            section: section.into(),
            case: case.into(),
            value,
            unit: unit.into(),
        });
    }
}

fn cpu_seconds() -> f64 {
    // SAFETY: rusage is plain data; all-zero is a valid value.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage into a zeroed struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 * 1e-6;
    t(u.ru_utime) + t(u.ru_stime)
}

/// Runs `f` `n` times; returns (wall, process CPU) seconds per run.
fn time<F: FnMut()>(n: usize, mut f: F) -> (f64, f64) {
    f(); // warm-up
    let (t0, c0) = (Instant::now(), cpu_seconds());
    for _ in 0..n {
        f();
    }
    (
        t0.elapsed().as_secs_f64() / n as f64,
        (cpu_seconds() - c0) / n as f64,
    )
}

/// A photo-like synthetic frame in `format`: smooth waves with a fine texture, which code
/// to about 1.5 bits per pixel at quality 90, as photographs do (the emulator's encoding time
/// follows the entropy; the hardware's does not).
fn frame_bytes(format: PixelFormat, w: usize, h: usize) -> Vec<u8> {
    let layout = amljpeg::FrameLayout::new(format, w as u32, h as u32, 0).unwrap();
    let row = layout.planes()[0].stride.max(1);
    (0..layout.min_len)
        .map(|i| {
            let (x, y) = ((i % row) as f32, (i / row) as f32);
            let texture = ((i % row) * (i / row) % 7) as f32;
            (128.0 + 60.0 * ((x / 23.0).sin() + (y / 17.0).cos()) + texture) as u8
        })
        .collect()
}

const SIZES: [(usize, usize); 4] = [(640, 480), (1280, 720), (1920, 1080), (2624, 2624)];
const FORMATS: [PixelFormat; 2] = [PixelFormat::Rgb24, PixelFormat::Nv12];

/// The article's client, repeated (copy the frame in, NEW_CMD, spin on GET_STAGE): the
/// emulator's example `busy_poll`, a foreign client of the driver, beside this binary in
/// `examples/` (cargo builds it with `--examples` or `--all-targets`). Its wall and CPU seconds
/// per frame.
fn busy_poll_reference(
    device: &std::path::Path,
    format: PixelFormat,
    w: usize,
    h: usize,
    frames: usize,
) -> Result<(f64, f64), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let client = exe.with_file_name("examples").join("busy_poll");
    // Its own emulator instance (when there is one) must not overwrite this process's stats.
    let out = std::process::Command::new(&client)
        .env_remove("JPEGENC_EMU_STATS")
        .arg(device)
        .arg(if format == PixelFormat::Nv12 {
            "nv12"
        } else {
            "rgb24"
        })
        .args([w.to_string(), h.to_string(), frames.to_string()])
        .output()
        .map_err(|e| {
            format!(
                "{}: {e} (cargo builds it with --examples or --all-targets)",
                client.display()
            )
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let figures: Vec<f64> = text
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    match (out.status.success(), &figures[..]) {
        (true, [wall, cpu]) => Ok((*wall, *cpu)),
        _ => Err(format!(
            "{} failed: {}",
            client.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

/// (completions, summed job microseconds, model CPU microseconds) from the emulator's stats,
/// when it runs (all zero before its first write).
fn emulator_jobs() -> Option<(f64, f64, f64)> {
    let path = std::env::var_os("JPEGENC_EMU_STATS")?;
    let Ok(json) = std::fs::read_to_string(&path) else {
        return Some((0.0, 0.0, 0.0));
    };
    let get = |key: &str| -> Option<f64> {
        let at = json.find(&format!("\"{key}\": "))? + key.len() + 4;
        json[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .ok()
    };
    Some((
        get("completions")?,
        get("job_time_us")?,
        get("model_cpu_us").unwrap_or(0.0),
    ))
}

/// Pipelining: a batch lays frame N+1 out while the device encodes frame N (E generation),
/// against one call per frame; both against the device's own time per job.
fn pipelining(r: &mut Report, mpixps: f64, frames: usize) -> Result<(), String> {
    let (w, h) = (1280, 720);
    for format in FORMATS {
        let case = format!("{w}x{h} {}", format.name());
        r.step(&format!("pipelined batch {case}"));
        let data = frame_bytes(format, w, h);
        let frame = Frame::new(&data, w as u32, h as u32, 0, format).unwrap();
        let batch = vec![frame; frames.max(4)];
        let mut enc = Encoder::open(None, BackendChoice::Hardware).map_err(|e| e.to_string())?;
        enc.set_timeout(Some(std::time::Duration::from_secs(30)));
        let (single, _) = time(batch.len(), || {
            enc.encode(&frame, 90).expect("hardware encode");
            enc.release();
        });
        let before = emulator_jobs();
        let t0 = Instant::now();
        let mut failed = 0;
        enc.encode_batch(&batch, 90, |_, jpeg| failed += jpeg.is_err() as usize)
            .map_err(|e| e.to_string())?;
        let piped = t0.elapsed().as_secs_f64() / batch.len() as f64;
        if failed > 0 {
            return Err(format!("{failed} frames of the batch failed"));
        }
        r.add(
            "pipeline",
            format!("{case}: batch throughput / one call per frame"),
            single / piped,
            "x",
        );
        if let (Some((c0, t0, _)), Some((c1, t1, _))) = (before, emulator_jobs()) {
            if c1 > c0 {
                let job = (t1 - t0) / (c1 - c0) * 1e-6;
                r.add(
                    "pipeline",
                    format!("{case}: batch throughput / the emulator's job rate"),
                    job / piped,
                    "x",
                );
            }
        }
        let modelled = (w.div_ceil(16) * 16 * h.div_ceil(16) * 16) as f64 / (mpixps * 1e6);
        r.add(
            "pipeline",
            format!("{case}: batch throughput / modelled hardware rate"),
            modelled / piped,
            "x",
        );
    }
    Ok(())
}

/// The hardware section, run inside a child with the emulator at `mpixps`.
fn hardware_child(r: &mut Report, mpixps: f64, frames: usize) -> Result<(), String> {
    let device = amljpeg::engine::resolve_device(None);
    for (w, h) in SIZES {
        for format in FORMATS {
            hardware_case(r, &device, mpixps, format, (w, h), frames)?;
        }
    }
    if mpixps > 0.0 {
        pipelining(r, mpixps, frames)?;
        scaling(r, mpixps, frames);
    }
    Ok(())
}

/// One size and format on the hardware at `mpixps`: wall and CPU per frame against the
/// modelled time, the emulator's own job time, a copy, and the busy-polling client.
fn hardware_case(
    r: &mut Report,
    device: &std::path::Path,
    mpixps: f64,
    format: PixelFormat,
    (w, h): (usize, usize),
    frames: usize,
) -> Result<(), String> {
    let data = frame_bytes(format, w, h);
    let frame = Frame::new(&data, w as u32, h as u32, 0, format).unwrap();
    let n = if w * h > 4_000_000 {
        frames.div_ceil(4)
    } else {
        frames
    };
    let case = format!("{w}x{h} {}", format.name());
    r.step(&format!("hardware {case} @ {mpixps} Mpx/s"));
    let mut enc = Encoder::open(None, BackendChoice::Hardware).map_err(|e| e.to_string())?;
    // A loaded machine slows the emulated encoder: a deadline that never bites.
    enc.set_timeout(Some(std::time::Duration::from_secs(30)));
    // The first frame of a session starts the emulator's encoder process: not counted.
    enc.encode(&frame, 90).map_err(|e| e.to_string())?;
    let before = emulator_jobs();
    let (wall, cpu) = time(n, || {
        enc.encode(&frame, 90).expect("hardware encode");
    });
    enc.release();
    let copy_between_encodes = if mpixps == 0.0 {
        copy_between_encodes(&mut enc, &frame, &data, n)?
    } else {
        0.0
    };
    drop(enc);
    // What the (emulated) hardware really took per job, which the model's own encoder
    // can stretch beyond the nominal rate on a loaded machine.
    // And the CPU the emulator's model spent inside this process per job (its cache
    // model and bookkeeping; on a board the driver's work is the kernel's).
    let (job_time, model_cpu) = match (before, emulator_jobs()) {
        (Some((c0, t0, m0)), Some((c1, t1, m1))) if c1 > c0 => (
            Some((t1 - t0) / (c1 - c0) * 1e-6),
            Some((m1 - m0) / (c1 - c0) * 1e-6),
        ),
        _ => (None, None),
    };
    // Two clocks read apart: with few frames the difference can dip below zero.
    let library_cpu = (cpu - model_cpu.unwrap_or(0.0)).max(0.0);
    let mut copy = vec![0u8; data.len()];
    let (copy_time, _) = time(n, || copy.copy_from_slice(&data));
    let modelled = if mpixps > 0.0 {
        (w.div_ceil(16) * 16 * h.div_ceil(16) * 16) as f64 / (mpixps * 1e6)
    } else {
        0.0
    };
    let t = Timings {
        wall,
        cpu,
        library_cpu: model_cpu.map(|_| library_cpu),
        copy_time,
        copy_between_encodes,
        modelled,
        job_time,
    };
    if mpixps > 0.0 {
        let busy_poll = busy_poll_reference(device, format, w, h, n)
            .map_err(|e| r.missing.push(format!("{case}: the busy-poll client: {e}")))
            .ok();
        report_hardware(r, &case, &t, busy_poll);
    } else {
        report_overhead(r, &case, &t);
        if format == PixelFormat::Nv12 {
            let zero_copy = zero_copy_library_cpu(&frame, n)?;
            r.add(
                "overhead",
                format!(
                    "{case}: library CPU per frame, zero-copy input (emulator excluded) / one copy"
                ),
                zero_copy / copy_time,
                "x",
            );
            r.add(
                "overhead",
                format!(
                    "{case}: library CPU per frame, zero-copy input (emulator excluded) / one copy made between encodes"
                ),
                zero_copy / copy_between_encodes,
                "x",
            );
        }
    }
    Ok(())
}

/// Seconds per memcpy of `data` (the bytes of `frame`) made right after an encode of it: in
/// the cache state the library's own copy (the layout) meets, the emulated encoder having
/// just read the input area from the other core (on a board the driver's clean and
/// invalidate at NEW_CMD take those lines out of the CPU's cache).
fn copy_between_encodes(
    enc: &mut Encoder,
    frame: &Frame<'_>,
    data: &[u8],
    n: usize,
) -> Result<f64, String> {
    let mut copy = vec![0u8; data.len()];
    let mut total = 0.0;
    for _ in 0..n {
        enc.encode(frame, 90).map_err(|e| e.to_string())?;
        enc.release();
        let t0 = Instant::now();
        copy.copy_from_slice(std::hint::black_box(data));
        total += t0.elapsed().as_secs_f64();
    }
    Ok(total / n as f64)
}

/// Library CPU seconds per frame (the emulator's in-process model excluded) when the frame
/// is already in the device's input area (`aml_jpeg_input_buffer`): written there once, as a
/// camera would, then encoded `n` times.
fn zero_copy_library_cpu(frame: &Frame<'_>, n: usize) -> Result<f64, String> {
    let mut enc = Encoder::open(None, BackendChoice::Hardware).map_err(|e| e.to_string())?;
    enc.set_timeout(Some(std::time::Duration::from_secs(30)));
    let (w, h) = (frame.width() as u32, frame.height() as u32);
    let lent = enc
        .input_buffer(frame.format(), w, h)
        .map_err(|e| e.to_string())?;
    for (p, &plane) in lent
        .planes
        .iter()
        .enumerate()
        .take(frame.layout().planes().len())
    {
        for y in 0..lent.rows[p].min(frame.plane(p).rows) {
            let row = frame.row(p, y);
            if row.len() > lent.strides[p] {
                return Err(format!("the lent plane {p} is narrower than the frame"));
            }
            // SAFETY: the lent plane has `rows[p]` rows of `strides[p]` bytes; the row fits.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    row.as_ptr(),
                    plane.add(y * lent.strides[p]),
                    row.len(),
                )
            };
        }
    }
    let mut failed = None;
    let cpu = library_cpu(n, || {
        if let Err(e) = enc
            .input_buffer(frame.format(), w, h)
            .and_then(|_| enc.encode_input(90).map(|_| ()))
        {
            failed = Some(e.to_string());
        }
    });
    match failed {
        Some(e) => Err(format!("zero-copy encode: {e}")),
        None => Ok(cpu),
    }
}

/// Library CPU seconds per frame while `f` runs `n` times, the emulator's in-process model
/// excluded.
fn library_cpu(n: usize, f: impl FnMut()) -> f64 {
    let before = emulator_jobs();
    let (_, cpu) = time(n, f);
    let model = match (before, emulator_jobs()) {
        (Some((c0, _, m0)), Some((c1, _, m1))) if c1 > c0 => (m1 - m0) / (c1 - c0) * 1e-6,
        _ => 0.0,
    };
    (cpu - model).max(0.0)
}

/// One case's measurements, seconds per frame.
struct Timings {
    wall: f64,
    cpu: f64,
    /// The CPU without the emulator's in-process model (None: no emulator stats).
    library_cpu: Option<f64>,
    /// A warm memcpy of the frame, between buffers nothing else touches.
    copy_time: f64,
    /// The same memcpy made right after an encode (0: not measured).
    copy_between_encodes: f64,
    modelled: f64,
    /// The emulator's own job time (None: no emulator stats).
    job_time: Option<f64>,
}

/// At the modelled rate: wall against the modelled time, the emulator's job time and the
/// busy-polling client; CPU against wall.
fn report_hardware(r: &mut Report, case: &str, t: &Timings, busy_poll: Option<(f64, f64)>) {
    r.add(
        "hardware",
        format!("{case}: wall / (modelled + one copy)"),
        t.wall / (t.modelled + t.copy_time),
        "x",
    );
    if let Some(job) = t.job_time {
        r.add(
            "hardware",
            format!("{case}: emulator's job time / modelled"),
            job / t.modelled,
            "x",
        );
        r.add(
            "hardware",
            format!("{case}: wall / (emulator's job time + one copy)"),
            t.wall / (job + t.copy_time),
            "x",
        );
    }
    r.add(
        "hardware",
        format!("{case}: CPU / wall"),
        t.cpu / t.wall,
        "x",
    );
    if let Some(library_cpu) = t.library_cpu {
        r.add(
            "hardware",
            format!("{case}: library CPU / wall (emulator's in-process model excluded)"),
            library_cpu / t.wall,
            "x",
        );
    }
    if let Some((bwall, bcpu)) = busy_poll {
        r.add(
            "hardware",
            format!("{case}: CPU / busy-poll client's CPU"),
            t.cpu / bcpu,
            "x",
        );
        r.add(
            "hardware",
            format!("{case}: wall / busy-poll client's wall"),
            t.wall / bwall,
            "x",
        );
    }
}

/// With an instant encoder the model runs in its own process: this process's CPU is the
/// library's own work, against one copy of the frame.
fn report_overhead(r: &mut Report, case: &str, t: &Timings) {
    r.add(
        "overhead",
        format!("{case}: library CPU per frame / one copy"),
        t.cpu / t.copy_time,
        "x",
    );
    if let Some(library_cpu) = t.library_cpu {
        r.add(
            "overhead",
            format!("{case}: library CPU per frame (emulator excluded) / one copy"),
            library_cpu / t.copy_time,
            "x",
        );
        r.add(
            "overhead",
            format!(
                "{case}: library CPU per frame (emulator excluded) / one copy made between encodes"
            ),
            library_cpu / t.copy_between_encodes,
            "x",
        );
    }
}

/// Threads sharing the device: throughput must not fall as threads are added.
fn scaling(r: &mut Report, mpixps: f64, frames: usize) {
    let (w, h) = (1280, 720);
    let data = frame_bytes(PixelFormat::Nv12, w, h);
    let mut base = 0.0;
    for threads in [1usize, 2, 4, 8] {
        r.step(&format!("{threads} threads sharing the device"));
        let per = frames.max(8);
        let t0 = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    let mut enc = Encoder::open(None, BackendChoice::Hardware).unwrap();
                    // Each waits its turn, however many threads queue for the device (the
                    // wait is bounded by the frame's timeout too: a generous one).
                    enc.set_timeout(Some(std::time::Duration::from_secs(30)));
                    enc.set_busy_wait(Some(std::time::Duration::from_secs(60)));
                    let frame =
                        Frame::new(&data, w as u32, h as u32, 0, PixelFormat::Nv12).unwrap();
                    let mut out = vec![0u8; 4 << 20];
                    for _ in 0..per / threads.min(per) {
                        enc.encode_into(&frame, 90, &mut out).unwrap();
                    }
                });
            }
        });
        let fps = (per / threads.min(per) * threads) as f64 / t0.elapsed().as_secs_f64();
        if threads == 1 {
            base = fps;
        }
        r.add(
            "scaling",
            format!("1280x720 nv12, {threads} threads: throughput / 1 thread"),
            fps / base,
            "x",
        );
        r.add(
            "scaling",
            format!("1280x720 nv12, {threads} threads: throughput / modelled hardware rate"),
            fps * (1280.0 * 720.0) / (mpixps * 1e6),
            "x",
        );
    }
}

/// The software backend against libjpeg-turbo's own benchmark program, the system's `tjbench`
/// (when installed), on the same 720p RGB frame at quality 90, 4:2:0.
fn tjbench_section(r: &mut Report, frames: usize) {
    let (w, h) = (1280, 720);
    r.step("tjbench");
    let data = frame_bytes(PixelFormat::Rgb24, w, h);
    let ppm = std::env::temp_dir().join(format!("amljpeg-bench-{}.ppm", std::process::id()));
    let mut file = format!("P6\n{w} {h}\n255\n").into_bytes();
    file.extend_from_slice(&data);
    if let Err(e) = std::fs::write(&ppm, file) {
        r.missing
            .push(format!("tjbench: cannot write {}: {e}", ppm.display()));
        return;
    }
    let args = [
        "90",
        "-rgb",
        "-subsamp",
        "420",
        "-quiet",
        "-benchtime",
        "1",
        "-warmup",
        "0",
    ];
    let out = std::process::Command::new("tjbench")
        .arg(&ppm)
        .args(args)
        .arg("-nowrite")
        .output();
    let _ = std::fs::remove_file(&ppm);
    // The result line: "RGB (TD) 4:2:0 90 1280 720 <comp Mpx/s> <ratio> <decomp Mpx/s>".
    let theirs = out.ok().and_then(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .rev()
            .find_map(|l| l.split_whitespace().nth(6)?.parse::<f64>().ok())
    });
    let Some(theirs) = theirs else {
        r.missing.push(
            "tjbench beside the software backend: no tjbench figure (Debian: libjpeg-turbo-progs)"
                .into(),
        );
        return;
    };
    let frame = Frame::new(&data, w as u32, h as u32, 0, PixelFormat::Rgb24).unwrap();
    let mut enc = Encoder::open(None, BackendChoice::Software).unwrap();
    let (ours, _) = time(frames, || {
        enc.encode(&frame, 90).unwrap();
    });
    let ours = (w * h) as f64 / ours / 1e6;
    r.add(
        "software",
        "1280x720 rgb24: ours / tjbench (the system's libjpeg-turbo), Mpx/s".to_string(),
        ours / theirs,
        "x",
    );
}

/// Input layout against a plain copy, and the software backend against libjpeg-turbo itself.
fn host_sections(r: &mut Report, frames: usize) {
    for format in FORMATS {
        let (w, h) = (1280, 720);
        r.step(&format!("layout {}", format.name()));
        let data = frame_bytes(format, w, h);
        let frame = Frame::new(&data, w as u32, h as u32, 0, format).unwrap();
        let l = Geometry::new(hardware_format(format, Generation::E), w, h);
        let mut area = vec![0u8; l.extent];
        let (layout, _) = time(frames * 4, || write_frame(&frame, &l, &mut area));
        let mut copy = vec![0u8; data.len()];
        let (plain, _) = time(frames * 4, || copy.copy_from_slice(&data));
        r.add(
            "input",
            format!(
                "1280x720 {}: layout / memcpy of the same bytes",
                format.name()
            ),
            layout / plain,
            "x",
        );
    }
    for (w, h) in SIZES {
        for format in FORMATS {
            r.step(&format!("software {w}x{h} {}", format.name()));
            let data = frame_bytes(format, w, h);
            let frame = Frame::new(&data, w as u32, h as u32, 0, format).unwrap();
            let mut enc = Encoder::open(None, BackendChoice::Software).unwrap();
            let n = if w * h > 4_000_000 {
                frames.div_ceil(4)
            } else {
                frames
            };
            let (ours, _) = time(n, || {
                enc.encode(&frame, 90).unwrap();
            });
            let direct = libjpeg_turbo_direct(format, &data, (w, h), n);
            // Throughput ratio: libjpeg-turbo's own time over ours (1.0 = as fast).
            r.add(
                "software",
                format!(
                    "{w}x{h} {}: libjpeg-turbo direct / ours (throughput)",
                    format.name()
                ),
                direct / ours,
                "x",
            );
            r.add(
                "software",
                format!("{w}x{h} {}: ours, per megapixel", format.name()),
                ours * 1e3 / (w * h) as f64 * 1e6,
                "ms",
            );
        }
    }
}

/// Seconds per frame of libjpeg-turbo called directly on the same bytes (for NV12 with the
/// chroma split a direct caller must do too).
fn libjpeg_turbo_direct(format: PixelFormat, data: &[u8], (w, h): (usize, usize), n: usize) -> f64 {
    if format == PixelFormat::Rgb24 {
        let mut c = turbojpeg::Compressor::new().unwrap();
        c.set_quality(90).unwrap();
        c.set_subsamp(turbojpeg::Subsamp::Sub2x2).unwrap();
        let mut out = turbojpeg::OutputBuf::new_owned();
        time(n, || {
            let img = turbojpeg::Image {
                pixels: data,
                width: w,
                pitch: w * 3,
                height: h,
                format: turbojpeg::PixelFormat::RGB,
            };
            c.compress(img, &mut out).unwrap();
        })
        .0
    } else {
        let mut c = turbojpeg::Compressor::new().unwrap();
        c.set_quality(90).unwrap();
        let (y, uv) = data.split_at(w * h);
        let (mut u, mut v) = (Vec::new(), Vec::new());
        time(n, || {
            // What a direct caller must do too: split NV12's chroma into planes.
            u.clear();
            v.clear();
            for p in uv.chunks_exact(2) {
                u.push(p[0]);
                v.push(p[1]);
            }
            let img = turbojpeg::YuvPlanesImage {
                y_plane: y,
                u_plane: &u[..],
                v_plane: &v[..],
                width: w,
                height: h,
                y_stride: w,
                u_stride: w / 2,
                v_stride: w / 2,
                subsamp: turbojpeg::Subsamp::Sub2x2,
            };
            c.compress_yuv_planes_to_owned(&img).unwrap();
        })
        .0
    }
}

fn emulator_lib() -> Option<PathBuf> {
    let me = std::env::current_exe().ok()?;
    let lib = me.parent()?.join("libjpegenc_emu.so");
    lib.is_file().then_some(lib)
}

/// `amljpeg bench [--frames N] [--json]`.
pub fn run(
    frames: usize,
    json: bool,
    child_mpixps: Option<f64>,
    child_dmabuf: bool,
) -> Result<(), String> {
    let progress =
        !json && child_mpixps.is_none() && std::io::IsTerminal::is_terminal(&std::io::stderr());
    // Each measurement keeps its handle open while it measures; once it is done the device
    // must be free at once for the next child process and the busy-poll client.
    amljpeg::engine::set_linger(std::time::Duration::ZERO);
    if let Some(mpixps) = child_mpixps {
        let mut r = Report {
            rows: Vec::new(),
            missing: Vec::new(),
            progress: false,
            done: 0,
            total: 0,
        };
        if child_dmabuf {
            dmabuf::section(&mut r, frames)?;
        } else {
            hardware_child(&mut r, mpixps, frames)?;
        }
        for row in &r.rows {
            println!("{}\t{}\t{}\t{}", row.section, row.case, row.value, row.unit);
        }
        for why in &r.missing {
            println!("missing\t{}", why.replace(['\t', '\n'], " "));
        }
        return Ok(());
    }
    let total = 2 + SIZES.len() * FORMATS.len() * 3 + 4 + 3;
    let mut r = Report {
        rows: Vec::new(),
        missing: Vec::new(),
        progress,
        done: 0,
        total,
    };
    host_sections(&mut r, frames);
    tjbench_section(&mut r, frames);
    // The hardware: a real device when there is one, else the emulator next to this binary.
    let real = Encoder::open(None, BackendChoice::Hardware).is_ok();
    let emulator = emulator_lib();
    let machine = if real {
        "the device".to_string()
    } else if emulator.is_some() {
        "the emulator (JPEGENC_EMU_MPIXPS 150 and 0)".to_string()
    } else {
        "none".to_string()
    };
    if real || emulator.is_some() {
        let preload = if real { None } else { emulator.as_deref() };
        hardware_sections(&mut r, frames, preload)?;
    }
    if progress {
        eprintln!();
    }
    print_report(&r, json, &machine);
    Ok(())
}

/// The hardware's sections, each rate in a child process of this binary (with the emulator
/// `preload`ed when there is no device).
fn hardware_sections(
    r: &mut Report,
    frames: usize,
    preload: Option<&std::path::Path>,
) -> Result<(), String> {
    // (rate, driver generation, the dma-buf section instead of the others)
    for (mpixps, generation, dma) in [(150.0, "E", false), (0.0, "E", false), (0.0, "MM", true)] {
        let state = std::env::temp_dir().join(format!(
            "amljpeg-bench-{}-{mpixps}-{generation}",
            std::process::id()
        ));
        std::fs::create_dir_all(&state).map_err(|e| e.to_string())?;
        let mut cmd =
            std::process::Command::new(std::env::current_exe().map_err(|e| e.to_string())?);
        cmd.args([
            "bench",
            "--frames",
            &frames.to_string(),
            "--child-mpixps",
            &mpixps.to_string(),
        ]);
        if dma {
            cmd.arg("--child-dmabuf");
        }
        if let Some(lib) = preload {
            cmd.env("LD_PRELOAD", lib)
                .env("JPEGENC_EMU_MPIXPS", mpixps.to_string())
                .env("JPEGENC_EMU_STATE_DIR", &state)
                .env("JPEGENC_EMU_STATS", state.join("stats.json"))
                .env("JPEGENC_EMU_INIT_MS", "0")
                .env("JPEGENC_EMU_GEN", generation);
        }
        r.step(&format!("hardware at {mpixps} Mpx/s"));
        let out = cmd.output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "hardware benchmark failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let f: Vec<&str> = line.split('\t').collect();
            match f[..] {
                [section, case, value, unit] => {
                    r.add(section, case, value.parse().unwrap_or(f64::NAN), unit)
                }
                ["missing", why] => r.missing.push(why.to_string()),
                _ => {}
            }
        }
        let _ = std::fs::remove_dir_all(&state);
    }
    Ok(())
}

/// The figures, as JSON or as a table.
fn print_report(r: &Report, json: bool, machine: &str) {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    if json {
        let items: Vec<String> = r
            .rows
            .iter()
            .map(|row| {
                format!(
                    "{{\"section\": \"{}\", \"case\": \"{}\", \"value\": {:.4}, \"unit\": \"{}\"}}",
                    row.section, row.case, row.value, row.unit
                )
            })
            .collect();
        let missing: Vec<String> = r
            .missing
            .iter()
            .map(|why| format!("\"{}\"", why.replace('\\', "\\\\").replace('"', "\\\"")))
            .collect();
        println!("{{\"machine\": {{\"cores\": {cores}, \"hardware\": \"{machine}\"}}, \"results\": [{}], \"missing\": [{}]}}", items.join(", "), missing.join(", "));
    } else {
        println!("amljpeg bench: {cores} cores, hardware: {machine}; every figure is a ratio measured in this run");
        println!("{:<10} {:<72} {:>10}", "section", "case", "value");
        for row in &r.rows {
            println!(
                "{:<10} {:<72} {:>9.3}{}",
                row.section,
                row.case,
                row.value,
                if row.unit == "x" { "x" } else { " ms" }
            );
        }
        for why in &r.missing {
            println!("not measured: {why}");
        }
    }
}
