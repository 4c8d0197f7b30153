//! How the encoder hardware reads the input area (docs/driver.md §4): per input format, the stride
//! and plane offsets the driver programs, and the conversion to Y/Cb/Cr planes at the MFDIN output
//! sampling (4:2:0 or 4:2:2), with RGB→YCbCr (BT.601 full range) for the r2y formats.

pub fn align(v: usize, a: usize) -> usize {
    v.div_ceil(a) * a
}

/// The E input formats (`jpegenc_frame_fmt`).
pub mod fmt {
    pub const YUV422_SINGLE: u32 = 0;
    pub const YUV444_SINGLE: u32 = 1;
    pub const NV21: u32 = 2;
    pub const NV12: u32 = 3;
    pub const YUV420: u32 = 4;
    pub const YUV444_PLANE: u32 = 5;
    pub const RGB888: u32 = 6;
    pub const RGB888_PLANE: u32 = 7;
    pub const RGB565: u32 = 8;
    pub const RGBA8888: u32 = 9;
    /// The model's name for I420 read the way the J driver's canvas bug reads it.
    pub const YUV420_U_FROM_V: u32 = 0x104;

    pub fn name(f: u32) -> &'static str {
        match f {
            0 => "YUV422_SINGLE",
            1 => "YUV444_SINGLE",
            2 => "NV21",
            3 => "NV12",
            4 => "YUV420",
            5 => "YUV444_PLANE",
            6 => "RGB888",
            7 => "RGB888_PLANE",
            8 => "RGB565",
            9 => "RGBA8888",
            _ => "invalid",
        }
    }
}

/// Whether the driver accepts `in_fmt` for LOCAL/PHYSICAL input (RGB565 and ≥ 10 are rejected).
pub fn accepted(in_fmt: u32) -> bool {
    in_fmt <= fmt::RGBA8888 && in_fmt != fmt::RGB565
}

/// The bytes the hardware reads for a `width`×`height` frame (docs/driver.md §4).
pub fn extent(in_fmt: u32, width: usize, height: usize) -> usize {
    let (pw, ph) = (align(width, 16), align(height, 16));
    match in_fmt {
        fmt::YUV422_SINGLE => align(2 * pw, 32) * ph,
        fmt::YUV444_SINGLE | fmt::RGB888 => align(3 * pw, 32) * ph,
        fmt::NV21 | fmt::NV12 => align(width, 32) * ph * 3 / 2,
        fmt::YUV420 | fmt::YUV420_U_FROM_V => align(width, 64) * ph * 3 / 2,
        fmt::YUV444_PLANE | fmt::RGB888_PLANE => align(width, 32) * ph * 3,
        // 4-byte pixels fetched at a 3·PW line pitch: the last line overruns its pitch.
        fmt::RGBA8888 => 3 * pw * (ph - 1) + 4 * pw,
        _ => 0,
    }
}

/// One plane as the hardware fetches it: where it starts, its row pitch, how many rows of how
/// many bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PlaneFetch {
    offset: usize,
    stride: usize,
    rows: usize,
    bytes: usize,
}

/// The planes of `in_fmt` as the hardware fetches them, with the driver's canvas geometry
/// (`strides` None) or, on the C1+ path, the command's y/u/v strides and luma height: rows
/// padded to 16 are fetched either way, linearly past the plane when the height stride is
/// shorter (as DMA reads memory). None for formats the stride path does not take.
fn fetches(
    in_fmt: u32,
    width: usize,
    height: usize,
    strides: Option<[usize; 4]>,
) -> Option<Vec<PlaneFetch>> {
    let (pw, ph) = (align(width, 16), align(height, 16));
    let f = |offset, stride, rows, bytes| PlaneFetch {
        offset,
        stride,
        rows,
        bytes,
    };
    Some(match (in_fmt, strides) {
        (fmt::NV12 | fmt::NV21, None) => {
            let s = align(width, 32);
            vec![f(0, s, ph, pw), f(s * ph, s, ph / 2, pw)]
        }
        (fmt::NV12 | fmt::NV21, Some([y, u, _, h])) => {
            vec![f(0, y, ph, pw), f(y * h, u, ph / 2, pw)]
        }
        (fmt::YUV420, None) => {
            let s = align(width, 64);
            vec![
                f(0, s, ph, pw),
                f(s * ph, s / 2, ph / 2, pw / 2),
                f(s * ph * 5 / 4, s / 2, ph / 2, pw / 2),
            ]
        }
        (fmt::YUV420, Some([y, u, v, h])) => vec![
            f(0, y, ph, pw),
            f(y * h, u, ph / 2, pw / 2),
            f(y * h + u * h.div_ceil(2), v, ph / 2, pw / 2),
        ],
        (fmt::YUV422_SINGLE, None) => vec![f(0, align(2 * pw, 32), ph, 2 * pw)],
        (fmt::YUV422_SINGLE, Some([y, ..])) => vec![f(0, y, ph, 2 * pw)],
        (fmt::RGB888 | fmt::YUV444_SINGLE, None) => vec![f(0, align(3 * pw, 32), ph, 3 * pw)],
        (fmt::RGB888 | fmt::YUV444_SINGLE, Some([y, ..])) => vec![f(0, y, ph, 3 * pw)],
        _ => return None,
    })
}

