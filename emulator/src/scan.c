/* The entropy-coded scan of Y/Cb/Cr planes: libjpeg-turbo's SIMD DCT (with a table of 1s:
 * the DCT rounded to integers) and Huffman coder (standard tables), with the hardware's
 * quantisation by 16-bit reciprocals in between. The emulator's fast path (see scan.rs).
 * Only the bytes between SOS and EOI are used; the emulator writes the driver's own header. */
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jpeglib.h"

struct error_trap {
  struct jpeg_error_mgr mgr;
  jmp_buf back;
  char *message; /* JMSG_LENGTH_MAX bytes */
};

/* libjpeg's default error_exit ends the process: jump back to the caller instead. */
static void trap_error_exit(j_common_ptr cinfo) {
  struct error_trap *trap = (struct error_trap *)cinfo->err;
  (*cinfo->err->format_message)(cinfo, trap->message);
  longjmp(trap->back, 1);
}

static void silent_output(j_common_ptr cinfo) { (void)cinfo; }

/* Finds the entropy-coded data in a whole JPEG: after the SOS segment, before EOI. */
static int find_scan(const unsigned char *jpeg, unsigned long len, unsigned long *start,
                     unsigned long *end) {
  unsigned long at = 2; /* after SOI */
  while (at + 4 <= len) {
    if (jpeg[at] != 0xFF) return -1;
    unsigned marker = jpeg[at + 1];
    unsigned long seg = ((unsigned long)jpeg[at + 2] << 8) | jpeg[at + 3];
    if (seg < 2 || at + 2 + seg > len) return -1;
    at += 2 + seg;
    if (marker == 0xDA) {
      if (len < at + 2 || jpeg[len - 2] != 0xFF || jpeg[len - 1] != 0xD9) return -1;
      *start = at;
      *end = len - 2;
      return 0;
    }
  }
  return -1;
}

/* The entropy encoder's method table: libjpeg's module interface (structure.txt), which
 * jpeglib.h leaves opaque. Only encode_mcu is replaced. */
struct entropy_methods {
  void (*start_pass)(j_compress_ptr cinfo, boolean gather_statistics);
  boolean (*encode_mcu)(j_compress_ptr cinfo, JBLOCKROW *MCU_data);
  void (*finish_pass)(j_compress_ptr cinfo);
};

/* One band of MCU rows. The MCUs of a leading row are only watched: their last DC per
 * component becomes the predictor the band starts from, as in the whole frame. After the
 * band's last MCU comes a sentinel MCU of flat blocks (DC difference 0, end of block) whose
 * bits are known and end in a 0 (the standard chroma EOB code is 00): the 1s after it are
 * the padding, so the band's exact length in bits is known and bands join at bit
 * granularity. */
struct band {
  boolean (*encode_mcu)(j_compress_ptr cinfo, JBLOCKROW *MCU_data);
  const unsigned short *reciprocals[3]; /* per component, natural order */
  long watch_mcus, mcus_left;
  int last_dc[3]; /* the last DC libjpeg coded per component (offset applied) */
  int offset[3];  /* subtracted from every DC: the band then codes the frame's DC diffs */
  JBLOCK sentinel[C_MAX_BLOCKS_IN_MCU];
  JBLOCKROW sentinel_rows[C_MAX_BLOCKS_IN_MCU];
};

/* The hardware's quantisation of DCT coefficients: |c| times the reciprocal, rounded. */
#define QUANTIZE_BODY                                                 \
  int k;                                                              \
  for (k = 0; k < 64; k++) {                                          \
    int v = block[k];                                                 \
    int a = v < 0 ? -v : v;                                           \
    int m = (int)(((unsigned)a * reciprocal[k] + 0x8000u) >> 16);     \
    block[k] = (JCOEF)(v < 0 ? -m : m);                               \
  }

static void quantize_plain(JCOEF *block, const unsigned short *reciprocal) { QUANTIZE_BODY }

#if defined(__x86_64__) && defined(__GNUC__)
/* The same loop in AVX2's 8 lanes (SSE2 has no 32-bit multiply to vectorise it with). */
__attribute__((target("avx2"))) static void quantize_avx2(JCOEF *block,
                                                          const unsigned short *reciprocal) {
  QUANTIZE_BODY
}

