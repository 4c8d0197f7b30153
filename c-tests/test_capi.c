/* The C contract of amljpeg.h: every format, every error path, several threads. */
#define _GNU_SOURCE
#include "amljpeg.h"
#include "testutil.h"
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const char *backend_name(int b) { return b == AML_JPEG_BACKEND_SOFTWARE ? "software" : b == AML_JPEG_BACKEND_HARDWARE ? "hardware" : "auto"; }
static int backend = AML_JPEG_BACKEND_SOFTWARE;
static int subsampling = AML_JPEG_SUBSAMPLING_420;

/* Encodes the pattern in `format` and checks the JPEG decodes close to the input. */
static void check_format(aml_jpeg *enc, int format, unsigned w, unsigned h) {
    uint8_t *rgb = malloc((size_t)w * h * 3);
    size_t size = frame_size(format, w, h);
    uint8_t *frame = malloc(size);
    pattern_rgb(rgb, w, h);
    to_format(rgb, w, h, format, frame);
    const uint8_t *jpeg = NULL;
    size_t jpeg_len = 0;
    int st = aml_jpeg_encode(enc, frame, size, w, h, 0, format, 90, &jpeg, &jpeg_len);
    CHECK(st == AML_JPEG_OK, "format %d %ux%u: %s (%s)", format, w, h, aml_jpeg_strerror(st), aml_jpeg_last_error(enc));
    if (st == AML_JPEG_OK) {
        CHECK(jpeg_len > 100 && jpeg[0] == 0xFF && jpeg[1] == 0xD8, "SOI");
        CHECK(jpeg[jpeg_len - 2] == 0xFF && jpeg[jpeg_len - 1] == 0xD9, "EOI");
        int yuv = format >= 4;
        uint8_t *dec;
        unsigned dw, dh;
        int comps = decode(jpeg, jpeg_len, yuv, &dec, &dw, &dh);
        int used = -1;
        aml_jpeg_last_backend(enc, &used);
        /* Grey is one component in software; the hardware always codes three (neutral chroma). */
        int want = format == 8 && used == AML_JPEG_BACKEND_SOFTWARE ? 1 : 3;
        CHECK(comps == want, "format %d: %d components", format, comps);
        CHECK(dw == w && dh == h, "format %d: decoded %ux%u", format, dw, dh);
        if (dec && dw == w && dh == h) {
            /* RGB formats: compare RGB; YUV and grey: compare decoded luma with the input luma. */
            double p;
            if (yuv) {
                uint8_t *luma = malloc((size_t)w * h);
                for (unsigned y = 0; y < h; y++)
                    for (unsigned x = 0; x < w; x++)
                        luma[y * w + x] = format == 7 ? frame[y * ((w + 1) / 2) * 4 + x * 2] : frame[y * w + x];
                p = psnr(dec, luma, (size_t)w * h);
                free(luma);
            } else {
                p = psnr(dec, rgb, (size_t)w * h * 3);
            }
            /* 4:2:0 of a 2x2 frame with four different colours loses much; larger frames must not. */
            CHECK(p > (w >= 8 && h >= 8 ? 30 : 12), "format %d %ux%u: PSNR %.2f dB", format, w, h, p);
        }
        free(dec);
        CHECK(used == AML_JPEG_BACKEND_HARDWARE || used == AML_JPEG_BACKEND_SOFTWARE, "last backend %d", used);
        CHECK(backend == AML_JPEG_BACKEND_AUTO || used == backend, "backend %d", used);
        /* AUTO with a device: the hardware serves every frame it can take. */
        int hw_can = w >= 16 && h >= 16 && subsampling != AML_JPEG_SUBSAMPLING_444;
        if (backend == AML_JPEG_BACKEND_AUTO && getenv("AMLJPEG_EXPECT_DEVICE") && hw_can)
            CHECK(used == AML_JPEG_BACKEND_HARDWARE, "AUTO %ux%u format %d: served by %d, not the hardware", w, h, format, used);
    }
    free(frame);
    free(rgb);
}

/* A small frame that must always encode: proves the handle still works. */
static void check_still_works(aml_jpeg *enc, const char *after) {
    uint8_t rgb[16 * 16 * 3];
    pattern_rgb(rgb, 16, 16);
    const uint8_t *jpeg = NULL;
    size_t len = 0;
    int st = aml_jpeg_encode(enc, rgb, sizeof rgb, 16, 16, 0, AML_JPEG_FORMAT_RGB24, 80, &jpeg, &len);
    CHECK(st == AML_JPEG_OK && len > 0, "handle broken after %s: %s", after, aml_jpeg_last_error(enc));
    CHECK(aml_jpeg_last_error(enc)[0] == '\0', "detail cleared after success");
}