/// The bytes from the frame's base that the hardware reads for it (see [`fetches`]).
pub fn span(in_fmt: u32, width: usize, height: usize, strides: Option<[usize; 4]>) -> usize {
    match fetches(in_fmt, width, height, strides) {
        Some(planes) => planes
            .iter()
            .map(|p| p.offset + (p.rows - 1) * p.stride + p.bytes)
            .max()
            .unwrap_or(0),
        None => extent(in_fmt, width, height),
    }
}

/// The frame the C1+ path fetches with `strides`, laid out in the canvas geometry that
/// [`read`] takes: each plane's rows read through `fetch(offset, out)`.
pub fn gather(
    in_fmt: u32,
    width: usize,
    height: usize,
    strides: [usize; 4],
    fetch: impl Fn(usize, &mut [u8]),
) -> Vec<u8> {
    let mut out = vec![0u8; extent(in_fmt, width, height)];
    let (Some(from), Some(to)) = (
        fetches(in_fmt, width, height, Some(strides)),
        fetches(in_fmt, width, height, None),
    ) else {
        fetch(0, &mut out);
        return out;
    };
    for (a, b) in from.iter().zip(&to) {
        for row in 0..b.rows {
            let at = b.offset + row * b.stride;
            fetch(a.offset + row * a.stride, &mut out[at..at + b.bytes]);
        }
    }
    out
}

/// Y, Cb, Cr planes as the MFDIN hands them to the encoder./// Y, Cb, Cr planes as the MFDIN hands them to the encoder.
pub struct Planes {
    pub y: Vec<u8>,
    pub cb: Vec<u8>,
    pub cr: Vec<u8>,
    pub luma_width: usize,
    pub luma_height: usize,
    pub chroma_width: usize,
    pub chroma_height: usize,
}

#[inline]
fn rgb_to_ycc(r: u8, g: u8, b: u8) -> (u8, u8, u8) {
    let (r, g, b) = (r as i32, g as i32, b as i32);
    let y = (19595 * r + 38470 * g + 7471 * b + 32768) >> 16;
    let cb = (-11059 * r - 21709 * g + 32768 * b + (128 << 16) + 32767) >> 16;
    let cr = (32768 * r - 27439 * g - 5329 * b + (128 << 16) + 32767) >> 16;
    (
        y.clamp(0, 255) as u8,
        cb.clamp(0, 255) as u8,
        cr.clamp(0, 255) as u8,
    )
}

/// A 4:4:4 source (packed or planar, YUV or RGB) as the hardware fetches it.
struct Source444<'a> {
    src: &'a [u8],
    in_fmt: u32,
    /// Padded width; the packed formats' row pitch; the planar formats' pitch and plane size.
    pw: usize,
    packed_stride: usize,
    planar_stride: usize,
    plane: usize,
    /// Luma rows per chroma row: 2 for a 4:2:0 output, 1 for 4:2:2.
    rows_per_crow: usize,
}