static void quantize(JCOEF *block, const unsigned short *reciprocal) {
  static int has_avx2 = -1;
  if (has_avx2 < 0) has_avx2 = __builtin_cpu_supports("avx2");
  if (has_avx2)
    quantize_avx2(block, reciprocal);
  else
    quantize_plain(block, reciprocal);
}
#else
#define quantize quantize_plain
#endif

static boolean band_encode_mcu(j_compress_ptr cinfo, JBLOCKROW *MCU_data) {
  struct band *band = (struct band *)cinfo->client_data;
  int blk;
  for (blk = 0; blk < cinfo->blocks_in_MCU; blk++)
    quantize(MCU_data[blk][0], band->reciprocals[cinfo->MCU_membership[blk]]);
  if (band->watch_mcus > 0) {
    band->watch_mcus--;
    for (blk = 0; blk < cinfo->blocks_in_MCU; blk++)
      band->offset[cinfo->MCU_membership[blk]] = MCU_data[blk][0][0];
    return TRUE;
  }
  for (blk = 0; blk < cinfo->blocks_in_MCU; blk++) {
    int c = cinfo->MCU_membership[blk];
    MCU_data[blk][0][0] = (JCOEF)(MCU_data[blk][0][0] - band->offset[c]);
    band->last_dc[c] = MCU_data[blk][0][0];
  }
  if (!(*band->encode_mcu)(cinfo, MCU_data)) return FALSE;
  if (--band->mcus_left > 0) return TRUE;
  for (blk = 0; blk < cinfo->blocks_in_MCU; blk++) {
    memset(band->sentinel[blk], 0, sizeof(JBLOCK));
    band->sentinel[blk][0] = (JCOEF)band->last_dc[cinfo->MCU_membership[blk]];
    band->sentinel_rows[blk] = &band->sentinel[blk];
  }
  return (*band->encode_mcu)(cinfo, band->sentinel_rows);
}

/* The length of symbol 0's code in a Huffman table (DC: difference 0; AC: end of block). */
static unsigned zero_code_length(const JHUFF_TBL *table) {
  int length, i, k = 0;
  for (length = 1; length <= 16; length++)
    for (i = 0; i < table->bits[length]; i++)
      if (table->huffval[k++] == 0) return (unsigned)length;
  return 0;
}

/* Encodes MCU rows [first_row, first_row + rows) of 4:2:x planes (luma sampled 2 x v_samp,
 * chroma 1 x 1), `width` (a multiple of 16) wide, quantised with the natural-order
 * reciprocals `luma_r` and `chroma_r`, coded with the standard Huffman tables. A band after the first starts from the
 * DC predictors the frame has there (its row above is transformed to learn them), so bands
 * joined at bit granularity make the frame's scan. On success returns 0, a malloc'd JPEG in
 * *out (free with free()) whose scan is [*scan_start, *scan_end) and ends with the sentinel
 * MCU of *sentinel_bits bits, then padding; on failure returns -1 with the reason in
 * `message`. */
