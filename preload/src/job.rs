//! One image on its way to the hardware: whether the program's settings are something the
//! hardware reproduces (else the whole image goes to the real libjpeg), the rows or raw
//! planes the program hands over, and the frame libamljpeg gets at the end.

use crate::abi::Field;
use crate::amljpeg as aml;
use crate::libjpeg::{cs, Cinfo, HuffTbl, QuantTbl};
use crate::splice::Jfif;

/// The hardware has no published minimum size; below this libjpeg does it.
const MIN_SIDE: u32 = 16;
/// No driver level takes more than 8192 a side; larger images are libjpeg's (which also keeps
/// the collected frame's size arithmetic far from overflowing on 32-bit).
const MAX_SIDE: u32 = 8192;

/// How the program's samples arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// Packed pixels libamljpeg takes as they are (an `AML_JPEG_FORMAT_*`).
    Packed { format: i32, bytes: usize },
    /// 4-byte pixels with R, G, B at these offsets: repacked to RGB24.
    Repack { r: usize, g: usize, b: usize },
    /// Interleaved full-resolution Y, Cb, Cr: subsampled here.
    YCbCr,
    /// `raw_data_in`: downsampled planes, one iMCU row per call.
    Raw,
}

impl Input {
    /// The samples' layout in a libjpeg program's terms, for the log.
    pub fn name(&self) -> &'static str {
        match *self {
            Input::Packed { format, .. } => match format {
                aml::FORMAT_RGB24 => "RGB",
                aml::FORMAT_BGR24 => "BGR",
                aml::FORMAT_RGBA32 => "RGBX/RGBA",
                aml::FORMAT_BGRA32 => "BGRX/BGRA",
                _ => "packed pixels",
            },
            Input::Repack { r: 3, .. } => "XBGR/ABGR",
            Input::Repack { .. } => "XRGB/ARGB",
            Input::YCbCr => "YCbCr rows",
            Input::Raw => "raw YCbCr planes",
        }
    }
}

/// One raw plane as libjpeg reads it: `stride` samples per row (whole blocks), `rows` rows.
#[derive(Debug)]
pub struct Plane {
    pub stride: usize,
    pub rows: usize,
    /// Rows per iMCU row (the component's v_samp_factor × 8).
    pub rows_per_imcu: usize,
    pub data: Vec<u8>,
}

#[derive(Debug)]
pub struct Job {
    pub width: usize,
    pub height: usize,
    pub s422: bool,
    pub input: Input,
    /// Scanline input: `height` rows of `row_bytes`.
    pub row_bytes: usize,
    pub rows: Vec<u8>,
    /// Raw input: Y, Cb, Cr.
    pub planes: Vec<Plane>,
    /// Scanlines (or raw lines) received.
    pub received: usize,
    pub luma: [u16; 64],
    pub chroma: [u16; 64],
    pub component_ids: [u8; 3],
    pub jfif: Option<Jfif>,
    pub adobe: bool,
}

/// # Safety
/// `t` is NULL or a live table.
unsafe fn quant(t: *const QuantTbl) -> Option<[u16; 64]> {
    // SAFETY: per the contract.
    let t = unsafe { t.as_ref() }?;
    t.quantval
        .iter()
        .all(|v| (1..=255).contains(v))
        .then_some(t.quantval)
}

/// Why the program's coding settings are not the hardware's (None: they are).
///
/// # Safety
/// `c` is a live compress object in the start state.
unsafe fn coding_refusal(c: Cinfo, write_all_tables: bool) -> Option<&'static str> {
    // SAFETY: every field read below exists in the object's ABI (7+ fields guarded).
    unsafe {
        let refusal = if !write_all_tables {
            "abbreviated datastream (write_all_tables FALSE)"
        } else if c.dest().is_null() {
            "no destination manager"
        } else if c.int(Field::DataPrecision) != 8 {
            "not 8-bit"
        } else if c.abi.offset(Field::ScaleNum).is_some()
            && c.uint(Field::ScaleNum) != c.uint(Field::ScaleDenom)
        {
            "scaling requested"
        } else if c.int(Field::NumComponents) != 3 || c.int(Field::JpegColorSpace) != cs::YCBCR {
            "the JPEG is not YCbCr"
        } else if c.int(Field::NumScans) != 0 || !c.ptr::<u8>(Field::ScanInfo, 0).is_null() {
            "progressive or multi-scan"
        } else if c.int(Field::ArithCode) != 0 {
            "arithmetic coding"
        } else if c.int(Field::OptimizeCoding) != 0 {
            "optimised Huffman tables"
        } else if c.uint(Field::RestartInterval) != 0 || c.int(Field::RestartInRows) != 0 {
            "restart markers"
        } else if c.int(Field::SmoothingFactor) != 0 || c.int(Field::Ccir601Sampling) != 0 {
            "smoothing or CCIR601 sampling"
        } else if c.int(Field::Ss) != 0 {
            "lossless (jpeg_enable_lossless)"
        } else {
            return None;
        };
        Some(refusal)
    }
}

