/* Prints the driver ABI as this target's C compiler sees it: request numbers built with the
 * kernel's _IOW macro and the sizes of the argument blocks. scripts/test-armhf.sh compares
 * the x86_64 and armhf outputs (lines starting "pointer" may differ). */
#include <stdio.h>
#include <sys/ioctl.h>
#include "amljpeg.h"

#define E(nr) _IOW('E', nr, unsigned int)
#define J(nr) _IOW('J', nr, unsigned int)

/* media_modules' jpegenc_request_s: eighteen 32-bit fields. */
struct jpegenc_request { unsigned int fields[18]; };

int main(void) {
    const struct { const char *name; unsigned long nr; } requests[] = {
        {"E GET_ADDR", E(0x00)}, {"E NEW_CMD", E(0x03)}, {"E GET_STAGE", E(0x04)},
        {"E GET_OUTPUT_SIZE", E(0x05)}, {"E SET_QUALTIY", E(0x06)}, {"E SET_ENCODER_WIDTH", E(0x07)},
        {"E SET_ENCODER_HEIGHT", E(0x08)}, {"E CONFIG_INIT", E(0x09)}, {"E FLUSH_CACHE", E(0x0a)},
        {"E FLUSH_DMA", E(0x0b)}, {"E GET_BUFFINFO", E(0x0c)}, {"E SEL_QUANT_TABLE", E(0x0e)},
        {"E SET_EXT_QUANT_TABLE", E(0x0f)}, {"E GET_DEVINFO", E(0xf0)}, {"J GET_DEVINFO", J(0xf0)},
        {"J NEW_CMD", J(0x02)}, {"J QUERY_DMA_SUPPORT", J(0x06)}, {"J CONFIG_DMA_INPUT", J(0x07)},
        {"J RELEASE_DMA_INPUT", J(0x08)}, {"J NEW_CMD2", _IOW('J', 0x09, struct jpegenc_request)},
    };
    for (unsigned i = 0; i < sizeof requests / sizeof requests[0]; i++)
        printf("%-22s 0x%08lx\n", requests[i].name, requests[i].nr);
    printf("%-22s %zu\n", "NEW_CMD block", 7 * sizeof(unsigned int));
    printf("%-22s %zu\n", "GET_BUFFINFO block", 5 * sizeof(unsigned int));
    printf("%-22s %zu\n", "FLUSH block", 3 * sizeof(unsigned int));
    printf("%-22s %zu\n", "NEW_CMD2 request", sizeof(struct jpegenc_request));
    printf("%-22s %zu\n", "ext quant table", 128 * sizeof(unsigned short));
    printf("%-22s %zu\n", "int", sizeof(int));
    printf("pointer %-14s %zu\n", "void*", sizeof(void *));
    printf("pointer %-14s %zu\n", "aml_jpeg_input", sizeof(aml_jpeg_input));
    return 0;
}
