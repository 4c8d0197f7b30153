/* Helpers for the C tests: synthetic frames in every format, decoding with libjpeg, PSNR. */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <math.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

static int failures = 0;
static int checks = 0;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        checks++;                                                          \
        if (!(cond)) {                                                     \
            failures++;                                                    \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                  \
            fprintf(stderr, "\n");                                         \
        }                                                                  \
    } while (0)

static int finish(const char *name) {
    printf("%s: %d passed, %d failed\n", name, checks - failures, failures);
    return failures ? 1 : 0;
}

/* A smooth RGB test pattern with some edges. */
static void pattern_rgb(uint8_t *rgb, unsigned w, unsigned h) {
    for (unsigned y = 0; y < h; y++)
        for (unsigned x = 0; x < w; x++) {
            uint8_t *p = rgb + 3 * (y * w + x);
            p[0] = (uint8_t)(x * 255 / w);
            p[1] = (uint8_t)(y * 255 / h);
            p[2] = (uint8_t)((((x / 16) + (y / 16)) % 2) * 100 + 60);
        }
}

static uint8_t clamp8(double v) { return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)(v + 0.5); }

static void ycc(const uint8_t *p, double *y, double *cb, double *cr) {
    *y = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
    *cb = -0.168736 * p[0] - 0.331264 * p[1] + 0.5 * p[2] + 128;
    *cr = 0.5 * p[0] - 0.418688 * p[1] - 0.081312 * p[2] + 128;
}

/* Fills `out` (tightly packed, size from frame_size) with the RGB image in `format`
 * (an AML_JPEG_FORMAT_* value). Chroma is taken from the top-left pixel of each block. */
static size_t frame_size(int format, unsigned w, unsigned h) {
    size_t n = (size_t)w * h, cw = (w + 1) / 2, ch = (h + 1) / 2;
    switch (format) {
    case 0: case 1: return n * 3;
    case 2: case 3: return n * 4;
    case 4: case 5: return n + 2 * cw * ch;
    case 6: return n + 2 * cw * ch;
    case 7: return cw * 4 * h;
    default: return n;
    }
}

static void to_format(const uint8_t *rgb, unsigned w, unsigned h, int format, uint8_t *out) {
    size_t n = (size_t)w * h, cw = (w + 1) / 2, ch = (h + 1) / 2;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = rgb + 3 * i;
        double y, cb, cr;
        ycc(p, &y, &cb, &cr);
        switch (format) {
        case 0: memcpy(out + 3 * i, p, 3); break;
        case 1: out[3 * i] = p[2]; out[3 * i + 1] = p[1]; out[3 * i + 2] = p[0]; break;
        case 2: memcpy(out + 4 * i, p, 3); out[4 * i + 3] = 255; break;
        case 3: out[4 * i] = p[2]; out[4 * i + 1] = p[1]; out[4 * i + 2] = p[0]; out[4 * i + 3] = 0; break;
        case 4: case 5: case 6: case 8: out[i] = clamp8(y); break;
        default: break;
        }
    }
    if (format == 4 || format == 5 || format == 6) {
        size_t cstride = format == 6 ? cw : 2 * cw;
        for (size_t cy = 0; cy < ch; cy++)
            for (size_t cx = 0; cx < cw; cx++) {
                double y, cb, cr;
                ycc(rgb + 3 * (2 * cy * w + 2 * cx), &y, &cb, &cr);
                if (format == 6) {
                    out[n + cy * cstride + cx] = clamp8(cb);
                    out[n + cw * ch + cy * cstride + cx] = clamp8(cr);
                } else {
                    out[n + cy * cstride + 2 * cx] = clamp8(format == 4 ? cb : cr);
                    out[n + cy * cstride + 2 * cx + 1] = clamp8(format == 4 ? cr : cb);
                }
            }
    }
    if (format == 7) {
        for (size_t y = 0; y < h; y++)
            for (size_t cx = 0; cx < cw; cx++) {
                size_t x0 = 2 * cx, x1 = x0 + 1 < w ? x0 + 1 : x0;
                double y0, y1, cb, cr, t1, t2;
                ycc(rgb + 3 * (y * w + x0), &y0, &cb, &cr);
                ycc(rgb + 3 * (y * w + x1), &y1, &t1, &t2);
                uint8_t *q = out + y * cw * 4 + cx * 4;
                q[0] = clamp8(y0); q[1] = clamp8(cb); q[2] = clamp8(y1); q[3] = clamp8(cr);
            }
    }
}

struct decode_err { struct jpeg_error_mgr mgr; jmp_buf jump; };
static void on_decode_error(j_common_ptr cinfo) { longjmp(((struct decode_err *)cinfo->err)->jump, 1); }

/* Decodes `jpeg` with libjpeg into `out` (allocated, grey or RGB). Returns components, 0 on error. */
static int decode(const uint8_t *jpeg, size_t len, int grey, uint8_t **out, unsigned *w, unsigned *h) {
    struct jpeg_decompress_struct d;
    struct decode_err err;
    d.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = on_decode_error;
    *out = NULL;
    if (setjmp(err.jump)) { jpeg_destroy_decompress(&d); free(*out); *out = NULL; return 0; }
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, (unsigned char *)jpeg, (unsigned long)len);
    jpeg_read_header(&d, TRUE);
    int components = d.num_components;
    d.out_color_space = grey ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&d);
    *w = d.output_width; *h = d.output_height;
    size_t row = (size_t)d.output_width * d.output_components;
    *out = malloc(row * d.output_height);
    while (d.output_scanline < d.output_height) {
        JSAMPROW r = *out + row * d.output_scanline;
        jpeg_read_scanlines(&d, &r, 1);
    }
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    return components;
}

static double psnr(const uint8_t *a, const uint8_t *b, size_t n) {
    double se = 0;
    for (size_t i = 0; i < n; i++) { double d = (double)a[i] - b[i]; se += d * d; }
    return se == 0 ? 99 : 10 * log10(255.0 * 255.0 * n / se);
}

#endif
