//! Where libjpeg's compress object keeps each field, per ABI: libjpeg 6.2, 7 and 8 (as
//! libjpeg-turbo's `jpeglib.h` declares them), on whatever architecture this is built for.
//! The offsets are computed from the field list by C's layout rules, then checked against the
//! `structsize` the program passes to `jpeg_CreateCompress` (and, in the tests, against the
//! real header).

use std::sync::OnceLock;

/// A C type in the struct: its size and alignment here.
#[derive(Clone, Copy)]
enum C {
    Ptr,
    /// int, unsigned int, JDIMENSION, boolean and the enums.
    Int,
    U8,
    U16,
    Double,
}

impl C {
    fn size(self) -> usize {
        match self {
            C::Ptr => std::mem::size_of::<*const u8>(),
            C::Int => 4,
            C::U8 => 1,
            C::U16 => 2,
            C::Double => 8,
        }
    }

    fn align(self) -> usize {
        match self {
            C::Ptr => std::mem::align_of::<*const u8>(),
            C::Double => std::mem::align_of::<f64>(),
            other => other.size(),
        }
    }
}

/// The fields the drop-in reads or writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum F {
    Err,
    Progress,
    ClientData,
    GlobalState,
    Dest,
    ImageWidth,
    ImageHeight,
    InputComponents,
    InColorSpace,
    ScaleNum,
    ScaleDenom,
    DataPrecision,
    NumComponents,
    JpegColorSpace,
    CompInfo,
    QuantTblPtrs,
    DcHuffTblPtrs,
    AcHuffTblPtrs,
    NumScans,
    ScanInfo,
    RawDataIn,
    ArithCode,
    OptimizeCoding,
    Ccir601Sampling,
    SmoothingFactor,
    DoFancyDownsampling,
    DctMethod,
    RestartInterval,
    RestartInRows,
    WriteJfifHeader,
    JfifMajorVersion,
    JfifMinorVersion,
    DensityUnit,
    XDensity,
    YDensity,
    WriteAdobeMarker,
    NextScanline,
    /// The first scan parameter: non-zero before `jpeg_start_compress` only when
    /// libjpeg-turbo 3's `jpeg_enable_lossless` put the predictor there.
    Ss,
}

const FIELDS: usize = F::Ss as usize + 1;

impl F {
    /// Every field, in declaration order.
    pub const ALL: [F; FIELDS] = [
        F::Err,
        F::Progress,
        F::ClientData,
        F::GlobalState,
        F::Dest,
        F::ImageWidth,
        F::ImageHeight,
        F::InputComponents,
        F::InColorSpace,
        F::ScaleNum,
        F::ScaleDenom,
        F::DataPrecision,
        F::NumComponents,
        F::JpegColorSpace,
        F::CompInfo,
        F::QuantTblPtrs,
        F::DcHuffTblPtrs,
        F::AcHuffTblPtrs,
        F::NumScans,
        F::ScanInfo,
        F::RawDataIn,
        F::ArithCode,
        F::OptimizeCoding,
        F::Ccir601Sampling,
        F::SmoothingFactor,
        F::DoFancyDownsampling,
        F::DctMethod,
        F::RestartInterval,
        F::RestartInRows,
        F::WriteJfifHeader,
        F::JfifMajorVersion,
        F::JfifMinorVersion,
        F::DensityUnit,
        F::XDensity,
        F::YDensity,
        F::WriteAdobeMarker,
        F::NextScanline,
        F::Ss,
    ];
}

/// One member of `struct jpeg_compress_struct`: type, array length, the first ABI that has it,
/// and which of ours it is.
type Member = (C, usize, u32, Option<F>);

#[rustfmt::skip]
const COMPRESS: &[Member] = &[
    // jpeg_common_fields
    (C::Ptr, 1, 62, Some(F::Err)), (C::Ptr, 1, 62, None), (C::Ptr, 1, 62, Some(F::Progress)),
    (C::Ptr, 1, 62, Some(F::ClientData)), (C::Int, 1, 62, None), (C::Int, 1, 62, Some(F::GlobalState)),
    (C::Ptr, 1, 62, Some(F::Dest)),
    (C::Int, 1, 62, Some(F::ImageWidth)), (C::Int, 1, 62, Some(F::ImageHeight)),
    (C::Int, 1, 62, Some(F::InputComponents)), (C::Int, 1, 62, Some(F::InColorSpace)),
    (C::Double, 1, 62, None), // input_gamma
    (C::Int, 1, 70, Some(F::ScaleNum)), (C::Int, 1, 70, Some(F::ScaleDenom)),
    (C::Int, 2, 70, None), // jpeg_width, jpeg_height
    (C::Int, 1, 62, Some(F::DataPrecision)), (C::Int, 1, 62, Some(F::NumComponents)),
    (C::Int, 1, 62, Some(F::JpegColorSpace)), (C::Ptr, 1, 62, Some(F::CompInfo)),
    (C::Ptr, 4, 62, Some(F::QuantTblPtrs)),
    (C::Int, 4, 70, None), // q_scale_factor
    (C::Ptr, 4, 62, Some(F::DcHuffTblPtrs)), (C::Ptr, 4, 62, Some(F::AcHuffTblPtrs)),
    (C::U8, 48, 62, None), // arith_dc_L, arith_dc_U, arith_ac_K
    (C::Int, 1, 62, Some(F::NumScans)), (C::Ptr, 1, 62, Some(F::ScanInfo)),
    (C::Int, 1, 62, Some(F::RawDataIn)), (C::Int, 1, 62, Some(F::ArithCode)),
    (C::Int, 1, 62, Some(F::OptimizeCoding)), (C::Int, 1, 62, Some(F::Ccir601Sampling)),
    (C::Int, 1, 70, Some(F::DoFancyDownsampling)),
    (C::Int, 1, 62, Some(F::SmoothingFactor)), (C::Int, 1, 62, Some(F::DctMethod)),
    (C::Int, 1, 62, Some(F::RestartInterval)), (C::Int, 1, 62, Some(F::RestartInRows)),
    (C::Int, 1, 62, Some(F::WriteJfifHeader)),
    (C::U8, 1, 62, Some(F::JfifMajorVersion)), (C::U8, 1, 62, Some(F::JfifMinorVersion)),
    (C::U8, 1, 62, Some(F::DensityUnit)),
    (C::U16, 1, 62, Some(F::XDensity)), (C::U16, 1, 62, Some(F::YDensity)),
    (C::Int, 1, 62, Some(F::WriteAdobeMarker)),
    (C::Int, 1, 62, Some(F::NextScanline)),
    (C::Int, 3, 62, None), // progressive_mode, max_h/v_samp_factor
    (C::Int, 2, 70, None), // min_DCT_h/v_scaled_size
    (C::Int, 2, 62, None), // total_iMCU_rows, comps_in_scan
    (C::Ptr, 4, 62, None), // cur_comp_info
    (C::Int, 3, 62, None), // MCUs_per_row, MCU_rows_in_scan, blocks_in_MCU
    (C::Int, 10, 62, None), // MCU_membership
    (C::Int, 1, 62, Some(F::Ss)), (C::Int, 3, 62, None), // Ss, Se, Ah, Al
    (C::Int, 1, 80, None), (C::Ptr, 1, 80, None), (C::Int, 1, 80, None), // block_size, natural_order, lim_Se
    (C::Ptr, 10, 62, None), // master .. entropy, script_space
    (C::Int, 1, 62, None), // script_space_size
];

