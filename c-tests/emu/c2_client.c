/* An Odroid C2-style client of the J driver, as the public C2 example works: 7-word buffer
 * info, CONFIG_INIT, mmap, RGB888 packed in, a 30-word NEW_CMD, busy-poll on GET_STAGE, then
 * the header from the assist buffer followed by the bitstream.
 * Usage: c2_client image.raw W H out.jpg  (image.raw: packed RGB888, W a multiple of 16). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#define JPEGENC_IOC_MAGIC 'J'
#define JPEGENC_IOC_GET_BUFFINFO _IOW(JPEGENC_IOC_MAGIC, 0x00, unsigned int)
#define JPEGENC_IOC_CONFIG_INIT _IOW(JPEGENC_IOC_MAGIC, 0x01, unsigned int)
#define JPEGENC_IOC_NEW_CMD _IOW(JPEGENC_IOC_MAGIC, 0x02, unsigned int)
#define JPEGENC_IOC_GET_STAGE _IOW(JPEGENC_IOC_MAGIC, 0x03, unsigned int)
#define JPEGENC_IOC_GET_OUTPUT_SIZE _IOW(JPEGENC_IOC_MAGIC, 0x04, unsigned int)

int main(int argc, char **argv) {
    if (argc != 5) return 2;
    unsigned w = atoi(argv[2]), h = atoi(argv[3]);
    int fd = open("/dev/jpegenc", O_RDWR);
    if (fd < 0) { perror("open"); return 1; }
    unsigned addr_info[34];
    if (ioctl(fd, JPEGENC_IOC_GET_BUFFINFO, addr_info) < 0) { perror("GET_BUFFINFO"); return 1; }
    printf("buffer %#x input %#x/%#x assist %#x/%#x bitstream %#x/%#x\n", addr_info[0], addr_info[1], addr_info[2],
           addr_info[3], addr_info[4], addr_info[5], addr_info[6]);
    ioctl(fd, JPEGENC_IOC_CONFIG_INIT, 0);
    unsigned char *mem = mmap(NULL, addr_info[0], PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mem == MAP_FAILED) { perror("mmap"); return 1; }
    FILE *in = fopen(argv[1], "rb");
    size_t want = (size_t)w * h * 3;
    if (!in || fread(mem + addr_info[1], 1, want, in) != want) { fprintf(stderr, "short input\n"); return 1; }
    fclose(in);
    unsigned cmd[30];
    memset(cmd, 0, sizeof cmd);
    cmd[0] = 0;        /* LOCAL_BUFF */
    cmd[1] = 6;        /* RGB888 */
    cmd[2] = 0;        /* YUV422_SINGLE: 4:2:2 */
    cmd[3] = w;
    cmd[4] = h;
    cmd[5] = want;     /* framesize */
    cmd[7] = 100;      /* quality */
    cmd[8] = 0;        /* table id */
    cmd[9] = 1;        /* flush the input */
    if (ioctl(fd, JPEGENC_IOC_NEW_CMD, cmd) < 0) { perror("NEW_CMD"); return 1; }
    unsigned stage = 0;
    while (stage != 4) ioctl(fd, JPEGENC_IOC_GET_STAGE, &stage);
    unsigned sizes[2];
    ioctl(fd, JPEGENC_IOC_GET_OUTPUT_SIZE, sizes);
    printf("header %u bytes, bitstream %u bytes\n", sizes[0], sizes[1]);
    FILE *out = fopen(argv[4], "wb");
    fwrite(mem + addr_info[3], 1, sizes[0], out);
    fwrite(mem + addr_info[5], 1, sizes[1], out);
    fclose(out);
    return 0;
}
