//! `cargo bench`: the library's CPU-side work at 1280×720, each next to its floor: the input
//! layout against a plain copy of the same bytes, and the software backend against
//! libjpeg-turbo called directly. Compare the pairs of one run (these machines are noisy).
//! The hardware path needs the emulator preloaded in the process: `amljpeg bench` measures it.

use amljpeg::hw::geometry::{hardware_format, write_frame, Geometry};
use amljpeg::hw::protocol::Generation;
use amljpeg::{BackendChoice, Encoder, Frame, PixelFormat};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::time::Duration;

const W: usize = 1280;
const H: usize = 720;

/// A photo-like synthetic frame in `format`.
fn frame_bytes(format: PixelFormat) -> Vec<u8> {
    let len = amljpeg::FrameLayout::new(format, W as u32, H as u32, 0)
        .unwrap()
        .min_len;
    (0..len)
        .map(|i| ((i % 251) as f32 * 0.7 + ((i / 997) % 60) as f32) as u8)
        .collect()
}

fn input_geometry(c: &mut Criterion) {
    let mut g = c.benchmark_group("input 1280x720");
    for format in [PixelFormat::Rgb24, PixelFormat::Nv12] {
        let data = frame_bytes(format);
        let frame = Frame::new(&data, W as u32, H as u32, 0, format).unwrap();
        let layout = Geometry::new(hardware_format(format, Generation::E), W, H);
        let mut area = vec![0u8; layout.extent];
        let mut copy = vec![0u8; data.len()];
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_function(format!("layout {}", format.name()), |b| {
            b.iter(|| write_frame(&frame, &layout, &mut area))
        });
        g.bench_function(format!("memcpy {}", format.name()), |b| {
            b.iter(|| copy.copy_from_slice(std::hint::black_box(&data)))
        });
    }
    g.finish();
}

fn software(c: &mut Criterion) {
    let mut g = c.benchmark_group("software 1280x720 q90 4:2:0");
    g.throughput(Throughput::Elements((W * H) as u64));
    let data = frame_bytes(PixelFormat::Rgb24);
    let frame = Frame::new(&data, W as u32, H as u32, 0, PixelFormat::Rgb24).unwrap();
    let mut enc = Encoder::open(None, BackendChoice::Software).unwrap();
    g.bench_function("amljpeg rgb24", |b| {
        b.iter(|| enc.encode(&frame, 90).unwrap().len())
    });
    let mut tj = turbojpeg::Compressor::new().unwrap();
    tj.set_quality(90).unwrap();
    tj.set_subsamp(turbojpeg::Subsamp::Sub2x2).unwrap();
    let mut out = turbojpeg::OutputBuf::new_owned();
    g.bench_function("libjpeg-turbo rgb24", |b| {
        b.iter(|| {
            let img = turbojpeg::Image {
                pixels: &data[..],
                width: W,
                pitch: W * 3,
                height: H,
                format: turbojpeg::PixelFormat::RGB,
            };
            tj.compress(img, &mut out).unwrap();
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = input_geometry, software
}
criterion_main!(benches);
