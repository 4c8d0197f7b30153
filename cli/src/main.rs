//! `amljpeg`: encode an image with the hardware JPEG encoder or libjpeg-turbo, and report what
//! this machine offers.

mod bench;
mod image_file;

use amljpeg::{Backend, BackendChoice, Encoder, Frame, PixelFormat, Subsampling};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "amljpeg",
    version,
    about = "JPEG encoding on the Amlogic hardware encoder, with a libjpeg-turbo fallback"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Encode a PNG, PPM/PGM or raw frame to JPEG.
    Encode {
        input: PathBuf,
        output: PathBuf,
        /// Quality 1..100, as libjpeg's.
        #[arg(short, long, default_value_t = 90)]
        quality: i32,
        #[arg(long, value_enum, default_value_t = SubsamplingArg::S420)]
        subsampling: SubsamplingArg,
        #[arg(long, value_enum, default_value_t = BackendArg::Auto)]
        backend: BackendArg,
        /// Device node (default: $AML_JPEG_DEVICE, else /dev/jpegenc).
        #[arg(long)]
        device: Option<PathBuf>,
        /// Treat the input as a raw frame of this size, WxH.
        #[arg(long, value_parser = parse_size, requires = "format")]
        size: Option<(u32, u32)>,
        /// Pixel format of a raw frame: rgb24, bgr24, rgba32, bgra32, nv12, nv21, i420, yuyv, gray8.
        #[arg(long, value_parser = parse_format, requires = "size")]
        format: Option<PixelFormat>,
        /// Put this EXIF block (a TIFF structure, with or without "Exif\0\0" in front) into the
        /// JPEG as an APP1 segment.
        #[arg(long, value_name = "FILE")]
        exif: Option<PathBuf>,
        /// Put this ICC profile into the JPEG (APP2 ICC_PROFILE segments).
        #[arg(long, value_name = "FILE")]
        icc: Option<PathBuf>,
        /// Put this text into the JPEG as a COM segment.
        #[arg(long)]
        comment: Option<String>,
    },
    /// Measure the hardware path, the input layout, the software backend and scaling, as
    /// ratios (with the emulator beside this binary when there is no device).
    Bench {
        /// Frames per measurement.
        #[arg(long, default_value_t = 30)]
        frames: usize,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[arg(long, hide = true)]
        child_mpixps: Option<f64>,
        #[arg(long, hide = true)]
        child_dmabuf: bool,
    },
    /// Tell which backend would serve, and what the device offers.
    Info {
        #[arg(long)]
        device: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum SubsamplingArg {
    #[value(name = "420")]
    S420,
    #[value(name = "422")]
    S422,
    #[value(name = "444")]
    S444,
}

#[derive(Clone, Copy, ValueEnum)]
enum BackendArg {
    Auto,
    Hardware,
    Software,
}

fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let (w, h) = text
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("size {text:?} is not WxH"))?;
    let parse = |s: &str| {
        s.parse::<u32>()
            .map_err(|_| format!("size {text:?} is not WxH"))
    };
    Ok((parse(w)?, parse(h)?))
}

fn parse_format(text: &str) -> Result<PixelFormat, String> {
    PixelFormat::from_name(text).ok_or_else(|| format!("unknown pixel format {text:?}"))
}