impl Source444<'_> {
    /// Row `r`'s three components, one array each.
    #[inline(always)]
    fn fetch_row(&self, r: usize, [a, b, c]: &mut [Vec<u8>; 3]) {
        let pw = self.pw;
        let packed = |stride: usize, bpp: usize, a: &mut [u8], b: &mut [u8], c: &mut [u8]| {
            let row = &self.src[r * stride..][..bpp * pw];
            for (((p, a), b), c) in row.chunks_exact(bpp).zip(a).zip(b).zip(c) {
                (*a, *b, *c) = (p[0], p[1], p[2]);
            }
        };
        match self.in_fmt {
            fmt::RGB888 | fmt::YUV444_SINGLE => packed(self.packed_stride, 3, a, b, c),
            fmt::RGB888_PLANE | fmt::YUV444_PLANE => {
                for (k, out) in [a, b, c].into_iter().enumerate() {
                    let at = k * self.plane + r * self.planar_stride;
                    out.copy_from_slice(&self.src[at..][..pw]);
                }
            }
            // RGBA8888's linear path: 4-byte pixels fetched at a 3·PW line pitch (skewed).
            _ => packed(3 * pw, 4, a, b, c),
        }
    }

    fn is_rgb(&self) -> bool {
        !matches!(self.in_fmt, fmt::YUV444_SINGLE | fmt::YUV444_PLANE)
    }

    /// `rows`: luma into its `y`, chroma summed over each pair of pixels into its `cb` and
    /// `cr` (`rows_per_crow` rows add into one chroma row).
    #[inline(always)]
    fn convert(&self, rows: Rows444<'_>) {
        let Rows444 { first, y, cb, cr } = rows;
        let rows_per_crow = self.rows_per_crow;
        let (pw, cw) = (self.pw, self.pw / 2);
        let rgb = self.is_rgb();
        let mut row = [vec![0u8; pw], vec![0u8; pw], vec![0u8; pw]];
        let (mut u, mut v) = (vec![0u8; pw], vec![0u8; pw]);
        for (r, yrow) in y.chunks_exact_mut(pw).enumerate() {
            if self.in_fmt == fmt::RGB888 {
                // Packed RGB straight from the source row: a loop the compiler vectorises
                // with its 3-way interleaved loads.
                let src = &self.src[(first + r) * self.packed_stride..][..3 * pw];
                let outs = yrow.iter_mut().zip(u.iter_mut().zip(v.iter_mut()));
                for (p, (yy, (uu, vv))) in src.chunks_exact(3).zip(outs) {
                    (*yy, *uu, *vv) = rgb_to_ycc(p[0], p[1], p[2]);
                }
            } else if rgb {
                self.fetch_row(first + r, &mut row);
                let [red, green, blue] = &row;
                let pixels = red.iter().zip(green).zip(blue).zip(yrow.iter_mut());
                for ((((&r, &g), &b), yy), (uu, vv)) in pixels.zip(u.iter_mut().zip(&mut v)) {
                    (*yy, *uu, *vv) = rgb_to_ycc(r, g, b);
                }
            } else {
                self.fetch_row(first + r, &mut row);
                yrow.copy_from_slice(&row[0]);
                u.copy_from_slice(&row[1]);
                v.copy_from_slice(&row[2]);
            }
            let crow = r / rows_per_crow * cw;
            for (sums, full) in [(&mut cb[crow..][..cw], &u), (&mut cr[crow..][..cw], &v)] {
                for (s, pair) in sums.iter_mut().zip(full.chunks_exact(2)) {
                    *s += pair[0] as u16 + pair[1] as u16;
                }
            }
        }
    }

    /// [`Self::convert`], compiled for AVX2 where the CPU has it (the same arithmetic, in
    /// wider vectors: the emulator must keep the modelled pace).
    fn convert_fast(&self, rows: Rows444<'_>) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            #[target_feature(enable = "avx2")]
            unsafe fn avx2(source: &Source444<'_>, rows: Rows444<'_>) {
                source.convert(rows)
            }
            // SAFETY: the CPU has AVX2 (checked just above).
            return unsafe { avx2(self, rows) };
        }
        self.convert(rows)
    }
}

/// Rows [first, first + y.len() / pw) of a 4:4:4 source's planes: luma, and the chroma sums.
struct Rows444<'a> {
    first: usize,
    y: &'a mut [u8],
    cb: &'a mut [u16],
    cr: &'a mut [u16],
}