#define EXPECT_STATUS(call, want, what)                                                          \
    do {                                                                                         \
        int st_ = (call);                                                                        \
        CHECK(st_ == (want), "%s: got %d (%s), want %d", what, st_, aml_jpeg_strerror(st_), want); \
        CHECK(aml_jpeg_last_error(enc)[0] != '\0', "%s: no detail message", what);              \
        check_still_works(enc, what);                                                            \
    } while (0)

static void check_errors(aml_jpeg *enc) {
    uint8_t px[64 * 64 * 4] = {0};
    const uint8_t *jpeg = (const uint8_t *)1;
    size_t len = 7;
    int inval = AML_JPEG_ERR_INVALID_ARGUMENT;
    EXPECT_STATUS(aml_jpeg_encode(enc, NULL, 48, 4, 4, 0, 0, 90, &jpeg, &len), inval, "NULL pixels");
    CHECK(jpeg == NULL && len == 0, "outputs cleared on failure");
    EXPECT_STATUS(aml_jpeg_encode(enc, px, 48, 4, 4, 0, 0, 90, NULL, &len), inval, "NULL jpeg");
    EXPECT_STATUS(aml_jpeg_encode(enc, px, 48, 4, 4, 0, 0, 90, &jpeg, NULL), inval, "NULL jpeg_len");
    EXPECT_STATUS(aml_jpeg_encode(enc, px, 47, 4, 4, 0, 0, 90, &jpeg, &len), inval, "len one short");
    EXPECT_STATUS(aml_jpeg_encode(enc, px, 0, 4, 4, 0, 0, 90, &jpeg, &len), inval, "len 0");
    EXPECT_STATUS(aml_jpeg_encode(enc, px, sizeof px, 0, 4, 0, 0, 90, &jpeg, &len), inval, "width 0");
    EXPECT_STATUS(aml_jpeg_encode(enc, px, sizeof px, 4, 0, 0, 0, 90, &jpeg, &len), inval, "height 0");
    EXPECT_STATUS(aml_jpeg_encode(enc, px, sizeof px, 70000, 4, 0, 0, 90, &jpeg, &len), inval, "width too large");
    EXPECT_STATUS(aml_jpeg_encode(enc, px, sizeof px, 4, 0xFFFFFFFFu, 0, 0, 90, &jpeg, &len), inval, "absurd height");
    EXPECT_STATUS(aml_jpeg_encode(enc, px, sizeof px, 4, 4, 11, 0, 90, &jpeg, &len), inval, "stride shorter than a row");
    EXPECT_STATUS(aml_jpeg_encode(enc, px, sizeof px, 60000, 60000, 0xFFFFFFFFu, 2, 90, &jpeg, &len), inval, "size overflow");
    EXPECT_STATUS(aml_jpeg_encode(enc, px, (size_t)-1, 4, 4, 0, 0, 90, &jpeg, &len), inval, "len beyond any buffer");
    EXPECT_STATUS(aml_jpeg_encode(enc, px, sizeof px, 4, 4, 0, 9, 90, &jpeg, &len), inval, "format 9");
    EXPECT_STATUS(aml_jpeg_encode(enc, px, sizeof px, 4, 4, 0, -1, 90, &jpeg, &len), inval, "format -1");
    EXPECT_STATUS(aml_jpeg_encode(enc, px, sizeof px, 4, 4, 0, 0, 0, &jpeg, &len), inval, "quality 0");
    EXPECT_STATUS(aml_jpeg_encode(enc, px, sizeof px, 4, 4, 0, 0, 101, &jpeg, &len), inval, "quality 101");
    uint8_t small[16];
    EXPECT_STATUS(aml_jpeg_encode_into(enc, px, sizeof px, 8, 8, 0, 0, 90, small, sizeof small, &len), AML_JPEG_ERR_BUFFER_TOO_SMALL, "small dst");
    EXPECT_STATUS(aml_jpeg_encode_into(enc, px, sizeof px, 8, 8, 0, 0, 90, NULL, 100, &len), inval, "NULL dst");
    EXPECT_STATUS(aml_jpeg_set_subsampling(enc, 3), inval, "subsampling 3");
    EXPECT_STATUS(aml_jpeg_max_output_size(enc, 0, 4, &len), inval, "max size of width 0");
    EXPECT_STATUS(aml_jpeg_max_output_size(enc, 4, 4, NULL), inval, "max size NULL out");

    CHECK(aml_jpeg_encode(NULL, px, 48, 4, 4, 0, 0, 90, &jpeg, &len) == inval, "NULL handle");
    CHECK(aml_jpeg_last_error(NULL)[0] != '\0', "thread detail for NULL handle");
    aml_jpeg *h = (aml_jpeg *)1;
    CHECK(aml_jpeg_open(NULL, 7, &h) == inval && h == NULL, "unknown backend");
    CHECK(aml_jpeg_open(NULL, AML_JPEG_BACKEND_SOFTWARE, NULL) == inval, "NULL out");
    CHECK(aml_jpeg_open("", AML_JPEG_BACKEND_SOFTWARE, &h) == inval, "empty device");
    CHECK(aml_jpeg_open("/nonexistent/jpegenc", AML_JPEG_BACKEND_HARDWARE, &h) == AML_JPEG_ERR_NO_DEVICE && h == NULL, "hardware without device");
    CHECK(strlen(aml_jpeg_last_error(NULL)) > 0, "open failure detail");
    for (int s = -20; s <= 5; s++) CHECK(aml_jpeg_strerror(s) != NULL, "strerror(%d)", s);
    aml_jpeg_close(NULL);
}

