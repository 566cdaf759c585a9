/* Helpers shared by the image tests (tests/test_image.c, tests/test_image_memory.c): a mkdtemp
 * folder and paths in it, whole-file reads and writes, PNG files and chunks written byte by byte,
 * and EXIF segments. Static: each test binary includes its own copy; the unused ones are marked so. */
#ifndef IMPASTO_TESTS_IMAGE_UTIL_H
#define IMPASTO_TESTS_IMAGE_UTIL_H

#include "impasto.h"
#include "test.h"

#include <dirent.h>
#include <png.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-variable"

static char tmpdir[256];
static char pathbuf[4][512];
static int pathslot;

/* A path inside the temporary directory (a few stay valid at once). */
static const char *tpath(const char *name) {
    char *p = pathbuf[pathslot++ & 3];
    snprintf(p, sizeof pathbuf[0], "%s/%s", tmpdir, name);
    return p;
}

static int write_file(const char *path, const unsigned char *buf, size_t n) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return 0;
    int ok = fwrite(buf, 1, n, fp) == n;
    return fclose(fp) == 0 && ok;
}

static unsigned char *read_file(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = malloc(len > 0 ? (size_t)len : 1);
    *n = fread(buf, 1, (size_t)len, fp);
    fclose(fp);
    return buf;
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static void remove_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[1024];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            remove_tree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* One line, naming the file. */
static int msg_ok(impasto_ctx *ctx, const char *path) {
    const char *m = impasto_ctx_error(ctx);
    return strstr(m, path) != NULL && strchr(m, '\n') == NULL;
}

static impasto_image *new_image(impasto_ctx *ctx, int w, int h, int c) {
    impasto_image *img = NULL;
    CHECK(impasto_image_create(ctx, w, h, c, &img) == IMPASTO_OK);
    return img;
}

static float px(const impasto_image *img, int x, int y, int c) {
    return impasto_image_cdata(
        img)[((size_t)y * impasto_image_width(img) + x) * impasto_image_channels(img) + c];
}

/* CRC-32 (ISO 3309, as PNG uses), bitwise. */
static uint32_t crc32_of(const unsigned char *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    }
    return c ^ 0xffffffffu;
}

static void put32be(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16),
    p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

/* Writes a PNG with libpng. rows: (H, rowbytes) packed as libpng expects (16-bit big-endian). */
static int write_png_raw(const char *path, int w, int h, int depth, int ctype, int interlace,
                         const unsigned char *data, const png_color *pal, int npal,
                         const unsigned char *trns, int ntrns, const png_color_16 *trns_color) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return 0;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(fp);
        return 0;
    }
    png_init_io(png, fp);
    png_set_IHDR(png, info, w, h, depth, ctype,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (pal) png_set_PLTE(png, info, pal, npal);
    if (trns || trns_color) png_set_tRNS(png, info, trns, ntrns, trns_color);
    png_write_info(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    png_bytep *rows = malloc(sizeof *rows * h);
    for (int y = 0; y < h; y++) rows[y] = (png_bytep)data + (size_t)y * rowbytes;
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    return fclose(fp) == 0;
}

/* ---- PNG ------------------------------------------------------------------------------- */

/* Appends a 16- or 32-bit TIFF integer in the chosen byte order. */
static void tiff_put(unsigned char *buf, size_t *n, uint32_t v, int bytes, int big) {
    for (int i = 0; i < bytes; i++)
        buf[(*n)++] = (unsigned char)(v >> (8 * (big ? bytes - 1 - i : i)));
}

/* An EXIF APP1 segment holding Orientation, in either byte order, with another tag before it. */
static size_t make_exif(unsigned char *seg, int orientation, int big) {
    unsigned char tiff[64];
    size_t n = 0;
    tiff[n++] = big ? 'M' : 'I';
    tiff[n++] = big ? 'M' : 'I';
    tiff_put(tiff, &n, 42, 2, big);
    tiff_put(tiff, &n, 8, 4, big); /* IFD0 right after the header */
    tiff_put(tiff, &n, 2, 2, big); /* two entries */
    /* Make: ASCII, 4 bytes "abc\0" stored in the entry itself. */
    tiff_put(tiff, &n, 0x010f, 2, big);
    tiff_put(tiff, &n, 2, 2, big);
    tiff_put(tiff, &n, 4, 4, big);
    memcpy(tiff + n, "abc", 4);
    n += 4;
    /* Orientation: SHORT, count 1, the value left-justified in the 4-byte field. */
    tiff_put(tiff, &n, 0x0112, 2, big);
    tiff_put(tiff, &n, 3, 2, big);
    tiff_put(tiff, &n, 1, 4, big);
    tiff_put(tiff, &n, (uint32_t)orientation, 2, big);
    tiff_put(tiff, &n, 0, 2, big);
    tiff_put(tiff, &n, 0, 4, big); /* no next IFD */
    size_t len = 2 + 6 + n;
    seg[0] = 0xff, seg[1] = 0xe1, seg[2] = (unsigned char)(len >> 8), seg[3] = (unsigned char)len;
    memcpy(seg + 4, "Exif\0\0", 6);
    memcpy(seg + 10, tiff, n);
    return 2 + len;
}

/* Writes `jpg` (n bytes) with `seg` inserted right after SOI. */
static int write_with_segment(const char *path, const unsigned char *jpg, size_t n,
                              const unsigned char *seg, size_t sn) {
    unsigned char *buf = malloc(n + sn);
    memcpy(buf, jpg, 2);
    memcpy(buf + 2, seg, sn);
    memcpy(buf + 2 + sn, jpg + 2, n - 2);
    int ok = write_file(path, buf, n + sn);
    free(buf);
    return ok;
}

/* A PNG signature and IHDR (8-bit RGB) with a correct CRC, then IEND: nothing else. */
static void write_png_header_only(const char *path, uint32_t w, uint32_t h) {
    unsigned char f[8 + 25 + 12] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char *c = f + 8;
    put32be(c, 13);
    memcpy(c + 4, "IHDR", 4);
    put32be(c + 8, w);
    put32be(c + 12, h);
    c[16] = 8, c[17] = 2, c[18] = 0, c[19] = 0, c[20] = 0;
    put32be(c + 21, crc32_of(c + 4, 17));
    c = f + 8 + 25;
    put32be(c, 0);
    memcpy(c + 4, "IEND", 4);
    put32be(c + 8, crc32_of(c + 4, 4));
    CHECK(write_file(path, f, sizeof f));
}


#pragma GCC diagnostic pop
#endif