/// Reads a 4:4:4 source: luma at full resolution, chroma averaged over 2×2 (4:2:0) or 2×1
/// (4:2:2) pixels as it is read, the rows split between two threads.
fn read_444(src: &[u8], in_fmt: u32, width: usize, pw: usize, ph: usize, to_420: bool) -> Planes {
    let (cw, ch) = (pw / 2, if to_420 { ph / 2 } else { ph });
    let rows_per_crow = if to_420 { 2 } else { 1 };
    let source = Source444 {
        src,
        in_fmt,
        pw,
        packed_stride: align(3 * pw, 32),
        planar_stride: align(width, 32),
        plane: align(width, 32) * ph,
        rows_per_crow,
    };
    let mut y = vec![0u8; pw * ph];
    let (mut cb, mut cr) = (vec![0u16; cw * ch], vec![0u16; cw * ch]);
    // The split falls on a chroma row boundary.
    let split = ph / 2 / rows_per_crow * rows_per_crow;
    let (y0, y1) = y.split_at_mut(split * pw);
    let (cb0, cb1) = cb.split_at_mut(split / rows_per_crow * cw);
    let (cr0, cr1) = cr.split_at_mut(split / rows_per_crow * cw);
    std::thread::scope(|s| {
        s.spawn(|| {
            source.convert_fast(Rows444 {
                first: split,
                y: y1,
                cb: cb1,
                cr: cr1,
            })
        });
        source.convert_fast(Rows444 {
            first: 0,
            y: y0,
            cb: cb0,
            cr: cr0,
        });
    });
    // The mean of 4 (or 2) samples, rounded half up: a shift, which vectorises (a division
    // by a variable does not).
    let shift = if to_420 { 2 } else { 1 };
    let average = |sums: Vec<u16>| {
        sums.into_iter()
            .map(|s| ((s + (1 << shift >> 1)) >> shift) as u8)
            .collect()
    };
    Planes {
        y,
        cb: average(cb),
        cr: average(cr),
        luma_width: pw,
        luma_height: ph,
        chroma_width: cw,
        chroma_height: ch,
    }
}

/// Reads a frame from `mem` (the input area from the frame's base) with the driver geometry.
/// `to_420` is the MFDIN output format: true for 4:2:0, false for 4:2:2. Bytes past the end of
/// `mem` read as zero (the real hardware would read foreign memory).
pub fn read(mem: &[u8], in_fmt: u32, width: usize, height: usize, to_420: bool) -> Planes {
    let (pw, ph) = (align(width, 16), align(height, 16));
    let need = extent(in_fmt, width, height);
    let padded;
    let src: &[u8] = if mem.len() >= need {
        mem
    } else {
        let mut v = mem.to_vec();
        v.resize(need, 0);
        padded = v;
        &padded
    };
    if matches!(
        in_fmt,
        fmt::YUV444_SINGLE | fmt::RGB888 | fmt::YUV444_PLANE | fmt::RGB888_PLANE | fmt::RGBA8888
    ) {
        return read_444(src, in_fmt, width, pw, ph, to_420);
    }
    let (y, cb, cr, src_ch) = if in_fmt == fmt::YUV422_SINGLE {
        read_yuyv(src, pw, ph)
    } else {
        read_420(src, in_fmt, width, pw, ph)
    };
    to_output_sampling(y, cb, cr, pw, ph, src_ch, to_420)
}

/// Packed YUYV (4:2:2): luma and chroma at the source's resolution; the chroma's rows.
fn read_yuyv(src: &[u8], pw: usize, ph: usize) -> (Vec<u8>, Vec<u8>, Vec<u8>, usize) {
    let (stride, cw) = (align(2 * pw, 32), pw / 2);
    let (mut y, mut cb, mut cr) = (vec![0u8; pw * ph], vec![0u8; cw * ph], vec![0u8; cw * ph]);
    for row in 0..ph {
        for cx in 0..cw {
            let o = row * stride + cx * 4;
            y[row * pw + 2 * cx] = src[o];
            cb[row * cw + cx] = src[o + 1];
            y[row * pw + 2 * cx + 1] = src[o + 2];
            cr[row * cw + cx] = src[o + 3];
        }
    }
    (y, cb, cr, ph)
}