/// `jpeg_component_info`: the seven ints we read, then the rest (for its size).
#[rustfmt::skip]
const COMPONENT: &[Member] = &[
    (C::Int, 7, 62, None), // component_id .. ac_tbl_no
    (C::Int, 2, 62, None), // width/height_in_blocks
    (C::Int, 1, 62, None), // DCT_scaled_size (7+: DCT_h_scaled_size)
    (C::Int, 1, 70, None), // DCT_v_scaled_size
    (C::Int, 3, 62, None), // downsampled_width/height, component_needed
    (C::Int, 6, 62, None), // MCU_width .. last_row_height
    (C::Ptr, 2, 62, None), // quant_table, dct_table
];

/// Where `dest` is: among the common fields, the same in every ABI.
pub fn dest_offset() -> usize {
    static AT: OnceLock<usize> = OnceLock::new();
    *AT.get_or_init(|| {
        Layout::new(62)
            .offset(F::Dest)
            .expect("dest is a common field")
    })
}

/// Offsets of one ABI.
#[derive(Debug)]
pub struct Layout {
    pub version: u32,
    offsets: [Option<usize>; FIELDS],
    /// sizeof(struct jpeg_compress_struct).
    pub size: usize,
    /// sizeof(jpeg_component_info).
    pub component_size: usize,
}

fn lay_out(members: &[Member], version: u32) -> ([Option<usize>; FIELDS], usize) {
    let (mut offsets, mut at, mut max_align) = ([None; FIELDS], 0usize, 1usize);
    for &(ty, count, since, field) in members {
        if since > version {
            continue;
        }
        at = at.next_multiple_of(ty.align());
        max_align = max_align.max(ty.align());
        if let Some(f) = field {
            offsets[f as usize] = Some(at);
        }
        at += ty.size() * count;
    }
    (offsets, at.next_multiple_of(max_align))
}

impl Layout {
    fn new(version: u32) -> Layout {
        let (offsets, size) = lay_out(COMPRESS, version);
        Layout {
            version,
            offsets,
            size,
            component_size: lay_out(COMPONENT, version).1,
        }
    }

    /// The layout a program built against `version` of libjpeg uses, if we know it and its
    /// struct has the size the program says.
    pub fn select(version: i32, structsize: usize) -> Option<&'static Layout> {
        static LAYOUTS: OnceLock<[Layout; 3]> = OnceLock::new();
        let all = LAYOUTS.get_or_init(|| [Layout::new(62), Layout::new(70), Layout::new(80)]);
        all.iter()
            .find(|l| l.version as i32 == version && l.size == structsize)
    }

    /// The offset of `f`; None when this ABI lacks it (the 7+ fields in 6.2).
    pub fn offset(&self, f: F) -> Option<usize> {
        self.offsets[f as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_the_measured_ones() {
        // landscape.md §3.2, measured with gcc against libjpeg-turbo's headers.
        let expected: [(u32, usize, usize); 3] = if cfg!(target_pointer_width = "64") {
            [(62, 520, 0), (70, 568, 0), (80, 584, 0)]
        } else {
            [(62, 376, 224), (70, 424, 260), (80, 432, 260)]
        };
        for (version, size, next_scanline) in expected {
            let l = Layout::new(version);
            assert_eq!(l.size, size, "v{version}");
            assert!(Layout::select(version as i32, size).is_some());
            if next_scanline != 0 {
                assert_eq!(l.offset(F::NextScanline), Some(next_scanline));
            }
        }
        assert!(Layout::select(62, 584).is_none());
        assert!(Layout::select(90, 584).is_none());
        assert_eq!(Layout::new(62).offset(F::ScaleNum), None);
    }
}