/// The components as the hardware codes them: 4:2:0 or 4:2:2 (true), tables 0, 1, 1, and
/// their ids.
///
/// # Safety
/// `c` is a live compress object with three components.
unsafe fn components(c: Cinfo) -> Result<(bool, [u8; 3]), &'static str> {
    // SAFETY: comp_info checked non-NULL; libjpeg allocates at least three entries.
    unsafe {
        if c.component(0).is_null() {
            return Err("no component info");
        }
        let comps: Vec<_> = (0..3).map(|i| &*c.component(i)).collect();
        let samp: Vec<_> = comps
            .iter()
            .map(|k| (k.h_samp_factor, k.v_samp_factor))
            .collect();
        let s422 = match samp[..] {
            [(2, 2), (1, 1), (1, 1)] => false,
            [(2, 1), (1, 1), (1, 1)] => true,
            _ => return Err("sampling is not 4:2:0 or 4:2:2"),
        };
        let tables: Vec<_> = comps
            .iter()
            .map(|k| (k.quant_tbl_no, k.dc_tbl_no, k.ac_tbl_no))
            .collect();
        if tables != [(0, 0, 0), (1, 1, 1), (1, 1, 1)] {
            return Err("components do not use tables 0, 1, 1");
        }
        let mut ids = [0u8; 3];
        for (id, k) in ids.iter_mut().zip(&comps) {
            *id = u8::try_from(k.component_id).map_err(|_| "component ids beyond 255")?;
        }
        Ok((s422, ids))
    }
}

/// How the program's samples arrive, from its input colour space.
///
/// # Safety
/// `c` is a live compress object.
unsafe fn input_of(c: Cinfo) -> Result<Input, String> {
    // SAFETY: plain fields of a live object.
    let (raw, space, components) = unsafe {
        (
            c.int(Field::RawDataIn) != 0,
            c.int(Field::InColorSpace),
            c.int(Field::InputComponents),
        )
    };
    if raw {
        return Ok(Input::Raw);
    }
    let packed = |format, bytes| Ok(Input::Packed { format, bytes });
    match (space, components) {
        (cs::RGB | cs::EXT_RGB, 3) => packed(aml::FORMAT_RGB24, 3),
        (cs::EXT_BGR, 3) => packed(aml::FORMAT_BGR24, 3),
        (cs::EXT_RGBX | cs::EXT_RGBA, 4) => packed(aml::FORMAT_RGBA32, 4),
        (cs::EXT_BGRX | cs::EXT_BGRA, 4) => packed(aml::FORMAT_BGRA32, 4),
        (cs::EXT_XBGR | cs::EXT_ABGR, 4) => Ok(Input::Repack { r: 3, g: 2, b: 1 }),
        (cs::EXT_XRGB | cs::EXT_ARGB, 4) => Ok(Input::Repack { r: 1, g: 2, b: 3 }),
        (cs::YCBCR, 3) => Ok(Input::YCbCr),
        (space, n) => Err(format!("input colour space {space} with {n} components")),
    }
}