/// NV12, NV21 and YUV420 (and any other value: the caller maps rejected formats away): luma
/// and 4:2:0 chroma; the chroma's rows.
fn read_420(
    src: &[u8],
    in_fmt: u32,
    width: usize,
    pw: usize,
    ph: usize,
) -> (Vec<u8>, Vec<u8>, Vec<u8>, usize) {
    let (cw, half_h) = (pw / 2, ph / 2);
    let (stride, cstride, u_off, v_off, interleaved) = match in_fmt {
        fmt::YUV420 => {
            let sy = align(width, 64);
            (sy, sy / 2, sy * ph, sy * ph * 5 / 4, false)
        }
        fmt::YUV420_U_FROM_V => {
            let sy = align(width, 64);
            (sy, sy / 2, sy * ph * 5 / 4, sy * ph * 5 / 4, false)
        }
        _ => {
            let s = align(width, 32);
            (s, s, s * ph, s * ph, true)
        }
    };
    let mut y = vec![0u8; pw * ph];
    let (mut cb, mut cr) = (vec![0u8; cw * half_h], vec![0u8; cw * half_h]);
    for row in 0..ph {
        y[row * pw..row * pw + pw].copy_from_slice(&src[row * stride..row * stride + pw]);
    }
    for row in 0..half_h {
        for cx in 0..cw {
            let i = row * cw + cx;
            if interleaved {
                let o = u_off + row * cstride + 2 * cx;
                let (first, second) = (src[o], src[o + 1]);
                (cb[i], cr[i]) = if in_fmt == fmt::NV21 {
                    (second, first)
                } else {
                    (first, second)
                };
            } else {
                cb[i] = src[u_off + row * cstride + cx];
                cr[i] = src[v_off + row * cstride + cx];
            }
        }
    }
    (y, cb, cr, half_h)
}

