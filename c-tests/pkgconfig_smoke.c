/* Built only through `pkg-config --cflags --libs amljpeg`: proves an installed amljpeg is usable. */
#include <amljpeg.h>
#include <stdio.h>

int main(void) {
    uint8_t rgb[32 * 32 * 3];
    for (unsigned i = 0; i < sizeof rgb; i++) rgb[i] = (uint8_t)(i * 7);
    aml_jpeg *enc = NULL;
    int st = aml_jpeg_open(NULL, AML_JPEG_BACKEND_SOFTWARE, &enc);
    const uint8_t *jpeg = NULL;
    size_t len = 0;
    if (st == AML_JPEG_OK) st = aml_jpeg_encode(enc, rgb, sizeof rgb, 32, 32, 0, AML_JPEG_FORMAT_RGB24, 90, &jpeg, &len);
    int ok = st == AML_JPEG_OK && len > 2 && jpeg[0] == 0xFF && jpeg[1] == 0xD8;
    printf("pkgconfig_smoke: amljpeg %s: %s, %zu bytes\n", aml_jpeg_version(), aml_jpeg_strerror(st), len);
    aml_jpeg_close(enc);
    return ok ? 0 : 1;
}
