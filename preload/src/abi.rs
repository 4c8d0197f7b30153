//! Where libjpeg's compress object keeps each field, per ABI: libjpeg 6.2, 7 and 8 (as
//! libjpeg-turbo's `jpeglib.h` declares them), on whatever architecture this is built for.
//! The offsets are computed from the field list by C's layout rules, then checked against the
//! `structsize` the program passes to `jpeg_CreateCompress` (and, in the tests, against the
//! real header).

use std::sync::OnceLock;

/// A C type in the struct: its size and alignment here.
#[derive(Clone, Copy)]
enum CType {
    Ptr,
    /// int, unsigned int, JDIMENSION, boolean and the enums.
    Int,
    U8,
    U16,
    Double,
}

impl CType {
    fn size(self) -> usize {
        match self {
            CType::Ptr => std::mem::size_of::<*const u8>(),
            CType::Int => 4,
            CType::U8 => 1,
            CType::U16 => 2,
            CType::Double => 8,
        }
    }

    fn align(self) -> usize {
        match self {
            CType::Ptr => std::mem::align_of::<*const u8>(),
            CType::Double => std::mem::align_of::<f64>(),
            other => other.size(),
        }
    }
}

/// The fields the drop-in reads or writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
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

const FIELDS: usize = Field::Ss as usize + 1;

impl Field {
    /// Every field, in declaration order.
    pub const ALL: [Field; FIELDS] = [
        Field::Err,
        Field::Progress,
        Field::ClientData,
        Field::GlobalState,
        Field::Dest,
        Field::ImageWidth,
        Field::ImageHeight,
        Field::InputComponents,
        Field::InColorSpace,
        Field::ScaleNum,
        Field::ScaleDenom,
        Field::DataPrecision,
        Field::NumComponents,
        Field::JpegColorSpace,
        Field::CompInfo,
        Field::QuantTblPtrs,
        Field::DcHuffTblPtrs,
        Field::AcHuffTblPtrs,
        Field::NumScans,
        Field::ScanInfo,
        Field::RawDataIn,
        Field::ArithCode,
        Field::OptimizeCoding,
        Field::Ccir601Sampling,
        Field::SmoothingFactor,
        Field::DoFancyDownsampling,
        Field::DctMethod,
        Field::RestartInterval,
        Field::RestartInRows,
        Field::WriteJfifHeader,
        Field::JfifMajorVersion,
        Field::JfifMinorVersion,
        Field::DensityUnit,
        Field::XDensity,
        Field::YDensity,
        Field::WriteAdobeMarker,
        Field::NextScanline,
        Field::Ss,
    ];
}

/// One member of `struct jpeg_compress_struct`: type, array length, the first ABI that has it,
/// and which of ours it is.
type Member = (CType, usize, u32, Option<Field>);