impl Job {
    /// A job for the hardware if the program's settings allow one; Err says why not.
    ///
    /// # Safety
    /// `c` is a live compress object in the start state.
    pub unsafe fn plan(c: Cinfo, write_all_tables: bool) -> Result<Job, String> {
        // SAFETY: every field read below exists in the object's ABI; tables and components
        // are checked non-NULL before use.
        unsafe {
            if let Some(why) = coding_refusal(c, write_all_tables) {
                return Err(why.into());
            }
            let (w, h) = (c.uint(Field::ImageWidth), c.uint(Field::ImageHeight));
            if !(MIN_SIDE..=MAX_SIDE).contains(&w) || !(MIN_SIDE..=MAX_SIDE).contains(&h) {
                return Err("size outside 16..8192".into());
            }
            let (s422, component_ids) = components(c)?;
            let (Some(luma), Some(chroma)) = (
                quant(c.ptr(Field::QuantTblPtrs, 0)),
                quant(c.ptr(Field::QuantTblPtrs, 1)),
            ) else {
                return Err("quantisation tables missing or not baseline".into());
            };
            if (0..2).any(|i| {
                c.ptr::<HuffTbl>(Field::DcHuffTblPtrs, i).is_null()
                    || c.ptr::<HuffTbl>(Field::AcHuffTblPtrs, i).is_null()
            }) {
                return Err("Huffman tables missing".into());
            }
            let input = input_of(c)?;
            let jfif = (c.int(Field::WriteJfifHeader) != 0).then(|| Jfif {
                major: c.u8(Field::JfifMajorVersion),
                minor: c.u8(Field::JfifMinorVersion),
                density_unit: c.u8(Field::DensityUnit),
                x_density: c.u16(Field::XDensity),
                y_density: c.u16(Field::YDensity),
            });
            let (width, height) = (w as usize, h as usize);
            let mut job = Job {
                width,
                height,
                s422,
                input,
                row_bytes: 0,
                rows: Vec::new(),
                planes: Vec::new(),
                received: 0,
                luma,
                chroma,
                component_ids,
                jfif,
                adobe: c.int(Field::WriteAdobeMarker) != 0,
            };
            let bytes = if input == Input::Raw {
                job.planes = job.raw_planes().ok_or("out of memory for the frame")?;
                0
            } else {
                job.row_bytes = width * c.int(Field::InputComponents) as usize;
                job.row_bytes
                    .checked_mul(height)
                    .ok_or("the frame's size overflows")?
            };
            if job.rows.try_reserve_exact(bytes).is_err() {
                return Err("out of memory for the frame".into());
            }
            job.rows.resize(bytes, 0);
            Ok(job)
        }
    }

    /// The planes libjpeg would read in raw mode: per component, whole 8×8 blocks of the
    /// downsampled size (None: no memory for them).
    fn raw_planes(&self) -> Option<Vec<Plane>> {
        let max_v = if self.s422 { 1 } else { 2 };
        [(2, max_v), (1, 1), (1, 1)]
            .iter()
            .map(|&(h, v)| {
                let w = (self.width * h).div_ceil(2);
                let rows = (self.height * v).div_ceil(max_v);
                let (stride, rows) = (w.div_ceil(8) * 8, rows.div_ceil(8) * 8);
                let len = stride.checked_mul(rows)?;
                let mut data = Vec::new();
                data.try_reserve_exact(len).ok()?;
                data.resize(len, 0);
                Some(Plane {
                    stride,
                    rows,
                    rows_per_imcu: v * 8,
                    data,
                })
            })
            .collect()
    }

    /// Lines per `jpeg_write_raw_data` call (one iMCU row).
    pub fn lines_per_imcu(&self) -> usize {
        if self.s422 {
            8
        } else {
            16
        }
    }

    /// Takes up to `n` scanlines; returns how many.
    ///
    /// # Safety
    /// `lines` holds `n` pointers to rows of at least `row_bytes` bytes.
    pub unsafe fn store_rows(&mut self, lines: *const *const u8, n: usize) -> usize {
        let k = n.min(self.height - self.received);
        for i in 0..k {
            let at = (self.received + i) * self.row_bytes;
            // SAFETY: per the contract.
            let src = unsafe { std::slice::from_raw_parts(*lines.add(i), self.row_bytes) };
            self.rows[at..at + self.row_bytes].copy_from_slice(src);
        }
        self.received += k;
        k
    }