/// The segments of `--exif`, `--icc` and `--comment`, in that order.
fn marker_segments(
    exif: Option<PathBuf>,
    icc: Option<PathBuf>,
    comment: Option<String>,
) -> Result<Vec<u8>, String> {
    use amljpeg::markers;
    let read = |path: &PathBuf| {
        std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let mut segments = Vec::new();
    if let Some(path) = &exif {
        let segment = markers::exif_segment(&read(path)?);
        segments.extend(segment.map_err(|e| format!("{}: {e}", path.display()))?);
    }
    if let Some(path) = &icc {
        let segment = markers::icc_segments(&read(path)?);
        segments.extend(segment.map_err(|e| format!("{}: {e}", path.display()))?);
    }
    if let Some(text) = comment {
        segments.extend(markers::comment_segment(text.as_bytes()).map_err(|e| e.to_string())?);
    }
    Ok(segments)
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("amljpeg: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Encode {
            input,
            output,
            quality,
            subsampling,
            backend,
            device,
            size,
            format,
            exif,
            icc,
            comment,
        } => {
            let segments = marker_segments(exif, icc, comment)?;
            let raw = size.zip(format).map(|((w, h), f)| (w, h, f));
            let image = image_file::read(&input, raw)?;
            let choice = match backend {
                BackendArg::Auto => BackendChoice::Auto,
                BackendArg::Hardware => BackendChoice::Hardware,
                BackendArg::Software => BackendChoice::Software,
            };
            let mut encoder =
                Encoder::open(device.as_deref(), choice).map_err(|e| e.to_string())?;
            encoder.set_subsampling(match subsampling {
                SubsamplingArg::S420 => Subsampling::S420,
                SubsamplingArg::S422 => Subsampling::S422,
                SubsamplingArg::S444 => Subsampling::S444,
            });
            encoder.set_markers(&segments).map_err(|e| e.to_string())?;
            let frame = Frame::new(&image.pixels, image.width, image.height, 0, image.format)
                .map_err(|e| e.to_string())?;
            let jpeg = encoder.encode(&frame, quality).map_err(|e| e.to_string())?;
            std::fs::write(&output, jpeg)
                .map_err(|e| format!("cannot write {}: {e}", output.display()))?;
            let jpeg_len = jpeg.len();
            let by = match encoder.last_backend() {
                Some(Backend::Hardware) => "hardware",
                _ => "software",
            };
            // A greyscale JPEG has no chroma to subsample.
            let sampling = match image.format {
                PixelFormat::Gray8 => "greyscale",
                _ => encoder.subsampling().name(),
            };
            eprintln!(
                "{}: {}x{} {} -> {} bytes ({by}, quality {quality}, {sampling})",
                output.display(),
                image.width,
                image.height,
                image.format.name(),
                jpeg_len,
            );
            Ok(())
        }
        Command::Bench {
            frames,
            json,
            child_mpixps,
            child_dmabuf,
        } => bench::run(frames.max(1), json, child_mpixps, child_dmabuf),
        Command::Info { device } => info(device),
    }
}

/// `amljpeg info`: the library, the device and what AUTO will use.
fn info(device: Option<PathBuf>) -> Result<(), String> {
    let encoder =
        Encoder::open(device.as_deref(), BackendChoice::Auto).map_err(|e| e.to_string())?;
    println!("amljpeg {}", env!("CARGO_PKG_VERSION"));
    println!("device: {}", encoder.device().display());
    let software = if cfg!(feature = "software") {
        "libjpeg-turbo"
    } else {
        "not built"
    };
    println!("software backend: {software}");
    match encoder.device_info() {
        Ok(Some(info)) => {
            let b = &info.buffers;
            println!(
                "hardware: {} ({:?}-generation driver)",
                info.soc, info.generation
            );
            if let Some(mm) = &info.media_modules {
                let dma = if mm.dma_input {
                    "available"
                } else {
                    "switched off (use_dma_io=0)"
                };
                let soc = match (&mm.soc, mm.honours_strides) {
                    (Some(soc), true) => format!("SoC {soc}: any 32-byte aligned strides"),
                    (Some(soc), false) => format!("SoC {soc}: the driver's own geometry"),
                    (None, _) => "SoC unknown: the driver's own geometry".to_string(),
                };
                println!(
                    "driver: media_modules (NEW_CMD2); dma-buf input {dma}, zero-copy for \
                     frames in the layout the device reads ({soc})"
                );
            }
            println!(
                "buffer level: up to {}x{}; reserved {} bytes, input area {} bytes, bitstream buffer {} bytes",
                info.max_width, info.max_height, b.total, b.input.len(), b.bitstream.len()
            );
            println!("usable output space: {} bytes of scan", info.scan_space());
            if b.window_overruns() {
                // The driver's output window runs past the reserved block: only frames
                // whose worst case fits the real buffer go to the hardware.
                let side = |q: u8| info.largest_square(q);
                println!(
                    "the driver programs a {}-byte output window, past the reserved block: \
                     frames go to the hardware only when their worst case fits \
                     (4:2:0: up to {s75}x{s75} at quality 75, {s100}x{s100} at 100); \
                     a 24 MiB reservation (level 5M) avoids this",
                    b.window,
                    s75 = side(75),
                    s100 = side(100),
                );
            }
            println!(
                "backend for AUTO: hardware (4:2:0, 4:2:2 up to {}x{}), software otherwise",
                info.max_width, info.max_height
            );
        }
        Ok(None) => println!("backend for AUTO: software"),
        Err(e) => {
            // One line that says what is missing; the board guide says how to add it.
            println!("hardware: unavailable: {e}; see docs/boards.md");
            println!("backend for AUTO: software");
        }
    }
    Ok(())
}
