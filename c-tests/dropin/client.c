/* A legacy libjpeg program, to try the drop-in with: encodes a PPM the way the programs the
 * drop-in serves do (memory and stdio destinations, markers, raw YCbCr data, extended RGB
 * spaces, a suspending destination, progressive, custom tables), reads the result back with
 * libjpeg in the same process, and checks libjpeg's error contract (error_exit + longjmp).
 *
 *   client MODE in.ppm out.jpg [quality]
 *
 * MODE: mem | stdio | raw420 | raw422 | ycc | bgrx | xrgb | progressive | linear | suspend |
 * errors | icc (an ICC profile of two markers) | interleave (a second image encoded while the
 * first is between its last row and jpeg_finish_compress) | cancel (a progress monitor that
 * cancels a second pass over the rows, then the object is reused) | lossless (libjpeg-turbo 3's
 * jpeg_enable_lossless). Prints "ok ..." and exits 0 on success. */
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

struct err { struct jpeg_error_mgr pub; jmp_buf jump; int exits; };

static void on_error(j_common_ptr c) {
    struct err *e = (struct err *)c->err;
    e->exits++;
    longjmp(e->jump, 1);
}

static void die(const char *what) { fprintf(stderr, "client: %s\n", what); exit(1); }

static unsigned char *read_ppm(const char *path, int *w, int *h) {
    FILE *f = fopen(path, "rb");
    int max;
    if (!f || fscanf(f, "P6 %d %d %d", w, h, &max) != 3 || fgetc(f) == EOF) die("bad ppm");
    unsigned char *px = malloc((size_t)*w * *h * 3);
    if (fread(px, 3, (size_t)*w * *h, f) != (size_t)*w * *h) die("short ppm");
    fclose(f);
    return px;
}

static void write_file(const char *path, const unsigned char *data, unsigned long len) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len) die("cannot write output");
    fclose(f);
}

static unsigned char clamp(double v) { return v < 0 ? 0 : v > 255 ? 255 : (unsigned char)(v + 0.5); }

static void to_ycc(const unsigned char *p, unsigned char *o) {
    double r = p[0], g = p[1], b = p[2];
    o[0] = clamp(0.299 * r + 0.587 * g + 0.114 * b);
    o[1] = clamp(-0.168736 * r - 0.331264 * g + 0.5 * b + 128);
    o[2] = clamp(0.5 * r - 0.418688 * g - 0.081312 * b + 128);
}

/* A destination that suspends: a small window the "caller" drains, like Pillow's. */
struct window { struct jpeg_destination_mgr pub; unsigned char buf[4096]; FILE *out; };
static void w_init(j_compress_ptr c) { (void)c; }
static boolean w_empty(j_compress_ptr c) { (void)c; return FALSE; }
static void w_term(j_compress_ptr c) { (void)c; }
static void w_drain(struct window *w) {
    size_t n = sizeof w->buf - w->pub.free_in_buffer;
    if (fwrite(w->buf, 1, n, w->out) != n) die("drain");
    w->pub.next_output_byte = w->buf;
    w->pub.free_in_buffer = sizeof w->buf;
}

/* A made-up profile long enough for two APP2 markers. */
#define ICC_LEN 70000
static JOCTET icc_profile[ICC_LEN];

static void make_icc(void) {
    for (int i = 0; i < ICC_LEN; i++) icc_profile[i] = (JOCTET)(i * 7 + i / 251);
}

/* Whether the JPEG decodes to w x h, with our APP1 and COM markers when `want_app1` and with
 * exactly our ICC profile (read back with libjpeg's own reader) when `want_icc`. */
static int check_decodes(const unsigned char *jpeg, unsigned long len, int w, int h, int want_app1, int want_icc) {
    struct jpeg_decompress_struct d;
    struct err e = {0};
    d.err = jpeg_std_error(&e.pub);
    e.pub.error_exit = on_error;
    if (setjmp(e.jump)) { jpeg_destroy_decompress(&d); return 0; }
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, jpeg, len);
    jpeg_save_markers(&d, JPEG_APP0 + 1, 0xFFFF);
    jpeg_save_markers(&d, JPEG_COM, 0xFFFF);
    jpeg_save_markers(&d, JPEG_APP0 + 2, 0xFFFF);
    jpeg_read_header(&d, TRUE);
    int app1 = 0, com = 0, icc_ok = 1;
    if (want_icc) {
        JOCTET *icc = NULL;
        unsigned int icc_len = 0;
        icc_ok = jpeg_read_icc_profile(&d, &icc, &icc_len) && icc_len == ICC_LEN && !memcmp(icc, icc_profile, ICC_LEN);
        free(icc);
    }
    for (jpeg_saved_marker_ptr m = d.marker_list; m; m = m->next) {
        if (m->marker == JPEG_APP0 + 1 && m->data_length == 12 && !memcmp(m->data, "Exif\0\0amljpg", 12)) app1 = 1;
        if (m->marker == JPEG_COM && m->data_length == 5 && !memcmp(m->data, "hello", 5)) com = 1;
    }
    jpeg_start_decompress(&d);
    JSAMPLE *row = malloc((size_t)d.output_width * d.output_components);
    while (d.output_scanline < d.output_height) jpeg_read_scanlines(&d, &row, 1);
    free(row);
    jpeg_finish_decompress(&d);
    int ok = (int)d.output_width == w && (int)d.output_height == h && (!want_app1 || (app1 && com)) && icc_ok;
    jpeg_destroy_decompress(&d);
    return ok;
}