    /// Takes one iMCU row of raw planes; returns the lines it counts for.
    ///
    /// # Safety
    /// `data` holds 3 pointers to arrays of each component's rows-per-iMCU row pointers, each
    /// row at least the plane's stride long (libjpeg's own requirement).
    pub unsafe fn store_raw(&mut self, data: *const *const *const u8) -> usize {
        let imcu = self.received / self.lines_per_imcu();
        for (c, plane) in self.planes.iter_mut().enumerate() {
            // SAFETY: per the contract.
            let rows = unsafe { *data.add(c) };
            for r in 0..plane.rows_per_imcu {
                let y = imcu * plane.rows_per_imcu + r;
                if y >= plane.rows {
                    break;
                }
                // SAFETY: per the contract.
                let src = unsafe { std::slice::from_raw_parts(*rows.add(r), plane.stride) };
                plane.data[y * plane.stride..(y + 1) * plane.stride].copy_from_slice(src);
            }
        }
        self.received += self.lines_per_imcu();
        self.lines_per_imcu()
    }

    pub fn complete(&self) -> bool {
        self.received >= self.height
    }

    /// The frame for libamljpeg: (pixels, stride, format). Packed input is the rows as they
    /// came; the rest is converted into a packed or I420 frame.
    pub fn frame(&self) -> (std::borrow::Cow<'_, [u8]>, usize, i32) {
        let (w, h) = (self.width, self.height);
        match self.input {
            Input::Packed { format, .. } => (self.rows.as_slice().into(), self.row_bytes, format),
            Input::Repack { r, g, b } => {
                let rgb = self
                    .rows
                    .chunks_exact(4)
                    .flat_map(|p| [p[r], p[g], p[b]])
                    .collect();
                (std::borrow::Cow::Owned(rgb), w * 3, aml::FORMAT_RGB24)
            }
            Input::YCbCr => {
                let s = |c: usize, x: usize, y: usize| {
                    self.rows[y.min(h - 1) * self.row_bytes + x.min(w - 1) * 3 + c] as usize
                };
                // Chroma means as libjpeg's downsamplers round them (alternating bias), edges
                // replicated: 2×1 for 4:2:2, 2×2 for 4:2:0.
                let s422 = self.s422;
                self.pack(
                    |x, y| s(0, x, y) as u8,
                    |c, x, y| {
                        let (x0, x1) = (2 * x, 2 * x + 1);
                        if s422 {
                            ((s(c, x0, y) + s(c, x1, y) + (x & 1)) >> 1) as u8
                        } else {
                            let (y0, y1) = (2 * y, 2 * y + 1);
                            let sum = s(c, x0, y0) + s(c, x1, y0) + s(c, x0, y1) + s(c, x1, y1);
                            ((sum + 1 + (x & 1)) >> 2) as u8
                        }
                    },
                )
            }
            Input::Raw => {
                let p = &self.planes;
                let s = |c: usize, x: usize, y: usize| p[c].data[y * p[c].stride + x];
                self.pack(|x, y| s(0, x, y), s)
            }
        }
    }

    /// An I420 frame (4:2:0) or a YUYV one (4:2:2) from a luma sampler (x, y; for an odd width
    /// YUYV also asks for x = width) and a chroma sampler (component 1 or 2, x, y at chroma
    /// resolution).
    fn pack(
        &self,
        luma: impl Fn(usize, usize) -> u8,
        chroma: impl Fn(usize, usize, usize) -> u8,
    ) -> (std::borrow::Cow<'_, [u8]>, usize, i32) {
        let (w, h) = (self.width, self.height);
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        if self.s422 {
            let mut out = Vec::with_capacity(cw * 4 * h);
            for y in 0..h {
                for x in 0..cw {
                    let (y0, y1) = (luma(2 * x, y), luma(2 * x + 1, y));
                    out.extend_from_slice(&[y0, chroma(1, x, y), y1, chroma(2, x, y)]);
                }
            }
            return (out.into(), cw * 4, aml::FORMAT_YUYV);
        }
        let mut out = Vec::with_capacity(w * h + 2 * cw * ch);
        for y in 0..h {
            out.extend((0..w).map(|x| luma(x, y)));
        }
        for c in 1..3 {
            for y in 0..ch {
                out.extend((0..cw).map(|x| chroma(c, x, y)));
            }
        }
        (out.into(), w, aml::FORMAT_I420)
    }
}
