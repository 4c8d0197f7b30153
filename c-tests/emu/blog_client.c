/* The Odroid C1 blog article's client, as the article describes it: its own copy of the
 * ioctl numbers, 5-word buffer info, CONFIG_INIT, width and height, mmap, RGB888 in,
 * NEW_CMD {LOCAL_BUFF, RGB888, YUV422_SINGLE, 0, 0, w*h*3, 1}, busy-poll on GET_STAGE,
 * GET_OUTPUT_SIZE, write that many bytes from the bitstream start.
 * Usage: blog_client image.raw WIDTH HEIGHT out.jpeg  (image.raw: packed RGB888). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>

#define JPEGENC_IOC_MAGIC 'E'
#define JPEGENC_IOC_NEW_CMD _IOW(JPEGENC_IOC_MAGIC, 0x03, unsigned int)
#define JPEGENC_IOC_GET_STAGE _IOW(JPEGENC_IOC_MAGIC, 0x04, unsigned int)
#define JPEGENC_IOC_GET_OUTPUT_SIZE _IOW(JPEGENC_IOC_MAGIC, 0x05, unsigned int)
#define JPEGENC_IOC_SET_ENCODER_WIDTH _IOW(JPEGENC_IOC_MAGIC, 0x07, unsigned int)
#define JPEGENC_IOC_SET_ENCODER_HEIGHT _IOW(JPEGENC_IOC_MAGIC, 0x08, unsigned int)
#define JPEGENC_IOC_CONFIG_INIT _IOW(JPEGENC_IOC_MAGIC, 0x09, unsigned int)
#define JPEGENC_IOC_GET_BUFFINFO _IOW(JPEGENC_IOC_MAGIC, 0x0c, unsigned int)
#define LOCAL_BUFF 0
#define FMT_YUV422_SINGLE 0
#define FMT_RGB888 6
#define ENCODER_DONE 4

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: %s image.raw W H out.jpeg\n", argv[0]); return 2; }
    int width = atoi(argv[2]), height = atoi(argv[3]);
    int fd = open("/dev/jpegenc", O_RDWR);
    if (fd == -1) { perror("Error on jpegenc open"); return 1; }
    unsigned int addr_info[5];
    ioctl(fd, JPEGENC_IOC_GET_BUFFINFO, addr_info);
    printf("Total buffer size: 0x%08X\nInput buffer -> start: 0x%08X, size: 0x%08X\n"
           "Bitstream (output) buffer -> start: 0x%08X, size: 0x%08X\n",
           addr_info[0], addr_info[1], addr_info[2], addr_info[3], addr_info[4]);
    ioctl(fd, JPEGENC_IOC_CONFIG_INIT, NULL);
    ioctl(fd, JPEGENC_IOC_SET_ENCODER_WIDTH, &width);
    ioctl(fd, JPEGENC_IOC_SET_ENCODER_HEIGHT, &height);
    unsigned char *data = mmap(0, addr_info[0], PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (data == (void *)-1) { perror("Error on mmap"); return 1; }
    FILE *fin = fopen(argv[1], "r");
    if (!fin) { perror("input"); return 1; }
    size_t want = (size_t)width * height * 3;
    if (fread(data + addr_info[1], 1, want, fin) != want) { printf("Could not read full frame size\n"); return 1; }
    fclose(fin);
    unsigned int encode_cmd[7];
    encode_cmd[0] = LOCAL_BUFF;
    encode_cmd[1] = FMT_RGB888;
    encode_cmd[2] = FMT_YUV422_SINGLE;
    encode_cmd[3] = 0;
    encode_cmd[4] = 0;
    encode_cmd[5] = width * height * 3;
    encode_cmd[6] = 1;
    ioctl(fd, JPEGENC_IOC_NEW_CMD, encode_cmd);
    unsigned int stage = 0;
    unsigned long loops = 0;
    while (stage != ENCODER_DONE) {
        ioctl(fd, JPEGENC_IOC_GET_STAGE, &stage);
        loops++;
    }
    printf("Job done after %lu GET_STAGE calls\n", loops);
    unsigned int output_size = 0;
    ioctl(fd, JPEGENC_IOC_GET_OUTPUT_SIZE, &output_size);
    printf("Output size is %u bytes\n", output_size);
    FILE *fout = fopen(argv[4], "w+");
    if (fwrite(data + addr_info[3], 1, output_size, fout) != output_size) { printf("Could not write the full output file\n"); return 1; }
    fclose(fout);
    return 0;
}