static void markers(j_compress_ptr c) {
    jpeg_write_marker(c, JPEG_APP0 + 1, (const JOCTET *)"Exif\0\0amljpg", 12);
    jpeg_write_m_header(c, JPEG_COM, 5);
    for (const char *s = "hello"; *s; s++) jpeg_write_m_byte(c, *s);
}

/* Encodes with the settings of `mode`; returns the JPEG in memory. */
static void encode(const char *mode, const unsigned char *px, int w, int h, int q,
                   unsigned char **out, unsigned long *out_len, const char *path) {
    struct jpeg_compress_struct c;
    struct err e = {0};
    c.err = jpeg_std_error(&e.pub);
    e.pub.error_exit = on_error;
    if (setjmp(e.jump)) die("unexpected libjpeg error");
    jpeg_create_compress(&c);
    int raw = !strncmp(mode, "raw", 3);
    c.image_width = w;
    c.image_height = h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    if (!strcmp(mode, "bgrx")) { c.in_color_space = JCS_EXT_BGRX; c.input_components = 4; }
    if (!strcmp(mode, "xrgb")) { c.in_color_space = JCS_EXT_XRGB; c.input_components = 4; }
    if (!strcmp(mode, "ycc") || raw) c.in_color_space = JCS_YCbCr;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, q, TRUE);
    if (!strcmp(mode, "linear")) jpeg_set_linear_quality(&c, 37, TRUE);
    if (!strcmp(mode, "progressive")) jpeg_simple_progression(&c);
    if (!strcmp(mode, "raw422")) c.comp_info[0].v_samp_factor = 1;
    if (!strcmp(mode, "lossless")) {
#if LIBJPEG_TURBO_VERSION_NUMBER >= 3000000
        jpeg_enable_lossless(&c, 1, 0);
#else
        die("lossless needs libjpeg-turbo 3");
#endif
    }
    if (raw) { c.raw_data_in = TRUE; c.dct_method = JDCT_FASTEST; }
    FILE *f = NULL;
    struct window win;
    *out = NULL;
    *out_len = 0;
    if (!strcmp(mode, "stdio")) {
        if (!(f = fopen(path, "wb"))) die("open");
        jpeg_stdio_dest(&c, f);
    } else if (!strcmp(mode, "suspend")) {
        if (!(f = fopen(path, "wb"))) die("open");
        win.out = f;
        win.pub.init_destination = w_init;
        win.pub.empty_output_buffer = w_empty;
        win.pub.term_destination = w_term;
        win.pub.next_output_byte = win.buf;
        win.pub.free_in_buffer = sizeof win.buf;
        c.dest = &win.pub;
    } else {
        jpeg_mem_dest(&c, out, out_len);
    }
    jpeg_start_compress(&c, TRUE);
    markers(&c);
    if (!strcmp(mode, "icc")) jpeg_write_icc_profile(&c, icc_profile, ICC_LEN);
    int bpp = c.input_components;
    unsigned char *row = malloc((size_t)w * 4);
    if (raw) {
        /* One iMCU row of downsampled planes per call, padded to whole blocks. */
        int v2 = c.comp_info[0].v_samp_factor, lines = 8 * v2, cw = (w + 1) / 2, pw = (w + 15) / 16 * 16;
        JSAMPROW yr[16], ur[16], vr[16];
        for (int i = 0; i < 16; i++) { yr[i] = malloc(pw); ur[i] = malloc(pw / 2); vr[i] = malloc(pw / 2); }
        JSAMPARRAY planes[3] = {yr, ur, vr};
        for (int y0 = 0; y0 < h; y0 += lines) {
            for (int r = 0; r < lines; r++) {
                int y = y0 + r < h ? y0 + r : h - 1;
                for (int x = 0; x < pw; x++) {
                    unsigned char o[3];
                    to_ycc(px + ((size_t)y * w + (x < w ? x : w - 1)) * 3, o);
                    yr[r][x] = o[0];
                }
            }
            for (int r = 0; r < 8; r++) {
                for (int x = 0; x < pw / 2; x++) {
                    int y = y0 + r * v2 < h ? y0 + r * v2 : h - 1, xx = x < cw ? 2 * x : 2 * (cw - 1);
                    unsigned char o[3];
                    to_ycc(px + ((size_t)y * w + xx) * 3, o);
                    ur[r][x] = o[1];
                    vr[r][x] = o[2];
                }
            }
            if (jpeg_write_raw_data(&c, planes, lines) != (JDIMENSION)lines) die("raw data not taken");
        }
        for (int i = 0; i < 16; i++) { free(yr[i]); free(ur[i]); free(vr[i]); }
    } else {
        while (c.next_scanline < c.image_height) {
            const unsigned char *p = px + (size_t)c.next_scanline * w * 3;
            for (int x = 0; x < w; x++) {
                unsigned char *o = row + x * bpp;
                if (!strcmp(mode, "bgrx")) { o[0] = p[3 * x + 2]; o[1] = p[3 * x + 1]; o[2] = p[3 * x]; o[3] = 0; }
                else if (!strcmp(mode, "xrgb")) { o[0] = 0; memcpy(o + 1, p + 3 * x, 3); }
                else if (!strcmp(mode, "ycc")) to_ycc(p + 3 * x, o);
                else memcpy(o, p + 3 * x, 3);
            }
            JSAMPROW r = row;
            if (jpeg_write_scanlines(&c, &r, 1) != 1) {
                if (strcmp(mode, "suspend")) die("scanline not taken");
                w_drain(&win); /* suspended: drain and offer the same row again */
            }
        }
    }
    if (f && !strcmp(mode, "suspend")) w_drain(&win);
    jpeg_finish_compress(&c);
    if (f && !strcmp(mode, "suspend")) w_drain(&win);
    jpeg_destroy_compress(&c);
    free(row);
    if (f) {
        fclose(f);
        f = fopen(path, "rb");
        fseek(f, 0, SEEK_END);
        *out_len = ftell(f);
        rewind(f);
        *out = malloc(*out_len);
        if (fread(*out, 1, *out_len, f) != *out_len) die("read back");
        fclose(f);
    }
}