static void check_encode_into(aml_jpeg *enc) {
    unsigned w = 123, h = 45;
    uint8_t *rgb = malloc(w * h * 3);
    pattern_rgb(rgb, w, h);
    size_t cap = 0, len = 0, len2 = 0;
    CHECK(aml_jpeg_max_output_size(enc, w, h, &cap) == AML_JPEG_OK && cap > 1000, "max size %zu", cap);
    uint8_t *dst = malloc(cap);
    CHECK(aml_jpeg_encode_into(enc, rgb, w * h * 3, w, h, 0, AML_JPEG_FORMAT_RGB24, 85, dst, cap, &len) == AML_JPEG_OK, "into");
    const uint8_t *jpeg;
    CHECK(aml_jpeg_encode(enc, rgb, w * h * 3, w, h, 0, AML_JPEG_FORMAT_RGB24, 85, &jpeg, &len2) == AML_JPEG_OK, "encode");
    CHECK(len == len2 && memcmp(dst, jpeg, len) == 0, "encode_into equals encode");
    /* A buffer exactly the JPEG's size is enough. */
    CHECK(aml_jpeg_encode_into(enc, rgb, w * h * 3, w, h, 0, AML_JPEG_FORMAT_RGB24, 85, dst, len, &len2) == AML_JPEG_OK && len2 == len, "exact fit");
    /* The JPEG may not be written over the pixels it is made of. */
    uint8_t *both = malloc(w * h * 3 + cap);
    memcpy(both, rgb, w * h * 3);
    EXPECT_STATUS(aml_jpeg_encode_into(enc, both, w * h * 3, w, h, 0, AML_JPEG_FORMAT_RGB24, 85, both + 100, cap, &len2),
                  AML_JPEG_ERR_INVALID_ARGUMENT, "dst overlapping pixels");
    CHECK(aml_jpeg_encode_into(enc, both, w * h * 3, w, h, 0, AML_JPEG_FORMAT_RGB24, 85, both + w * h * 3, cap, &len2) == AML_JPEG_OK, "dst right after pixels");
    free(both);
    free(dst);
    free(rgb);
}

struct job { aml_jpeg *enc; int id; int ok; };

static void *worker(void *arg) {
    struct job *job = arg;
    unsigned w = 64 + job->id * 8, h = 48 + job->id * 4;
    uint8_t *rgb = malloc(w * h * 3);
    pattern_rgb(rgb, w, h);
    size_t cap = 0;
    aml_jpeg_max_output_size(job->enc, w, h, &cap);
    uint8_t *dst = malloc(cap);
    for (int i = 0; i < 25; i++) {
        size_t len = 0;
        if (aml_jpeg_encode_into(job->enc, rgb, w * h * 3, w, h, 0, AML_JPEG_FORMAT_RGB24, 50 + i, dst, cap, &len) != AML_JPEG_OK) continue;
        uint8_t *dec;
        unsigned dw, dh;
        if (decode(dst, len, 0, &dec, &dw, &dh) == 3 && dw == w && dh == h && psnr(dec, rgb, w * h * 3) > 28) job->ok++;
        free(dec);
    }
    free(dst);
    free(rgb);
    return NULL;
}

