/* Builds jpeglib.h for another libjpeg ABI: the system's jconfig.h with JPEG_LIB_VERSION
 * replaced by AMLJPEG_ABI (62, 70 or 80). Only for layout_dump.c. */
#include_next <jconfig.h>
#undef JPEG_LIB_VERSION
#define JPEG_LIB_VERSION AMLJPEG_ABI