/* Rows of `px` to an object that is past jpeg_start_compress. */
static void all_rows(j_compress_ptr c, const unsigned char *px, int w) {
    while (c->next_scanline < c->image_height) {
        JSAMPROW r = (JSAMPROW)(px + (size_t)c->next_scanline * w * 3);
        if (jpeg_write_scanlines(c, &r, 1) != 1) die("scanline not taken");
    }
}

static void start_rgb(j_compress_ptr c, struct err *e, int w, int h, int q,
                      unsigned char **buf, unsigned long *len) {
    c->err = jpeg_std_error(&e->pub);
    e->pub.error_exit = on_error;
    jpeg_create_compress(c);
    c->image_width = w;
    c->image_height = h;
    c->input_components = 3;
    c->in_color_space = JCS_RGB;
    jpeg_set_defaults(c);
    jpeg_set_quality(c, q, TRUE);
    jpeg_mem_dest(c, buf, len);
}

/* Two compress objects in one thread: B's whole image while A waits for its finish (as a
 * program keeping one object per stream does). Returns A's JPEG. */
static void interleave(const unsigned char *px, int w, int h, int q, unsigned char **out, unsigned long *out_len) {
    struct jpeg_compress_struct a, b;
    struct err ea = {0}, eb = {0};
    unsigned char *bbuf = NULL;
    unsigned long blen = 0;
    *out = NULL;
    *out_len = 0;
    if (setjmp(ea.jump)) die("unexpected libjpeg error (first image)");
    if (setjmp(eb.jump)) die("unexpected libjpeg error (second image)");
    start_rgb(&a, &ea, w, h, q, out, out_len);
    start_rgb(&b, &eb, w, h, q, &bbuf, &blen);
    jpeg_start_compress(&a, TRUE);
    markers(&a);
    all_rows(&a, px, w);
    jpeg_start_compress(&b, TRUE);
    all_rows(&b, px, w);
    jpeg_finish_compress(&b);
    jpeg_destroy_compress(&b);
    if (!check_decodes(bbuf, blen, w, h, 0, 0)) die("the second image does not decode");
    free(bbuf);
    jpeg_finish_compress(&a);
    jpeg_destroy_compress(&a);
}

/* A progress monitor that cancels (longjmp) once the rows are gone over a second time, as
 * happens when the drop-in's fallback re-encodes them; the program then aborts the image and
 * encodes it again on the same object, into the same destination. */
static struct { struct jpeg_progress_mgr pub; long calls, cancel_at; int cancelled; jmp_buf jump; } monitor;