static void check_threads(int shared) {
    enum { N = 6 };
    pthread_t t[N];
    struct job jobs[N];
    aml_jpeg *one = NULL;
    if (shared) aml_jpeg_open(NULL, backend, &one);
    for (int i = 0; i < N; i++) {
        jobs[i].id = i;
        jobs[i].ok = 0;
        jobs[i].enc = one;
        if (!shared) aml_jpeg_open(NULL, backend, &jobs[i].enc);
        pthread_create(&t[i], NULL, worker, &jobs[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        CHECK(jobs[i].ok == 25, "%s handle, thread %d: %d of 25 frames good", shared ? "shared" : "own", i, jobs[i].ok);
        if (!shared) aml_jpeg_close(jobs[i].enc);
    }
    aml_jpeg_close(one);
}

/* Zero-copy input: write an NV12 frame straight into the device's input area. */
static void check_zero_copy(aml_jpeg *enc) {
    unsigned w = 100, h = 60;
    aml_jpeg_input in;
    int st = aml_jpeg_input_buffer(enc, w, h, AML_JPEG_FORMAT_NV12, &in);
    CHECK(st == AML_JPEG_OK, "input buffer: %s (%s)", aml_jpeg_strerror(st), aml_jpeg_last_error(enc));
    if (st != AML_JPEG_OK) return;
    CHECK(in.planes[0] && in.planes[1] && !in.planes[2] && in.strides[0] >= w && in.rows[1] == h / 2, "NV12 description");
    for (unsigned y = 0; y < h; y++) memset(in.planes[0] + y * in.strides[0], (int)(y * 4), w);
    for (unsigned y = 0; y < h / 2; y++) memset(in.planes[1] + y * in.strides[1], 128, w);
    const uint8_t *jpeg = NULL;
    size_t len = 0;
    st = aml_jpeg_encode_input(enc, 90, &jpeg, &len);
    CHECK(st == AML_JPEG_OK, "encode input: %s (%s)", aml_jpeg_strerror(st), aml_jpeg_last_error(enc));
    if (st == AML_JPEG_OK) {
        uint8_t *dec;
        unsigned dw, dh;
        CHECK(decode(jpeg, len, 1, &dec, &dw, &dh) == 3 && dw == w && dh == h, "zero-copy JPEG decodes");
        if (dec) CHECK(abs((int)dec[40 * w + 50] - 160) < 6, "row 40 is about 160: %d", dec[40 * w + 50]);
        free(dec);
    }
    CHECK(aml_jpeg_release(enc) == AML_JPEG_OK, "release");
    CHECK(aml_jpeg_encode_input(enc, 90, &jpeg, &len) == AML_JPEG_ERR_INVALID_ARGUMENT, "no buffer taken");
}

/* The 64 zig-zag entries of DQT table `id` in a JPEG, or NULL. */
static const uint8_t *dqt_table(const uint8_t *j, size_t len, int id) {
    for (size_t i = 2; i + 4 < len && j[i] == 0xFF && j[i + 1] != 0xDA;) {
        size_t seg = (size_t)j[i + 2] << 8 | j[i + 3];
        if (j[i + 1] == 0xDB)
            for (size_t t = i + 4; t + 65 <= i + 2 + seg && t + 65 <= len; t += 65)
                if ((j[t] & 15) == id && (j[t] >> 4) == 0) return j + t + 1;
        i += 2 + seg;
    }
    return NULL;
}

/* Caller-set quantisation tables and the busy wait. */
static void check_quant_tables(aml_jpeg *enc) {
    int inval = AML_JPEG_ERR_INVALID_ARGUMENT;
    uint16_t ones[64], ramp[64], bad[64];
    for (int i = 0; i < 64; i++) { ones[i] = 1; ramp[i] = (uint16_t)(2 + i); bad[i] = 1; }
    EXPECT_STATUS(aml_jpeg_set_quant_tables(enc, ones, NULL), inval, "tables: chroma NULL");
    CHECK(aml_jpeg_set_quant_tables(NULL, ones, ones) == inval, "tables: NULL handle");
    bad[9] = 0;
    EXPECT_STATUS(aml_jpeg_set_quant_tables(enc, bad, ones), inval, "tables: entry 0");
    bad[9] = 256;
    EXPECT_STATUS(aml_jpeg_set_quant_tables(enc, ones, bad), inval, "tables: entry 256");
    CHECK(aml_jpeg_set_busy_wait(NULL, 0) == inval, "busy wait: NULL handle");
    CHECK(aml_jpeg_set_busy_wait(enc, 0) == AML_JPEG_OK && aml_jpeg_set_busy_wait(enc, -1) == AML_JPEG_OK, "busy wait");
    uint8_t px[64 * 48 * 3];
    for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)(i * 7);
    const uint8_t *jpeg = NULL, *t;
    size_t len = 0;
    /* All ones are libjpeg's quality-100 tables: every backend reproduces them, whatever the
     * quality argument says. */
    CHECK(aml_jpeg_set_quant_tables(enc, ones, ones) == AML_JPEG_OK, "tables: all ones");
    int st = aml_jpeg_encode(enc, px, sizeof px, 64, 48, 0, AML_JPEG_FORMAT_RGB24, 10, &jpeg, &len);
    CHECK(st == AML_JPEG_OK, "encode with quality-100 tables: %s (%s)", aml_jpeg_strerror(st), aml_jpeg_last_error(enc));
    if (st == AML_JPEG_OK) CHECK((t = dqt_table(jpeg, len, 0)) && t[0] == 1 && t[63] == 1, "the JPEG carries them");
    /* Tables no quality makes: only the E generation's hardware takes them. */
    CHECK(aml_jpeg_set_quant_tables(enc, ramp, ramp) == AML_JPEG_OK, "tables: a ramp");
    st = aml_jpeg_encode(enc, px, sizeof px, 64, 48, 0, AML_JPEG_FORMAT_RGB24, 75, &jpeg, &len);
    if (backend == AML_JPEG_BACKEND_SOFTWARE) CHECK(st == AML_JPEG_ERR_UNSUPPORTED, "software refuses custom tables: %d", st);
    else {
        /* Only the E generation's driver has the external table; J and software refuse. */
        const char *gen = getenv("JPEGENC_EMU_GEN");
        int e_hardware = getenv("AMLJPEG_EXPECT_DEVICE") && !(gen && (strcmp(gen, "J") == 0 || strcmp(gen, "MM") == 0));
        if (e_hardware) {
            CHECK(st == AML_JPEG_OK, "custom tables on E hardware: %s (%s)", aml_jpeg_strerror(st), aml_jpeg_last_error(enc));
            if (st == AML_JPEG_OK) CHECK((t = dqt_table(jpeg, len, 1)) && t[0] == 2 && t[2] == 10, "the ramp is in the JPEG (zig-zag)");
        } else {
            CHECK(st == AML_JPEG_ERR_UNSUPPORTED, "custom tables without E hardware: UNSUPPORTED, not %d", st);
        }
    }
    CHECK(aml_jpeg_set_quant_tables(enc, NULL, NULL) == AML_JPEG_OK, "tables: back to quality");
    st = aml_jpeg_encode(enc, px, sizeof px, 64, 48, 0, AML_JPEG_FORMAT_RGB24, 50, &jpeg, &len);
    CHECK(st == AML_JPEG_OK && (t = dqt_table(jpeg, len, 0)) && t[0] == 16, "quality 50 gives Annex K again");
}

static double seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One thread, two HARDWARE handles: A's JPEG keeps the device, yet opening B, asking about
 * it and encoding on B return within seconds (B: busy, saying why), AUTO goes to software,
 * and once A releases, B has the device. */
static void check_lease_one_thread(void) {
    static uint8_t px[64 * 48 * 3];
    pattern_rgb(px, 64, 48);
    aml_jpeg *a = NULL, *b = NULL, *c = NULL;
    const uint8_t *ja = NULL, *jb = NULL;
    size_t la = 0, lb = 0, max = 0;
    CHECK(aml_jpeg_open(NULL, AML_JPEG_BACKEND_HARDWARE, &a) == AML_JPEG_OK, "lease: open A");
    if (!a) return;
    int st = aml_jpeg_encode(a, px, sizeof px, 64, 48, 0, AML_JPEG_FORMAT_RGB24, 90, &ja, &la);
    CHECK(st == AML_JPEG_OK, "lease: encode A: %s", aml_jpeg_last_error(a));
    double t = seconds();
    CHECK(aml_jpeg_open(NULL, AML_JPEG_BACKEND_HARDWARE, &b) == AML_JPEG_OK && b, "lease: open B while A holds the device");
    CHECK(seconds() - t < 2, "lease: open B took %.2f s", seconds() - t);
    if (!b) { aml_jpeg_close(a); return; }
    CHECK(aml_jpeg_max_output_size(b, 64, 48, &max) == AML_JPEG_OK && max >= la, "lease: max output size of B");
    t = seconds();
    st = aml_jpeg_encode(b, px, sizeof px, 64, 48, 0, AML_JPEG_FORMAT_RGB24, 90, &jb, &lb);
    CHECK(st == AML_JPEG_ERR_BUSY, "lease: B is busy while A holds the device, not %d", st);
    CHECK(strstr(aml_jpeg_last_error(b), "this thread holds the device") != NULL, "lease: detail '%s'", aml_jpeg_last_error(b));
    /* B's default busy wait is the frame's timeout (valgrind's run sets a long one). */
    const char *timeout = getenv("AML_JPEG_TIMEOUT_MS");
    double limit = (timeout ? atof(timeout) / 1000 : 0.5) + 2.5;
    CHECK(seconds() - t < limit, "lease: B's encode returned after %.2f s", seconds() - t);
    CHECK(la > 0 && ja[0] == 0xFF && ja[la - 1] == 0xD9, "lease: A's JPEG is intact");
    CHECK(aml_jpeg_open(NULL, AML_JPEG_BACKEND_AUTO, &c) == AML_JPEG_OK, "lease: open AUTO");
    if (c) {
        const uint8_t *jc; size_t lc; int used = -1;
        CHECK(aml_jpeg_encode(c, px, sizeof px, 64, 48, 0, AML_JPEG_FORMAT_RGB24, 90, &jc, &lc) == AML_JPEG_OK, "lease: AUTO encodes");
        aml_jpeg_last_backend(c, &used);
        CHECK(used == AML_JPEG_BACKEND_SOFTWARE, "lease: AUTO used software while A holds the device");
        aml_jpeg_close(c);
    }
    CHECK(aml_jpeg_release(a) == AML_JPEG_OK, "lease: release A");
    st = aml_jpeg_encode(b, px, sizeof px, 64, 48, 0, AML_JPEG_FORMAT_RGB24, 90, &jb, &lb);
    CHECK(st == AML_JPEG_OK, "lease: B after A released: %s", aml_jpeg_last_error(b));
    /* encode_into gives the device back at once: A can follow B's release. */
    static uint8_t out[1 << 16];
    aml_jpeg_release(b);
    CHECK(aml_jpeg_encode_into(a, px, sizeof px, 64, 48, 0, AML_JPEG_FORMAT_RGB24, 90, out, sizeof out, &la) == AML_JPEG_OK, "lease: encode_into on A");
    CHECK(aml_jpeg_encode(b, px, sizeof px, 64, 48, 0, AML_JPEG_FORMAT_RGB24, 90, &jb, &lb) == AML_JPEG_OK, "lease: B right after A's encode_into");
    aml_jpeg_close(b);
    aml_jpeg_close(a);
}

struct batch_seen { int calls, ok, order_ok; size_t next; uint8_t *last; size_t last_len; unsigned dims[8][2]; };

/* Every JPEG begins SOI, JFIF APP0, then the markers set, byte for byte; its components are
 * 1, 2, 3 (SOF0); a malformed list is refused and leaves the previous one in force. */
static void check_markers(aml_jpeg *enc) {
    static const uint8_t jfif[20] = {0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0};
    static const uint8_t segs[] = {
        /* APP1: Exif, a little-endian TIFF with one entry (orientation 6), no next IFD. */
        0xFF, 0xE1, 0, 34, 'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 8, 0, 0, 0,
        1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0,
        0xFF, 0xFE, 0, 7, 'h', 'e', 'l', 'l', 'o'};
    uint8_t bad[sizeof segs];
    memcpy(bad, segs, sizeof segs);
    bad[3] += 1; /* the APP1's length runs into the COM */
    uint8_t rgb[64 * 48 * 3];
    pattern_rgb(rgb, 64, 48);
    size_t plain = 0, with = 0;
    aml_jpeg_max_output_size(enc, 64, 48, &plain);
    CHECK(aml_jpeg_set_markers(enc, segs, sizeof segs) == AML_JPEG_OK, "set_markers: %s", aml_jpeg_last_error(enc));
    aml_jpeg_max_output_size(enc, 64, 48, &with);
    CHECK(with == plain + sizeof segs, "max_output_size counts the markers: %zu, %zu", plain, with);
    EXPECT_STATUS(aml_jpeg_set_markers(enc, bad, sizeof bad), AML_JPEG_ERR_INVALID_ARGUMENT, "a wrong segment length");
    EXPECT_STATUS(aml_jpeg_set_markers(enc, jfif + 2, 18), AML_JPEG_ERR_INVALID_ARGUMENT, "an APP0 segment");
    EXPECT_STATUS(aml_jpeg_set_markers(enc, NULL, 4), AML_JPEG_ERR_INVALID_ARGUMENT, "NULL segments of length 4");
    for (int round = 0; round < 2; round++) {
        const uint8_t *j = NULL;
        size_t l = 0;
        int st = aml_jpeg_encode(enc, rgb, sizeof rgb, 64, 48, 0, AML_JPEG_FORMAT_RGB24, 85, &j, &l);
        CHECK(st == AML_JPEG_OK, "encode with markers: %s", aml_jpeg_last_error(enc));
        if (st != AML_JPEG_OK) return;
        CHECK(memcmp(j, jfif, 20) == 0, "round %d: SOI and JFIF APP0", round);
        size_t at = 20 + (round == 0 ? sizeof segs : 0);
        CHECK(round == 1 || memcmp(j + 20, segs, sizeof segs) == 0, "the markers after APP0");
        CHECK(j[at] == 0xFF && j[at + 1] == 0xDB, "round %d: DQT after the markers", round);
        const uint8_t *sof = NULL;
        for (size_t i = 2; i + 19 < l && !sof; i++)
            if (j[i] == 0xFF && j[i + 1] == 0xC0) sof = j + i;
        CHECK(sof && sof[9] == 3 && sof[10] == 1 && sof[13] == 2 && sof[16] == 3, "component ids 1, 2, 3");
        uint8_t *dec;
        unsigned dw, dh;
        CHECK(decode(j, l, 0, &dec, &dw, &dh) == 3 && dw == 64 && dh == 48, "decodes");
        free(dec);
        CHECK(aml_jpeg_set_markers(enc, NULL, 0) == AML_JPEG_OK, "clearing the markers");
    }
}

/* aml_jpeg_encode_dmabuf() from a memfd: on every backend; the device reads it itself only on
 * the media_modules driver (AMLJPEG_EXPECT_DMABUF); bad descriptors are refused. */
static void check_dmabuf(aml_jpeg *enc) {
    const unsigned w = 64, h = 48;
    size_t size = frame_size(AML_JPEG_FORMAT_NV12, w, h);
    uint8_t *rgb = malloc((size_t)w * h * 3), *frame = malloc(size);
    pattern_rgb(rgb, w, h);
    to_format(rgb, w, h, AML_JPEG_FORMAT_NV12, frame);
    /* The system call: glibc's memfd_create() is newer than the boards' 2.17 floor. */
    int fd = (int)syscall(SYS_memfd_create, "frame", 0);
    CHECK(fd >= 0 && write(fd, frame, size) == (ssize_t)size, "memfd");
    const uint8_t *j = NULL;
    size_t l = 0;
    int st = aml_jpeg_encode_dmabuf(enc, fd, 0, size, w, h, 0, AML_JPEG_FORMAT_NV12, 90, &j, &l);
    CHECK(st == AML_JPEG_OK, "encode_dmabuf: %s (%s)", aml_jpeg_strerror(st), aml_jpeg_last_error(enc));
    if (st == AML_JPEG_OK) {
        uint8_t *dec;
        unsigned dw, dh;
        CHECK(decode(j, l, 0, &dec, &dw, &dh) == 3 && dw == w && dh == h, "the dma-buf's JPEG decodes");
        if (dec && dw == w && dh == h) CHECK(psnr(dec, rgb, (size_t)w * h * 3) > 30, "the dma-buf's picture");
        free(dec);
        int input = -1;
        CHECK(aml_jpeg_last_input(enc, &input) == AML_JPEG_OK, "last_input");
        int want = getenv("AMLJPEG_EXPECT_DMABUF") ? AML_JPEG_INPUT_DMABUF : AML_JPEG_INPUT_CPU;
        CHECK(input == want, "last_input %d, want %d", input, want);
        CHECK(lseek(fd, 0, SEEK_CUR) == (off_t)size, "the descriptor's offset is untouched");
    }
    EXPECT_STATUS(aml_jpeg_encode_dmabuf(enc, -1, 0, size, w, h, 0, AML_JPEG_FORMAT_NV12, 90, &j, &l),
                  AML_JPEG_ERR_INVALID_ARGUMENT, "fd -1");
    EXPECT_STATUS(aml_jpeg_encode_dmabuf(enc, fd, 1, size, w, h, 0, AML_JPEG_FORMAT_NV12, 90, &j, &l),
                  AML_JPEG_ERR_INVALID_ARGUMENT, "a frame past the buffer's end");
    EXPECT_STATUS(aml_jpeg_encode_dmabuf(enc, fd, 0, size, w, h, 0, 99, 90, &j, &l),
                  AML_JPEG_ERR_INVALID_ARGUMENT, "an unknown format");
    close(fd);
    EXPECT_STATUS(aml_jpeg_encode_dmabuf(enc, fd, 0, size, w, h, 0, AML_JPEG_FORMAT_NV12, 90, &j, &l),
                  AML_JPEG_ERR_INVALID_ARGUMENT, "a closed descriptor");
    free(frame);
    free(rgb);
}

static void on_frame(void *user, size_t index, int status, const uint8_t *jpeg, size_t len) {
    struct batch_seen *b = user;
    b->calls++;
    if (index != b->next++) b->order_ok = 0;
    if (status == AML_JPEG_OK && jpeg && len) {
        uint8_t *dec;
        unsigned w, h;
        if (decode(jpeg, len, 3, &dec, &w, &h) == 3 && w == b->dims[index][0] && h == b->dims[index][1]) b->ok++;
        free(dec);
    }
}

/* A batch: frames of different sizes, each reported in order with its own JPEG. */
static void check_batch(aml_jpeg *enc) {
    static uint8_t px[4][160 * 120 * 3];
    aml_jpeg_frame frames[4];
    struct batch_seen seen = {0, 0, 1, 0, NULL, 0, {{0}}};
    for (int i = 0; i < 4; i++) {
        unsigned w = 40 + 40 * (unsigned)i, h = 30 + 30 * (unsigned)i;
        for (size_t k = 0; k < (size_t)w * h * 3; k++) px[i][k] = (uint8_t)(k * (i + 3));
        frames[i] = (aml_jpeg_frame){px[i], (size_t)w * h * 3, w, h, 0, AML_JPEG_FORMAT_RGB24};
        seen.dims[i][0] = w;
        seen.dims[i][1] = h;
    }
    int inval = AML_JPEG_ERR_INVALID_ARGUMENT;
    EXPECT_STATUS(aml_jpeg_encode_batch(enc, frames, 4, 90, NULL, &seen), inval, "batch: NULL callback");
    EXPECT_STATUS(aml_jpeg_encode_batch(enc, NULL, 4, 90, on_frame, &seen), inval, "batch: NULL frames");
    EXPECT_STATUS(aml_jpeg_encode_batch(enc, frames, 4, 0, on_frame, &seen), inval, "batch: quality 0");
    frames[2].format = 99;
    EXPECT_STATUS(aml_jpeg_encode_batch(enc, frames, 4, 90, on_frame, &seen), inval, "batch: a bad frame");
    frames[2].format = AML_JPEG_FORMAT_RGB24;
    frames[3].len -= 1;
    EXPECT_STATUS(aml_jpeg_encode_batch(enc, frames, 4, 90, on_frame, &seen), inval, "batch: a short frame");
    frames[3].len += 1;
    CHECK(seen.calls == 0, "no callback for a refused batch");
    int st = aml_jpeg_encode_batch(enc, frames, 4, 90, on_frame, &seen);
    CHECK(st == AML_JPEG_OK, "batch: %s (%s)", aml_jpeg_strerror(st), aml_jpeg_last_error(enc));
    CHECK(seen.calls == 4 && seen.ok == 4 && seen.order_ok, "batch: %d calls, %d good, order %d", seen.calls, seen.ok, seen.order_ok);
    CHECK(aml_jpeg_encode_batch(enc, frames, 0, 90, on_frame, &seen) == AML_JPEG_OK && seen.calls == 4, "empty batch");
}

int main(int argc, char **argv) {
    if (argc > 1) backend = atoi(argv[1]);
    printf("amljpeg %s, backend %s\n", aml_jpeg_version(), backend_name(backend));
    aml_jpeg *enc = NULL;
    int st = aml_jpeg_open(NULL, backend, &enc);
    CHECK(st == AML_JPEG_OK && enc, "open: %s (%s)", aml_jpeg_strerror(st), aml_jpeg_last_error(NULL));
    if (!enc) return finish("test_capi");
    const unsigned sizes[][2] = {{451, 300}, {640, 480}, {17, 9}, {1, 1}, {2, 2}, {33, 64}};
    for (int s = 0; s < 6; s++)
        for (int f = AML_JPEG_FORMAT_RGB24; f <= AML_JPEG_FORMAT_GRAY8; f++) check_format(enc, f, sizes[s][0], sizes[s][1]);
    for (int sub = AML_JPEG_SUBSAMPLING_420; sub <= AML_JPEG_SUBSAMPLING_444; sub++) {
        if (aml_jpeg_set_subsampling(enc, sub) != AML_JPEG_OK) { CHECK(0, "subsampling %d", sub); continue; }
        subsampling = sub;
        if (backend == AML_JPEG_BACKEND_HARDWARE && sub == AML_JPEG_SUBSAMPLING_444) {
            /* The hardware cannot make 4:4:4, and a HARDWARE handle never falls back. */
            uint8_t px[16 * 16 * 3] = {0};
            const uint8_t *j; size_t l;
            CHECK(aml_jpeg_encode(enc, px, sizeof px, 16, 16, 0, 0, 90, &j, &l) == AML_JPEG_ERR_UNSUPPORTED, "4:4:4 on hardware");
            continue;
        }
        for (int f = AML_JPEG_FORMAT_RGB24; f <= AML_JPEG_FORMAT_GRAY8; f++) check_format(enc, f, 99, 51);
    }
    aml_jpeg_set_subsampling(enc, AML_JPEG_SUBSAMPLING_420);
    subsampling = AML_JPEG_SUBSAMPLING_420;
    if (getenv("AMLJPEG_EXPECT_DEVICE")) {
        check_zero_copy(enc);
        aml_jpeg_release(enc);
        check_lease_one_thread();
    }
    else {
        aml_jpeg_input in;
        CHECK(aml_jpeg_input_buffer(enc, 16, 16, AML_JPEG_FORMAT_NV12, &in) < 0, "zero-copy input needs a device");
    }
    check_errors(enc);
    check_quant_tables(enc);
    check_markers(enc);
    check_dmabuf(enc);
    check_batch(enc);
    check_encode_into(enc);
    aml_jpeg_close(enc);
    check_threads(1);
    check_threads(0);
    return finish("test_capi");
}