#[rustfmt::skip]
const COMPRESS: &[Member] = &[
    // jpeg_common_fields
    (CType::Ptr, 1, 62, Some(Field::Err)), (CType::Ptr, 1, 62, None), (CType::Ptr, 1, 62, Some(Field::Progress)),
    (CType::Ptr, 1, 62, Some(Field::ClientData)), (CType::Int, 1, 62, None), (CType::Int, 1, 62, Some(Field::GlobalState)),
    (CType::Ptr, 1, 62, Some(Field::Dest)),
    (CType::Int, 1, 62, Some(Field::ImageWidth)), (CType::Int, 1, 62, Some(Field::ImageHeight)),
    (CType::Int, 1, 62, Some(Field::InputComponents)), (CType::Int, 1, 62, Some(Field::InColorSpace)),
    (CType::Double, 1, 62, None), // input_gamma
    (CType::Int, 1, 70, Some(Field::ScaleNum)), (CType::Int, 1, 70, Some(Field::ScaleDenom)),
    (CType::Int, 2, 70, None), // jpeg_width, jpeg_height
    (CType::Int, 1, 62, Some(Field::DataPrecision)), (CType::Int, 1, 62, Some(Field::NumComponents)),
    (CType::Int, 1, 62, Some(Field::JpegColorSpace)), (CType::Ptr, 1, 62, Some(Field::CompInfo)),
    (CType::Ptr, 4, 62, Some(Field::QuantTblPtrs)),
    (CType::Int, 4, 70, None), // q_scale_factor
    (CType::Ptr, 4, 62, Some(Field::DcHuffTblPtrs)), (CType::Ptr, 4, 62, Some(Field::AcHuffTblPtrs)),
    (CType::U8, 48, 62, None), // arith_dc_L, arith_dc_U, arith_ac_K
    (CType::Int, 1, 62, Some(Field::NumScans)), (CType::Ptr, 1, 62, Some(Field::ScanInfo)),
    (CType::Int, 1, 62, Some(Field::RawDataIn)), (CType::Int, 1, 62, Some(Field::ArithCode)),
    (CType::Int, 1, 62, Some(Field::OptimizeCoding)), (CType::Int, 1, 62, Some(Field::Ccir601Sampling)),
    (CType::Int, 1, 70, Some(Field::DoFancyDownsampling)),
    (CType::Int, 1, 62, Some(Field::SmoothingFactor)), (CType::Int, 1, 62, Some(Field::DctMethod)),
    (CType::Int, 1, 62, Some(Field::RestartInterval)), (CType::Int, 1, 62, Some(Field::RestartInRows)),
    (CType::Int, 1, 62, Some(Field::WriteJfifHeader)),
    (CType::U8, 1, 62, Some(Field::JfifMajorVersion)), (CType::U8, 1, 62, Some(Field::JfifMinorVersion)),
    (CType::U8, 1, 62, Some(Field::DensityUnit)),
    (CType::U16, 1, 62, Some(Field::XDensity)), (CType::U16, 1, 62, Some(Field::YDensity)),
    (CType::Int, 1, 62, Some(Field::WriteAdobeMarker)),
    (CType::Int, 1, 62, Some(Field::NextScanline)),
    (CType::Int, 3, 62, None), // progressive_mode, max_h/v_samp_factor
    (CType::Int, 2, 70, None), // min_DCT_h/v_scaled_size
    (CType::Int, 2, 62, None), // total_iMCU_rows, comps_in_scan
    (CType::Ptr, 4, 62, None), // cur_comp_info
    (CType::Int, 3, 62, None), // MCUs_per_row, MCU_rows_in_scan, blocks_in_MCU
    (CType::Int, 10, 62, None), // MCU_membership
    (CType::Int, 1, 62, Some(Field::Ss)), (CType::Int, 3, 62, None), // Ss, Se, Ah, Al
    (CType::Int, 1, 80, None), (CType::Ptr, 1, 80, None), (CType::Int, 1, 80, None), // block_size, natural_order, lim_Se
    (CType::Ptr, 10, 62, None), // master .. entropy, script_space
    (CType::Int, 1, 62, None), // script_space_size
];

/// `jpeg_component_info`: the seven ints we read, then the rest (for its size).
#[rustfmt::skip]
const COMPONENT: &[Member] = &[
    (CType::Int, 7, 62, None), // component_id .. ac_tbl_no
    (CType::Int, 2, 62, None), // width/height_in_blocks
    (CType::Int, 1, 62, None), // DCT_scaled_size (7+: DCT_h_scaled_size)
    (CType::Int, 1, 70, None), // DCT_v_scaled_size
    (CType::Int, 3, 62, None), // downsampled_width/height, component_needed
    (CType::Int, 6, 62, None), // MCU_width .. last_row_height
    (CType::Ptr, 2, 62, None), // quant_table, dct_table
];

/// Where `dest` is: among the common fields, the same in every ABI.
pub fn dest_offset() -> usize {
    static AT: OnceLock<usize> = OnceLock::new();
    *AT.get_or_init(|| {
        Abi::new(62)
            .offset(Field::Dest)
            .expect("dest is a common field")
    })
}

/// Offsets of one ABI.
#[derive(Debug)]
pub struct Abi {
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

impl Abi {
    fn new(version: u32) -> Abi {
        let (offsets, size) = lay_out(COMPRESS, version);
        Abi {
            version,
            offsets,
            size,
            component_size: lay_out(COMPONENT, version).1,
        }
    }

    /// The ABI a program built against `version` of libjpeg uses, if we know it and its
    /// struct has the size the program says.
    pub fn select(version: i32, structsize: usize) -> Option<&'static Abi> {
        static ABIS: OnceLock<[Abi; 3]> = OnceLock::new();
        let all = ABIS.get_or_init(|| [Abi::new(62), Abi::new(70), Abi::new(80)]);
        all.iter()
            .find(|l| l.version as i32 == version && l.size == structsize)
    }

    /// The offset of `f`; None when this ABI lacks it (the 7+ fields in 6.2).
    pub fn offset(&self, f: Field) -> Option<usize> {
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
            let l = Abi::new(version);
            assert_eq!(l.size, size, "v{version}");
            assert!(Abi::select(version as i32, size).is_some());
            if next_scanline != 0 {
                assert_eq!(l.offset(Field::NextScanline), Some(next_scanline));
            }
        }
        assert!(Abi::select(62, 584).is_none());
        assert!(Abi::select(90, 584).is_none());
        assert_eq!(Abi::new(62).offset(Field::ScaleNum), None);
    }
}