/// The planes at the MFDIN's output sampling: 4:2:2 chroma averaged down to 4:2:0, or 4:2:0
/// chroma interpolated up (rows repeated) to 4:2:2.
fn to_output_sampling(
    y: Vec<u8>,
    cb: Vec<u8>,
    cr: Vec<u8>,
    pw: usize,
    ph: usize,
    src_ch: usize,
    to_420: bool,
) -> Planes {
    let cw = pw / 2;
    let out_h = if to_420 { ph / 2 } else { ph };
    let resample = |p: Vec<u8>| -> Vec<u8> {
        if src_ch == out_h {
            return p;
        }
        let mut out = vec![0u8; cw * out_h];
        for oy in 0..out_h {
            for ox in 0..cw {
                out[oy * cw + ox] = if src_ch == ph && to_420 {
                    // 4:2:2 source into 4:2:0: average row pairs.
                    ((p[2 * oy * cw + ox] as u32 + p[(2 * oy + 1) * cw + ox] as u32).div_ceil(2))
                        as u8
                } else {
                    // A 4:2:0 source interpolated to 4:2:2 (rows repeated).
                    p[(oy * src_ch / out_h) * cw + ox]
                };
            }
        }
        out
    };
    Planes {
        y,
        cb: resample(cb),
        cr: resample(cr),
        luma_width: pw,
        luma_height: ph,
        chroma_width: cw,
        chroma_height: out_h,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extents_follow_the_spec() {
        assert_eq!(extent(fmt::RGB888, 1280, 720), 1280 * 720 * 3);
        assert_eq!(extent(fmt::NV12, 451, 300), 480 * 304 * 3 / 2);
        assert_eq!(extent(fmt::YUV420, 451, 300), 512 * 304 * 3 / 2);
        assert_eq!(extent(fmt::YUV422_SINGLE, 451, 300), 928 * 304);
        assert_eq!(extent(fmt::RGB888_PLANE, 17, 1), 32 * 16 * 3);
        assert_eq!(extent(fmt::RGB565, 16, 16), 0);
    }

    #[test]
    fn nv21_swaps_and_planes_start_at_stride_times_padded_height() {
        let (w, h) = (20usize, 10usize);
        let s = 32;
        let mut mem = vec![0u8; extent(fmt::NV21, w, h)];
        mem[s * 16] = 10; // V
        mem[s * 16 + 1] = 20; // U
        let p = read(&mem, fmt::NV21, w, h, true);
        assert_eq!((p.cb[0], p.cr[0]), (20, 10));
        assert_eq!((p.luma_width, p.luma_height, p.chroma_height), (32, 16, 8));
    }

    #[test]
    fn the_stride_path_gathers_planes_into_the_canvas_geometry() {
        // 1920x1080 NV12 with chroma right after 1080 rows, at a 2048-byte pitch.
        let (w, h, pitch) = (1920usize, 1080usize, 2048usize);
        let mut mem = vec![0u8; pitch * h * 3 / 2 + 8 * pitch];
        mem[pitch * 1079 + 5] = 11; // last luma row
        mem[pitch * h + 7] = 22; // first chroma row
        let strides = [pitch, pitch, pitch, h];
        let frame = gather(fmt::NV12, w, h, strides, |at, out| {
            let n = out.len().min(mem.len().saturating_sub(at));
            out[..n].copy_from_slice(&mem[at..at + n]);
        });
        let s = align(w, 32);
        assert_eq!(frame.len(), extent(fmt::NV12, w, h));
        assert_eq!((frame[s * 1079 + 5], frame[s * 1088 + 7]), (11, 22));
        // Rows 1080..1088 of luma are fetched linearly: the chroma plane's first rows.
        assert_eq!(frame[s * 1080 + 7], 22);
        assert_eq!(
            span(fmt::NV12, w, h, Some(strides)),
            pitch * h + pitch * 543 + 1920
        );
        assert_eq!(span(fmt::NV12, w, h, None), extent(fmt::NV12, w, h));
    }

    /// The row-at-a-time 4:4:4 reader gives what the MFDIN does pixel by pixel: each pixel
    /// fetched as the format lays it out, converted, chroma averaged (rounded half up).
    #[test]
    fn the_444_reader_is_the_per_pixel_model() {
        let (w, h) = (37usize, 21usize);
        let (pw, ph) = (align(w, 16), align(h, 16));
        for in_fmt in [
            fmt::RGB888,
            fmt::YUV444_SINGLE,
            fmt::RGB888_PLANE,
            fmt::YUV444_PLANE,
            fmt::RGBA8888,
        ] {
            let mem = amljpeg_testkit::noise_bytes(extent(in_fmt, w, h), in_fmt + 7);
            let pixel = |px: usize, py: usize| -> [u8; 3] {
                let (sp, s3) = (align(w, 32), align(3 * pw, 32));
                let o = match in_fmt {
                    fmt::RGB888 | fmt::YUV444_SINGLE => py * s3 + 3 * px,
                    fmt::RGBA8888 => py * 3 * pw + 4 * px,
                    _ => py * sp + px,
                };
                let step = if matches!(in_fmt, fmt::RGB888_PLANE | fmt::YUV444_PLANE) {
                    sp * ph
                } else {
                    1
                };
                let [a, b, c] = [mem[o], mem[o + step], mem[o + 2 * step]];
                let (y, u, v) = if matches!(in_fmt, fmt::YUV444_SINGLE | fmt::YUV444_PLANE) {
                    (a, b, c)
                } else {
                    rgb_to_ycc(a, b, c)
                };
                [y, u, v]
            };
            for to_420 in [true, false] {
                let p = read(&mem, in_fmt, w, h, to_420);
                let rows = if to_420 { 2 } else { 1 };
                for py in 0..ph {
                    for px in 0..pw {
                        assert_eq!(
                            p.y[py * pw + px],
                            pixel(px, py)[0],
                            "fmt {in_fmt} luma ({px},{py})"
                        );
                    }
                }
                for cy in 0..p.chroma_height {
                    for cx in 0..pw / 2 {
                        for k in 1..3 {
                            let mut sum = 0u32;
                            for dy in 0..rows {
                                for dx in 0..2 {
                                    sum += pixel(2 * cx + dx, cy * rows + dy)[k] as u32;
                                }
                            }
                            let n = 2 * rows as u32;
                            let want = ((sum + n / 2) / n) as u8;
                            let plane = if k == 1 { &p.cb } else { &p.cr };
                            assert_eq!(
                                plane[cy * pw / 2 + cx],
                                want,
                                "fmt {in_fmt} chroma {k} ({cx},{cy}) 420 {to_420}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn rgb_grey_is_neutral() {
        let mem = vec![77u8; extent(fmt::RGB888, 16, 16)];
        let p = read(&mem, fmt::RGB888, 16, 16, false);
        assert!(p.y.iter().all(|&v| v == 77));
        assert!(p.cb.iter().chain(&p.cr).all(|&v| v == 128));
        assert_eq!(p.chroma_height, 16);
    }
}