int amljpeg_emu_turbo_band(const unsigned char *y, size_t y_stride, const unsigned char *cb,
                           const unsigned char *cr, size_t c_stride, unsigned width,
                           int v_samp, unsigned first_row, unsigned rows,
                           const unsigned short luma_r[64], const unsigned short chroma_r[64],
                           unsigned char **out, unsigned long *out_len,
                           unsigned long *scan_start, unsigned long *scan_end,
                           unsigned *sentinel_bits, char *message) {
  struct jpeg_compress_struct cinfo;
  struct error_trap trap;
  struct band band;
  struct entropy_methods *entropy;
  unsigned int table[64];
  JSAMPROW row_ptrs[3][16];
  JSAMPARRAY planes[3] = {row_ptrs[0], row_ptrs[1], row_ptrs[2]};
  /* libjpeg replaces a buffer that fills up with a bigger one of its own (keeping the first). */
  unsigned char *volatile buffer = NULL, *volatile first_buffer = NULL;
  unsigned long buffer_len = 0;
  unsigned watched = first_row > 0 ? 1 : 0, luma_rows = 8 * (unsigned)v_samp, row;
  unsigned flat_bits[3];
  int i, c;

  *out = NULL;
  memset(&cinfo, 0, sizeof cinfo);
  memset(&band, 0, sizeof band);
  cinfo.err = jpeg_std_error(&trap.mgr);
  trap.mgr.error_exit = trap_error_exit;
  trap.mgr.output_message = silent_output;
  trap.message = message;
  if (setjmp(trap.back)) {
    jpeg_destroy_compress(&cinfo);
    if (buffer != first_buffer) free(buffer);
    free(first_buffer);
    return -1;
  }
  jpeg_create_compress(&cinfo);
  /* Room for a noisy band at high quality, so the destination rarely grows (and copies). */
  buffer_len = (unsigned long)width * (rows + 1) * luma_rows + 4096;
  buffer = malloc(buffer_len);
  first_buffer = buffer;
  jpeg_mem_dest(&cinfo, (unsigned char **)&buffer, &buffer_len);
  cinfo.image_width = width;
  cinfo.image_height = (rows + watched) * luma_rows;
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_YCbCr;
  jpeg_set_defaults(&cinfo);
  jpeg_set_colorspace(&cinfo, JCS_YCbCr);
  cinfo.raw_data_in = TRUE;
  cinfo.dct_method = JDCT_FLOAT;
  cinfo.optimize_coding = FALSE;
  cinfo.write_JFIF_header = FALSE;
  /* Quantisers of 1: libjpeg-turbo hands over the DCT rounded to integers. */
  for (i = 0; i < 64; i++) table[i] = 1;
  jpeg_add_quant_table(&cinfo, 0, table, 100, FALSE);
  for (c = 0; c < 3; c++) {
    jpeg_component_info *comp = &cinfo.comp_info[c];
    comp->h_samp_factor = c == 0 ? 2 : 1;
    comp->v_samp_factor = c == 0 ? v_samp : 1;
    comp->quant_tbl_no = 0;
    comp->dc_tbl_no = comp->ac_tbl_no = c == 0 ? 0 : 1;
    band.reciprocals[c] = c == 0 ? luma_r : chroma_r;
    flat_bits[c] = zero_code_length(cinfo.dc_huff_tbl_ptrs[comp->dc_tbl_no]) +
                   zero_code_length(cinfo.ac_huff_tbl_ptrs[comp->ac_tbl_no]);
  }
  jpeg_start_compress(&cinfo, TRUE);
  /* The entropy encoder is ready for its only pass: watch its MCUs. */
  entropy = (struct entropy_methods *)cinfo.entropy;
  band.encode_mcu = entropy->encode_mcu;
  band.watch_mcus = watched ? (long)(width / 16) : 0;
  band.mcus_left = (long)(width / 16) * (long)rows;
  cinfo.client_data = &band;
  entropy->encode_mcu = band_encode_mcu;
  for (row = first_row - watched; cinfo.next_scanline < cinfo.image_height; row++) {
    for (i = 0; i < (int)luma_rows; i++)
      row_ptrs[0][i] = (JSAMPROW)(y + (size_t)(row * luma_rows + i) * y_stride);
    for (i = 0; i < 8; i++) {
      row_ptrs[1][i] = (JSAMPROW)(cb + (size_t)(row * 8 + i) * c_stride);
      row_ptrs[2][i] = (JSAMPROW)(cr + (size_t)(row * 8 + i) * c_stride);
    }
    jpeg_write_raw_data(&cinfo, planes, luma_rows);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  if (buffer != first_buffer) free(first_buffer);
  if (find_scan(buffer, buffer_len, scan_start, scan_end) != 0) {
    snprintf(message, JMSG_LENGTH_MAX, "libjpeg-turbo wrote no scan");
    free(buffer);
    return -1;
  }
  *out = buffer;
  *out_len = buffer_len;
  *sentinel_bits = 2 * v_samp * flat_bits[0] + flat_bits[1] + flat_bits[2];
  return 0;
}
