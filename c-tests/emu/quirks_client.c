/* Exercises /dev/jpegenc the way real programs do, to check the emulator's process-level
 * behaviour: one open at a time, release only after munmap, poll, the cache rule.
 * Usage: quirks_client busy|mapping|poll|stale OUT_PREFIX  (prints "ok: ..." lines; exit 0 = pass) */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define E(nr) (0x40044500u | (nr))
#define NEW_CMD E(0x03)
#define GET_STAGE E(0x04)
#define GET_OUTPUT_SIZE E(0x05)
#define SET_QUALITY E(0x06)
#define SET_WIDTH E(0x07)
#define SET_HEIGHT E(0x08)
#define CONFIG_INIT E(0x09)
#define FLUSH_DMA E(0x0b)
#define GET_BUFFINFO E(0x0c)
#define SEL_QUANT_TABLE E(0x0e)

static int fails = 0;
#define EXPECT(cond, what) do { if (cond) printf("ok: %s\n", what); else { printf("FAIL: %s (errno %d)\n", what, errno); fails++; } } while (0)

static unsigned info[5];

static unsigned char *open_map(int *fd) {
    *fd = open("/dev/jpegenc", O_RDWR | O_CLOEXEC);
    if (*fd < 0) return NULL;
    ioctl(*fd, GET_BUFFINFO, info);
    void *p = mmap(NULL, info[0], PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* HAL order: width, height, quality, table, CONFIG_INIT. */
static void setup(int fd, unsigned w, unsigned h) {
    int q = 90, t = 1;
    ioctl(fd, SET_WIDTH, &w);
    ioctl(fd, SET_HEIGHT, &h);
    ioctl(fd, SET_QUALITY, &q);
    ioctl(fd, SEL_QUANT_TABLE, &t);
    ioctl(fd, CONFIG_INIT, NULL);
}

/* A 64x32 NV12 frame (stride 64, chroma at 64*32), flat luma `y`, neutral chroma. */
static unsigned fill_nv12(unsigned char *in, unsigned char y) {
    memset(in, y, 64 * 32);
    memset(in + 64 * 32, 128, 64 * 16);
    return 64 * 48;
}

static int encode(int fd, unsigned char *base, unsigned size, int flush, const char *out) {
    unsigned cmd[7] = {0, 3, 4, 0, 0, size, (unsigned)flush};
    ioctl(fd, NEW_CMD, cmd);
    struct pollfd p = {fd, POLLIN | POLLERR, 0};
    if (poll(&p, 1, 5000) != 1 || !(p.revents & POLLIN)) return -1;
    unsigned stage = 0, osize = 0;
    ioctl(fd, GET_STAGE, &stage);
    ioctl(fd, GET_OUTPUT_SIZE, &osize);
    unsigned range[3] = {1, 0, osize};
    ioctl(fd, FLUSH_DMA, range);
    FILE *f = fopen(out, "wb");
    fwrite(base + info[3], 1, osize, f);
    fclose(f);
    return stage == 4 ? 0 : -1;
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    const char *what = argv[1];
    char path[512];
    int fd;
    unsigned char *base = open_map(&fd);
    EXPECT(base != NULL, "open and map");
    if (!base) return 1;
    if (!strcmp(what, "busy")) {
        errno = 0;
        EXPECT(open("/dev/jpegenc", O_RDWR) == -1 && errno == EBUSY, "second open in the same process is EBUSY");
        pid_t child = fork();
        if (child == 0) _exit(open("/dev/jpegenc", O_RDWR) == -1 && errno == EBUSY ? 0 : 1);
        int status = 0;
        waitpid(child, &status, 0);
        EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0, "open from another process is EBUSY");
    } else if (!strcmp(what, "mapping")) {
        close(fd);
        errno = 0;
        EXPECT(open("/dev/jpegenc", O_RDWR) == -1 && errno == EBUSY, "close without munmap keeps the device open");
        munmap(base, info[0]);
        int again = open("/dev/jpegenc", O_RDWR);
        EXPECT(again >= 0, "after munmap the device opens again");
        close(again);
        return fails ? 1 : 0;
    } else if (!strcmp(what, "poll")) {
        setup(fd, 64, 32);
        snprintf(path, sizeof path, "%s-poll.jpg", argv[2]);
        EXPECT(encode(fd, base, fill_nv12(base + info[1], 200), 1, path) == 0, "poll(POLLIN) reports the completion");
        struct pollfd p = {fd, POLLIN, 0};
        EXPECT(poll(&p, 1, 100) == 0, "a second poll has nothing: the first consumed the event");
    } else if (!strcmp(what, "stale")) {
        setup(fd, 64, 32);
        snprintf(path, sizeof path, "%s-a.jpg", argv[2]);
        EXPECT(encode(fd, base, fill_nv12(base + info[1], 200), 1, path) == 0, "frame A (flushed)");
        snprintf(path, sizeof path, "%s-b.jpg", argv[2]);
        EXPECT(encode(fd, base, fill_nv12(base + info[1], 40), 0, path) == 0, "frame B (not flushed)");
    }
    munmap(base, info[0]);
    close(fd);
    return fails ? 1 : 0;
}