static void on_progress(j_common_ptr c) {
    (void)c;
    if (++monitor.calls == monitor.cancel_at) {
        monitor.cancelled = 1;
        longjmp(monitor.jump, 1);
    }
}

static void cancel(const unsigned char *px, int w, int h, int q, unsigned char **out, unsigned long *out_len) {
    static struct jpeg_compress_struct c;
    static struct err e;
    *out = NULL;
    *out_len = 0;
    if (setjmp(e.jump)) die("unexpected libjpeg error");
    start_rgb(&c, &e, w, h, q, out, out_len);
    struct jpeg_destination_mgr *dest = c.dest;
    monitor.pub.progress_monitor = on_progress;
    monitor.cancel_at = h + h / 2;
    c.progress = &monitor.pub;
    if (!setjmp(monitor.jump)) {
        jpeg_start_compress(&c, TRUE);
        markers(&c);
        all_rows(&c, px, w);
        jpeg_finish_compress(&c);
    }
    if (monitor.cancelled) {
        jpeg_abort_compress(&c);
        if (c.dest != dest) die("the destination is not the program's after the cancel");
        c.progress = NULL;
        jpeg_mem_dest(&c, out, out_len);
        jpeg_start_compress(&c, TRUE);
        markers(&c);
        all_rows(&c, px, w);
        jpeg_finish_compress(&c);
        printf("cancelled once\n");
    }
    jpeg_destroy_compress(&c);
}

/* libjpeg's error contract: misuse reaches error_exit (longjmp) or emit_message, the object
 * can be destroyed afterwards, and the next image works. */
static void errors(const unsigned char *px, int w, int h) {
    for (volatile int misuse = 0; misuse < 3; misuse++) {
        struct jpeg_compress_struct c;
        struct err e = {0};
        unsigned char *buf = NULL;
        unsigned long len = 0;
        c.err = jpeg_std_error(&e.pub);
        e.pub.error_exit = on_error;
        if (setjmp(e.jump)) {
            jpeg_destroy_compress(&c);
            free(buf);
            if (misuse == 2) die("a warning became an error");
            continue;
        }
        jpeg_create_compress(&c);
        c.image_width = w;
        c.image_height = h;
        c.input_components = 3;
        c.in_color_space = JCS_RGB;
        jpeg_set_defaults(&c);
        jpeg_mem_dest(&c, &buf, &len);
        jpeg_start_compress(&c, TRUE);
        JSAMPROW r = (JSAMPROW)px;
        jpeg_write_scanlines(&c, &r, 1);
        if (misuse == 0) jpeg_finish_compress(&c); /* too few scanlines: error */
        if (misuse == 1) markers(&c);              /* a marker after the first row: error */
        for (int y = 1; y < h; y++) { r = (JSAMPROW)(px + (size_t)y * w * 3); jpeg_write_scanlines(&c, &r, 1); }
        if (jpeg_write_scanlines(&c, &r, 1) != 0) die("a row past the end was taken");
        if (e.pub.num_warnings != 1) die("no warning for a row past the end");
        jpeg_finish_compress(&c);
        jpeg_destroy_compress(&c);
        if (!check_decodes(buf, len, w, h, 0, 0)) die("the image after a warning does not decode");
        free(buf);
        if (e.exits != 0) die("error_exit called for a warning");
    }
}

int main(int argc, char **argv) {
    if (argc < 4) die("usage: client MODE in.ppm out.jpg [quality]");
    int w, h, q = argc > 4 ? atoi(argv[4]) : 85;
    unsigned char *px = read_ppm(argv[2], &w, &h), *jpeg;
    unsigned long len;
    make_icc();
    if (!strcmp(argv[1], "errors")) {
        errors(px, w, h);
        strcpy(argv[1], "mem");
    }
    if (!strcmp(argv[1], "many")) {
        /* A picture per compress object, 100 of them, as motion or mjpg-streamer write them. */
        for (int i = 0; i < 99; i++) {
            encode("mem", px, w, h, q, &jpeg, &len, argv[3]);
            if (!check_decodes(jpeg, len, w, h, 1, 0)) die("a picture does not decode");
            free(jpeg);
        }
        strcpy(argv[1], "mem");
    }
    if (!strcmp(argv[1], "interleave")) interleave(px, w, h, q, &jpeg, &len);
    else if (!strcmp(argv[1], "cancel")) cancel(px, w, h, q, &jpeg, &len);
    else encode(argv[1], px, w, h, q, &jpeg, &len, argv[3]);
    write_file(argv[3], jpeg, len);
    if (!check_decodes(jpeg, len, w, h, 1, !strcmp(argv[1], "icc")))
        die("the JPEG does not decode with its markers (and ICC profile)");
    printf("ok %s %dx%d %lu bytes\n", argv[1], w, h, len);
    free(jpeg);
    free(px);
    return 0;
}
