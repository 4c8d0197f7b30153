/* Prints where libjpeg's compress object keeps the fields the drop-in uses, as the C
 * compiler lays them out for the ABI jpeglib.h was built for (-Iabi -DAMLJPEG_ABI=62|70|80).
 * The drop-in's own layout table must agree (preload/tests/layout.rs). */
#include <stddef.h>
#include <stdio.h>
#include <jpeglib.h>

#define F(name, member) printf("%s %zu\n", name, offsetof(struct jpeg_compress_struct, member))

int main(void) {
    printf("version %d\n", JPEG_LIB_VERSION);
    printf("size %zu\n", sizeof(struct jpeg_compress_struct));
    printf("component_size %zu\n", sizeof(jpeg_component_info));
    F("Err", err); F("Progress", progress); F("ClientData", client_data); F("GlobalState", global_state); F("Dest", dest);
    F("ImageWidth", image_width); F("ImageHeight", image_height);
    F("InputComponents", input_components); F("InColorSpace", in_color_space);
#if JPEG_LIB_VERSION >= 70
    F("ScaleNum", scale_num); F("ScaleDenom", scale_denom);
#endif
    F("DataPrecision", data_precision); F("NumComponents", num_components);
    F("JpegColorSpace", jpeg_color_space); F("CompInfo", comp_info);
    F("QuantTblPtrs", quant_tbl_ptrs); F("DcHuffTblPtrs", dc_huff_tbl_ptrs);
    F("AcHuffTblPtrs", ac_huff_tbl_ptrs); F("NumScans", num_scans); F("ScanInfo", scan_info);
    F("RawDataIn", raw_data_in); F("ArithCode", arith_code); F("OptimizeCoding", optimize_coding);
    F("Ccir601Sampling", CCIR601_sampling); F("SmoothingFactor", smoothing_factor);
    F("DctMethod", dct_method);
#if JPEG_LIB_VERSION >= 70
    F("DoFancyDownsampling", do_fancy_downsampling);
#endif
    F("RestartInterval", restart_interval); F("RestartInRows", restart_in_rows);
    F("WriteJfifHeader", write_JFIF_header); F("JfifMajorVersion", JFIF_major_version);
    F("JfifMinorVersion", JFIF_minor_version); F("DensityUnit", density_unit);
    F("XDensity", X_density); F("YDensity", Y_density);
    F("WriteAdobeMarker", write_Adobe_marker); F("NextScanline", next_scanline);
    F("Ss", Ss);
    return 0;
}
