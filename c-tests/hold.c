/* Holds the hardware for a while, as another program on the board would: opens a HARDWARE
 * handle, encodes one frame (its JPEG keeps the device leased), says "holding", sleeps.
 *
 *   hold SECONDS */
#include "amljpeg.h"
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    static uint8_t px[64 * 64 * 3];
    aml_jpeg *enc = NULL;
    const uint8_t *jpeg;
    size_t len;
    if (aml_jpeg_open(NULL, AML_JPEG_BACKEND_HARDWARE, &enc) != AML_JPEG_OK ||
        aml_jpeg_encode(enc, px, sizeof px, 64, 64, 0, AML_JPEG_FORMAT_RGB24, 90, &jpeg, &len) != AML_JPEG_OK) {
        fprintf(stderr, "hold: %s\n", aml_jpeg_last_error(enc));
        return 1;
    }
    printf("holding\n");
    fflush(stdout);
    sleep(argc > 1 ? (unsigned)atoi(argv[1]) : 30);
    aml_jpeg_close(enc);
    return 0;
}
