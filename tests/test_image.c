/* Image I/O: PNG/JPEG round trips, files written here with libpng/libjpeg directly
 * (16-bit, palette, interlaced, CMYK), EXIF orientation, damaged and hostile files, the pixel
 * limit, atomic saving, and loading and saving in memory (resampling is tests/test_resample.c).
 * Every file lives in a mkdtemp directory that is removed at the end. */
#include "impasto.h"
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <jpeglib.h>
#include <png.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

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

static void test_png_roundtrip_8bit(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    for (int c = 1; c <= 4; c++) {
        int w = 7, h = 5;
        impasto_image *img = new_image(ctx, w, h, c);
        float *d = impasto_image_data(img);
        for (int i = 0; i < w * h * c; i++) d[i] = (float)((i * 37 + c * 101) % 256) / 255.0f;
        d[0] = 0.0f, d[1 % (w * h * c)] = 1.0f;
        const char *p = tpath("rt8.png");
        CHECK(impasto_image_save(ctx, img, p, 0) == IMPASTO_OK);
        impasto_image *back = NULL;
        CHECK(impasto_image_load(ctx, p, &back) == IMPASTO_OK);
        if (back) {
            CHECK(impasto_image_width(back) == w && impasto_image_height(back) == h);
            CHECK(impasto_image_channels(back) == c);
            int same = impasto_image_channels(back) == c;
            for (int i = 0; same && i < w * h * c; i++) same = impasto_image_cdata(back)[i] == d[i];
            CHECK_MSG(same, "channels %d", c);
        }
        impasto_image_free(back);
        impasto_image_free(img);
    }
    /* Out-of-range and NaN values are clamped, and rounding is to nearest. */
    impasto_image *img = new_image(ctx, 4, 1, 1);
    float *d = impasto_image_data(img);
    d[0] = -0.5f, d[1] = 2.0f, d[2] = NAN, d[3] = 100.4f / 255.0f;
    CHECK(impasto_image_save(ctx, img, tpath("clamp.PNG"), 0) == IMPASTO_OK);
    impasto_image *back = NULL;
    CHECK(impasto_image_load(ctx, tpath("clamp.PNG"), &back) == IMPASTO_OK);
    if (back) {
        CHECK(px(back, 0, 0, 0) == 0.0f && px(back, 1, 0, 0) == 1.0f && px(back, 2, 0, 0) == 0.0f);
        CHECK(px(back, 3, 0, 0) == 100.0f / 255.0f);
    }
    impasto_image_free(back);
    impasto_image_free(img);
    impasto_ctx_free(ctx);
}

/* 16-bit samples that are not multiples of 257, so an 8-bit path could not reproduce them. */
static unsigned sample16(int x, int y, int c) {
    return (unsigned)(x * 13007 + y * 5003 + c * 20011 + 1) % 65536;
}

static void check_png16(const char *path, int w, int h, int c, int ctype, int interlace) {
    impasto_ctx *ctx = impasto_ctx_create();
    unsigned char *raw = malloc((size_t)w * h * c * 2);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++) {
                unsigned v = sample16(x, y, k);
                raw[((size_t)(y * w + x) * c + k) * 2] = (unsigned char)(v >> 8);
                raw[((size_t)(y * w + x) * c + k) * 2 + 1] = (unsigned char)v;
            }
    CHECK(write_png_raw(path, w, h, 16, ctype, interlace, raw, NULL, 0, NULL, 0, NULL));
    impasto_image *img = NULL;
    CHECK(impasto_image_load(ctx, path, &img) == IMPASTO_OK);
    if (img) {
        CHECK(impasto_image_width(img) == w && impasto_image_height(img) == h &&
              impasto_image_channels(img) == c);
        double maxerr = 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int k = 0; k < c; k++)
                    maxerr = fmax(maxerr, fabs(px(img, x, y, k) - sample16(x, y, k) / 65535.0));
        /* float rounding only; one 8-bit step would be 0.0039. */
        CHECK_NEAR(maxerr, 0.0, 1e-7);
    }
    impasto_image_free(img);
    free(raw);
    impasto_ctx_free(ctx);
}

static void test_png_16bit(void) {
    check_png16(tpath("rgb16.png"), 9, 6, 3, PNG_COLOR_TYPE_RGB, 0);
    check_png16(tpath("ga16i.png"), 11, 9, 2, PNG_COLOR_TYPE_GRAY_ALPHA, 1);
}

static void test_png_interlaced_rgba(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    int w = 13, h = 10;
    unsigned char raw[13 * 10 * 4];
    for (int i = 0; i < w * h * 4; i++) raw[i] = (unsigned char)(i * 7 + 3);
    CHECK(write_png_raw(tpath("i.png"), w, h, 8, PNG_COLOR_TYPE_RGBA, 1, raw, NULL, 0, NULL, 0,
                        NULL));
    impasto_image *img = NULL;
    CHECK(impasto_image_load(ctx, tpath("i.png"), &img) == IMPASTO_OK);
    if (img) {
        CHECK(impasto_image_channels(img) == 4);
        int same = 1;
        for (int i = 0; i < w * h * 4; i++) same &= impasto_image_cdata(img)[i] == raw[i] / 255.0f;
        CHECK(same);
    }
    impasto_image_free(img);
    impasto_ctx_free(ctx);
}

static void test_png_palette_and_low_depth(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    png_color pal[4] = {{255, 0, 0}, {0, 255, 0}, {10, 20, 30}, {200, 100, 50}};
    unsigned char trns[2] = {0, 128};
    /* 4-bit indices, two per byte: a row of 6 pixels is 3 bytes.
     * Row 0: 0 1 2 3 0 1; row 1: 3 2 1 0 3 2. */
    unsigned char idx[6] = {0x01, 0x23, 0x01, 0x32, 0x10, 0x32};
    int want[2][6] = {{0, 1, 2, 3, 0, 1}, {3, 2, 1, 0, 3, 2}};
    for (int with_trns = 0; with_trns <= 1; with_trns++) {
        const char *p = tpath(with_trns ? "pal_trns.png" : "pal.png");
        CHECK(write_png_raw(p, 6, 2, 4, PNG_COLOR_TYPE_PALETTE, 0, idx, pal, 4,
                            with_trns ? trns : NULL, 2, NULL));
        impasto_image *img = NULL;
        CHECK(impasto_image_load(ctx, p, &img) == IMPASTO_OK);
        if (!img) continue;
        CHECK(impasto_image_channels(img) == (with_trns ? 4 : 3));
        if (impasto_image_channels(img) != (with_trns ? 4 : 3)) {
            impasto_image_free(img);
            continue;
        }
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 6; x++) {
                const png_color *e = &pal[want[y][x]];
                CHECK(px(img, x, y, 0) == e->red / 255.0f &&
                      px(img, x, y, 1) == e->green / 255.0f &&
                      px(img, x, y, 2) == e->blue / 255.0f);
                if (with_trns) {
                    /* Entries past the tRNS list are opaque. */
                    float a = want[y][x] < 2 ? trns[want[y][x]] / 255.0f : 1.0f;
                    CHECK(px(img, x, y, 3) == a);
                }
            }
        impasto_image_free(img);
    }
    /* 2-bit gray (0..3 scales to 0, 85, 170, 255) with a tRNS colour: gray + alpha. */
    unsigned char g2[1] = {0x1b}; /* 00 01 10 11 */
    png_color_16 tc = {.gray = 2};
    CHECK(
        write_png_raw(tpath("g2.png"), 4, 1, 2, PNG_COLOR_TYPE_GRAY, 0, g2, NULL, 0, NULL, 0, &tc));
    impasto_image *img = NULL;
    CHECK(impasto_image_load(ctx, tpath("g2.png"), &img) == IMPASTO_OK);
    if (img) {
        CHECK(impasto_image_channels(img) == 2);
        if (impasto_image_channels(img) == 2)
            for (int x = 0; x < 4; x++) {
                CHECK(px(img, x, 0, 0) == x * 85 / 255.0f);
                CHECK(px(img, x, 0, 1) == (x == 2 ? 0.0f : 1.0f));
            }
    }
    impasto_image_free(img);
    impasto_ctx_free(ctx);
}

/* ---- JPEG ------------------------------------------------------------------------------ */

static void test_jpeg_roundtrip(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    int w = 40, h = 24;
    impasto_image *img = new_image(ctx, w, h, 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float *q = impasto_image_data(img) + (y * w + x) * 3;
            q[0] = (float)x / w, q[1] = (float)y / h,
            q[2] = 0.5f + 0.3f * sinf(x * 0.3f + y * 0.2f);
        }
    CHECK(impasto_image_save(ctx, img, tpath("rt.jpg"), 0) == IMPASTO_OK);
    impasto_image *back = NULL;
    CHECK(impasto_image_load(ctx, tpath("rt.jpg"), &back) == IMPASTO_OK);
    if (back) {
        CHECK(impasto_image_width(back) == w && impasto_image_height(back) == h &&
              impasto_image_channels(back) == 3);
        double sum = 0, maxerr = 0;
        for (int i = 0; i < w * h * 3; i++) {
            double e = fabs(impasto_image_cdata(back)[i] - impasto_image_cdata(img)[i]);
            sum += e, maxerr = fmax(maxerr, e);
        }
        /* Quality 95, 4:4:4: a smooth picture comes back within a few 8-bit steps. */
        CHECK_NEAR(sum / (w * h * 3), 0.0, 0.006);
        CHECK_NEAR(maxerr, 0.0, 0.04);
    }
    impasto_image_free(back);

    /* A lower quality makes a smaller file; quality outside 0..100 is refused. */
    size_t n95 = 0, n20 = 0;
    free(read_file(tpath("rt.jpg"), &n95));
    CHECK(impasto_image_save(ctx, img, tpath("q20.jpeg"), 20) == IMPASTO_OK);
    free(read_file(tpath("q20.jpeg"), &n20));
    CHECK(n20 > 0 && n20 < n95);
    CHECK(impasto_image_save(ctx, img, tpath("bad.jpg"), 101) == IMPASTO_ERR_INVALID_ARG);
    impasto_image_free(img);

    /* Gray stays gray. */
    img = new_image(ctx, 16, 16, 1);
    for (int i = 0; i < 256; i++) impasto_image_data(img)[i] = 0.25f + (i / 16) * 0.03f;
    CHECK(impasto_image_save(ctx, img, tpath("g.jpg"), 95) == IMPASTO_OK);
    CHECK(impasto_image_load(ctx, tpath("g.jpg"), &back) == IMPASTO_OK);
    if (back) {
        CHECK(impasto_image_channels(back) == 1);
        CHECK_NEAR(px(back, 5, 9, 0), 0.25 + 9 * 0.03, 0.01);
    }
    impasto_image_free(back);
    impasto_image_free(img);

    /* Alpha is dropped by compositing over white: the left 8x8 block is transparent (white), the
     * right one half-transparent black (mid gray). Gray + alpha stays gray. */
    for (int c = 2; c <= 4; c += 2) {
        img = new_image(ctx, 16, 8, c);
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 16; x++) {
                float *q = impasto_image_data(img) + (y * 16 + x) * c;
                for (int k = 0; k < c - 1; k++) q[k] = x < 8 ? 0.2f : 0.0f;
                q[c - 1] = x < 8 ? 0.0f : 0.5f;
            }
        CHECK(impasto_image_save(ctx, img, tpath("a.jpg"), 100) == IMPASTO_OK);
        CHECK(impasto_image_load(ctx, tpath("a.jpg"), &back) == IMPASTO_OK);
        if (back) {
            CHECK(impasto_image_channels(back) == c - 1);
            CHECK_NEAR(px(back, 3, 3, 0), 1.0, 0.01);
            CHECK_NEAR(px(back, 12, 3, 0), 0.5, 0.01);
        }
        impasto_image_free(back);
        impasto_image_free(img);
    }
    impasto_ctx_free(ctx);
}

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

static void test_jpeg_exif_orientation(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    /* Stored picture: 3x2 blocks of 8x8 gray levels
     *     A B C
     *     D E F
     * and, per the EXIF table (which visual side stored row 0 / column 0 are), the upright grid. */
    const float level[6] = {0.1f, 0.25f, 0.4f, 0.55f, 0.7f, 0.85f}; /* A..F */
    const char *upright[9] = {NULL,       "ABC/DEF",  "CBA/FED",  "FED/CBA", "DEF/ABC",
                              "AD/BE/CF", "DA/EB/FC", "FC/EB/DA", "CF/BE/AD"};
    impasto_image *img = new_image(ctx, 24, 16, 1);
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 24; x++)
            impasto_image_data(img)[y * 24 + x] = level[(y / 8) * 3 + x / 8];
    CHECK(impasto_image_save(ctx, img, tpath("plain.jpg"), 100) == IMPASTO_OK);
    impasto_image_free(img);
    size_t n = 0;
    unsigned char *jpg = read_file(tpath("plain.jpg"), &n);
    CHECK(jpg && n > 100);
    for (int o = 1; o <= 8 && jpg; o++) {
        for (int big = 0; big <= 1; big++) {
            unsigned char seg[128];
            size_t sn = make_exif(seg, o, big);
            CHECK(write_with_segment(tpath("o.jpg"), jpg, n, seg, sn));
            impasto_image *out = NULL;
            CHECK(impasto_image_load(ctx, tpath("o.jpg"), &out) == IMPASTO_OK);
            if (!out) continue;
            int bw = o >= 5 ? 2 : 3, bh = o >= 5 ? 3 : 2;
            CHECK_MSG(impasto_image_width(out) == bw * 8 && impasto_image_height(out) == bh * 8,
                      "orientation %d: %dx%d", o, impasto_image_width(out),
                      impasto_image_height(out));
            if (impasto_image_width(out) == bw * 8 && impasto_image_height(out) == bh * 8) {
                for (int by = 0; by < bh; by++)
                    for (int bx = 0; bx < bw; bx++) {
                        char letter = upright[o][by * (bw + 1) + bx];
                        /* Sample each block's inner pixels, away from any blending at edges. */
                        double v = px(out, bx * 8 + 3, by * 8 + 4, 0);
                        CHECK_MSG(fabs(v - level[letter - 'A']) < 0.02,
                                  "orientation %d (%s) block %d,%d: %g, want %c", o,
                                  big ? "MM" : "II", bx, by, v, letter);
                    }
            }
            impasto_image_free(out);
        }
    }
    /* Out-of-range orientation and a cut-off IFD are ignored (picture as stored). */
    unsigned char seg[128];
    size_t sn = make_exif(seg, 9, 0);
    for (int variant = 0; variant < 2 && jpg; variant++) {
        if (variant == 1) {
            sn = make_exif(seg, 6, 1);
            seg[2] = 0, seg[3] = 2 + 6 + 12; /* segment ends inside the IFD's first entry */
            sn = 2 + 2 + 6 + 12;
        }
        CHECK(write_with_segment(tpath("o.jpg"), jpg, n, seg, sn));
        impasto_image *out = NULL;
        CHECK(impasto_image_load(ctx, tpath("o.jpg"), &out) == IMPASTO_OK);
        if (out) CHECK(impasto_image_width(out) == 24 && impasto_image_height(out) == 16);
        impasto_image_free(out);
    }
    free(jpg);
    impasto_ctx_free(ctx);
}

/* Photoshop-style CMYK: Adobe APP14 marker, samples stored inverted (255 = no ink). */
static void test_jpeg_cmyk(void) {
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    unsigned char *mem = NULL;
    unsigned long memlen = 0;
    jpeg_mem_dest(&ci, &mem, &memlen);
    ci.image_width = 16, ci.image_height = 8, ci.input_components = 4, ci.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 100, TRUE);
    jpeg_start_compress(&ci, TRUE);
    unsigned char row[16 * 4];
    for (int x = 0; x < 16; x++) {
        /* Left: full cyan ink, no black. Right: no colour ink, 50% black (stored 255 - 128). */
        unsigned char cyan[4] = {0, 255, 255, 255}, gray[4] = {255, 255, 255, 127};
        memcpy(row + x * 4, x < 8 ? cyan : gray, 4);
    }
    for (int y = 0; y < 8; y++) {
        JSAMPROW r = row;
        jpeg_write_scanlines(&ci, &r, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    CHECK(write_file(tpath("cmyk.jpg"), mem, memlen));
    free(mem);
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_image *img = NULL;
    CHECK(impasto_image_load(ctx, tpath("cmyk.jpg"), &img) == IMPASTO_OK);
    if (img) {
        CHECK(impasto_image_channels(img) == 3);
        CHECK_NEAR(px(img, 3, 3, 0), 0.0, 0.02);
        CHECK_NEAR(px(img, 3, 3, 1), 1.0, 0.02);
        CHECK_NEAR(px(img, 3, 3, 2), 1.0, 0.02);
        for (int c = 0; c < 3; c++) CHECK_NEAR(px(img, 12, 3, c), 127 / 255.0, 0.02);
    }
    impasto_image_free(img);
    impasto_ctx_free(ctx);
}

/* ---- damaged and hostile files ---------------------------------------------------------- */

/* Every cut of `good` at the given points must fail with FORMAT, name the file, return NULL. */
static void check_cuts(impasto_ctx *ctx, const unsigned char *good, size_t n, const char *name) {
    size_t cuts[] = {1,     2,     3,           8,      12,     20,    33,   60,
                     n / 4, n / 2, (3 * n) / 4, n - 20, n - 12, n - 2, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        if (cuts[i] == 0 || cuts[i] >= n) continue;
        const char *p = tpath(name);
        CHECK(write_file(p, good, cuts[i]));
        impasto_image *img = (impasto_image *)1;
        impasto_status s = impasto_image_load(ctx, p, &img);
        CHECK_MSG(s == IMPASTO_ERR_FORMAT, "%s cut at %zu of %zu: status %d (%s)", name, cuts[i], n,
                  s, impasto_ctx_error(ctx));
        CHECK(img == NULL);
        CHECK_MSG(msg_ok(ctx, p), "message: %s", impasto_ctx_error(ctx));
    }
}

static void test_truncated_and_corrupt(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    unsigned long long rng = 42;
    impasto_image *img = new_image(ctx, 64, 48, 3);
    for (int i = 0; i < 64 * 48 * 3; i++) impasto_image_data(img)[i] = test_uniform(&rng, 0, 1);
    CHECK(impasto_image_save(ctx, img, tpath("good.png"), 0) == IMPASTO_OK);
    CHECK(impasto_image_save(ctx, img, tpath("good.jpg"), 90) == IMPASTO_OK);
    impasto_image_free(img);
    size_t npng = 0, njpg = 0;
    unsigned char *png = read_file(tpath("good.png"), &npng),
                  *jpg = read_file(tpath("good.jpg"), &njpg);
    CHECK(png && jpg && npng > 1000 && njpg > 1000);
    if (png && jpg) {
        check_cuts(ctx, png, npng, "cut.png");
        check_cuts(ctx, jpg, njpg, "cut.jpg");
        /* A flipped bit inside the PNG's image data breaks its chunk CRC. */
        png[npng / 2] ^= 0x10;
        CHECK(write_file(tpath("crc.png"), png, npng));
        impasto_image *bad = NULL;
        CHECK(impasto_image_load(ctx, tpath("crc.png"), &bad) == IMPASTO_ERR_FORMAT);
        CHECK(bad == NULL && msg_ok(ctx, tpath("crc.png")));
        /* A JPEG frame header claiming 12-bit precision is refused by 8-bit libjpeg. */
        for (size_t i = 2; i + 4 < njpg; i++)
            if (jpg[i] == 0xff && (jpg[i + 1] == 0xc0 || jpg[i + 1] == 0xc1)) {
                jpg[i + 4] = 3;
                break;
            }
        CHECK(write_file(tpath("sof.jpg"), jpg, njpg));
        CHECK(impasto_image_load(ctx, tpath("sof.jpg"), &bad) == IMPASTO_ERR_FORMAT);
        CHECK(bad == NULL && msg_ok(ctx, tpath("sof.jpg")));
    }
    free(png);
    free(jpg);
    impasto_ctx_free(ctx);
}

static void test_garbage_empty_missing(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_image *img = NULL;
    const unsigned char garbage[] = "GIF89a this is not what you think it is";
    CHECK(write_file(tpath("garbage.png"), garbage, sizeof garbage));
    CHECK(impasto_image_load(ctx, tpath("garbage.png"), &img) == IMPASTO_ERR_FORMAT && !img);
    CHECK(msg_ok(ctx, tpath("garbage.png")) &&
          strstr(impasto_ctx_error(ctx), "not a PNG or JPEG image"));
    CHECK(write_file(tpath("empty.jpg"), garbage, 0));
    CHECK(impasto_image_load(ctx, tpath("empty.jpg"), &img) == IMPASTO_ERR_FORMAT && !img);
    CHECK(msg_ok(ctx, tpath("empty.jpg")));
    CHECK(impasto_image_load(ctx, tpath("missing.png"), &img) == IMPASTO_ERR_IO && !img);
    CHECK(msg_ok(ctx, tpath("missing.png")) && strstr(impasto_ctx_error(ctx), strerror(ENOENT)));
    CHECK(impasto_image_load(ctx, tmpdir, &img) == IMPASTO_ERR_IO && !img);
    CHECK(impasto_image_load(ctx, tpath("x.png"), NULL) == IMPASTO_ERR_INVALID_ARG);
    impasto_ctx_free(ctx);
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

static void test_huge_and_empty_headers(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_image *img = NULL;
    const char *p = tpath("huge.png");
    write_png_header_only(p, 30000, 30000);
    CHECK(impasto_image_load(ctx, p, &img) == IMPASTO_ERR_TOO_LARGE && !img);
    CHECK_MSG(msg_ok(ctx, p) && strstr(impasto_ctx_error(ctx), "30000x30000") &&
                  strstr(impasto_ctx_error(ctx), "100000000") &&
                  strstr(impasto_ctx_error(ctx), "over the limit of 100000000 pixels") &&
                  !strstr(impasto_ctx_error(ctx), "impasto_"),
              "%s", impasto_ctx_error(ctx));
    write_png_header_only(p, 0x7fffffff, 0x7fffffff);
    CHECK(impasto_image_load(ctx, p, &img) == IMPASTO_ERR_TOO_LARGE && !img);
    write_png_header_only(p, 0, 10);
    CHECK(impasto_image_load(ctx, p, &img) == IMPASTO_ERR_FORMAT && !img);
    CHECK(msg_ok(ctx, p));
    /* A sane size but no image data: a format error from libpng, cleanly. */
    write_png_header_only(p, 10, 10);
    CHECK(impasto_image_load(ctx, p, &img) == IMPASTO_ERR_FORMAT && !img);
    CHECK(msg_ok(ctx, p));

    /* A JPEG whose frame header claims 60000x60000. */
    impasto_image *small = new_image(ctx, 8, 8, 3);
    CHECK(impasto_image_save(ctx, small, tpath("s.jpg"), 90) == IMPASTO_OK);
    impasto_image_free(small);
    size_t n = 0;
    unsigned char *jpg = read_file(tpath("s.jpg"), &n);
    int patched = 0;
    for (size_t i = 2; jpg && i + 9 < n; i++)
        if (jpg[i] == 0xff && (jpg[i + 1] == 0xc0 || jpg[i + 1] == 0xc1)) {
            jpg[i + 5] = 0xea, jpg[i + 6] = 0x60, jpg[i + 7] = 0xea, jpg[i + 8] = 0x60;
            patched = 1;
            break;
        }
    CHECK(patched);
    CHECK(write_file(tpath("huge.jpg"), jpg, n));
    free(jpg);
    CHECK(impasto_image_load(ctx, tpath("huge.jpg"), &img) == IMPASTO_ERR_TOO_LARGE && !img);
    CHECK_MSG(msg_ok(ctx, tpath("huge.jpg")) && strstr(impasto_ctx_error(ctx), "60000x60000"), "%s",
              impasto_ctx_error(ctx));
    impasto_ctx_free(ctx);
}

static void test_pixel_limit(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_image *a = new_image(ctx, 10, 10, 3), *b = new_image(ctx, 11, 10, 3), *img = NULL;
    CHECK(impasto_image_save(ctx, a, tpath("10.png"), 0) == IMPASTO_OK);
    CHECK(impasto_image_save(ctx, b, tpath("11.png"), 0) == IMPASTO_OK);
    CHECK(impasto_image_save(ctx, b, tpath("11.jpg"), 0) == IMPASTO_OK);
    impasto_ctx_set_max_pixels(ctx, 100);
    CHECK(impasto_image_load(ctx, tpath("10.png"), &img) == IMPASTO_OK);
    impasto_image_free(img);
    CHECK(impasto_image_load(ctx, tpath("11.png"), &img) == IMPASTO_ERR_TOO_LARGE && !img);
    CHECK_MSG(strstr(impasto_ctx_error(ctx), "11x10") &&
                  strstr(impasto_ctx_error(ctx), "limit of 100"),
              "%s", impasto_ctx_error(ctx));
    CHECK(impasto_image_load(ctx, tpath("11.jpg"), &img) == IMPASTO_ERR_TOO_LARGE && !img);
    CHECK(impasto_image_create(ctx, 11, 10, 3, &img) == IMPASTO_ERR_TOO_LARGE && !img);
    CHECK(impasto_image_create(ctx, 0, 10, 3, &img) == IMPASTO_ERR_INVALID_ARG && !img);
    CHECK(impasto_image_create(ctx, 5, 5, 5, &img) == IMPASTO_ERR_INVALID_ARG && !img);
    CHECK(impasto_image_resize(ctx, a, 11, 10, &img) == IMPASTO_ERR_TOO_LARGE && !img);
    CHECK(impasto_image_resize(ctx, a, 5, 20, &img) == IMPASTO_OK);
    impasto_image_free(img);
    impasto_image_free(a);
    impasto_image_free(b);
    impasto_ctx_free(ctx);
}

/* ---- atomic saving ---------------------------------------------------------------------- */

static void test_atomic_save(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    char sub[512], target[600], dirpath[600], missing[600];
    snprintf(sub, sizeof sub, "%s", tpath("atomic"));
    CHECK(mkdir(sub, 0755) == 0);
    snprintf(target, sizeof target, "%s/keep.png", sub);
    snprintf(dirpath, sizeof dirpath, "%s/folder.png", sub);
    snprintf(missing, sizeof missing, "%s/no/such/dir/x.png", sub);

    impasto_image *old = new_image(ctx, 4, 3, 1);
    for (int i = 0; i < 12; i++) impasto_image_data(old)[i] = i / 255.0f;
    CHECK(impasto_image_save(ctx, old, target, 0) == IMPASTO_OK);
    size_t n_old = 0;
    unsigned char *bytes_old = read_file(target, &n_old);

    /* A big noisy picture: its PNG is far larger than the write limit set below. */
    unsigned long long rng = 7;
    impasto_image *big = new_image(ctx, 200, 200, 3);
    for (int i = 0; i < 200 * 200 * 3; i++) impasto_image_data(big)[i] = test_uniform(&rng, 0, 1);

    CHECK(impasto_image_save(ctx, big, missing, 0) == IMPASTO_ERR_IO);
    CHECK(msg_ok(ctx, missing));

    CHECK(mkdir(dirpath, 0755) == 0);
    CHECK(impasto_image_save(ctx, big, dirpath, 0) == IMPASTO_ERR_IO);
    CHECK(msg_ok(ctx, dirpath));
    struct stat st;
    CHECK(stat(dirpath, &st) == 0 && S_ISDIR(st.st_mode));
    CHECK(count_entries(sub) == 2);

    /* A write that fails part-way (the file size limit stands in for a full disk). */
    struct rlimit lim, small = {.rlim_cur = 4096, .rlim_max = RLIM_INFINITY};
    getrlimit(RLIMIT_FSIZE, &lim);
    small.rlim_max = lim.rlim_max;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0);
    impasto_status s_png = impasto_image_save(ctx, big, target, 0);
    int png_msg = msg_ok(ctx, target);
    impasto_status s_jpg = impasto_image_save(ctx, big, tpath("atomic/keep.jpg"), 100);
    setrlimit(RLIMIT_FSIZE, &lim);
    signal(SIGXFSZ, prev);
    CHECK(s_png == IMPASTO_ERR_IO && png_msg);
    CHECK(s_jpg == IMPASTO_ERR_IO);
    CHECK(count_entries(sub) == 2); /* keep.png and folder.png: no temporary files left */
    size_t n_now = 0;
    unsigned char *bytes_now = read_file(target, &n_now);
    CHECK(bytes_old && bytes_now && n_now == n_old && memcmp(bytes_old, bytes_now, n_old) == 0);
    free(bytes_now);

    /* Refused before writing: a JPEG side over 65500, an unknown extension. */
    impasto_image *wide = new_image(ctx, 70000, 1, 1);
    CHECK(impasto_image_save(ctx, wide, tpath("atomic/wide.jpg"), 0) == IMPASTO_ERR_TOO_LARGE);
    impasto_image_free(wide);
    CHECK(impasto_image_save(ctx, old, tpath("atomic/x.bmp"), 0) == IMPASTO_ERR_INVALID_ARG);
    CHECK(impasto_image_save(ctx, old, tpath("atomic/png"), 0) == IMPASTO_ERR_INVALID_ARG);
    CHECK(count_entries(sub) == 2);

    /* A successful save replaces the old file. */
    CHECK(impasto_image_save(ctx, big, target, 0) == IMPASTO_OK);
    impasto_image *back = NULL;
    CHECK(impasto_image_load(ctx, target, &back) == IMPASTO_OK);
    CHECK(back && impasto_image_width(back) == 200);
    CHECK(count_entries(sub) == 2);
    impasto_image_free(back);
    free(bytes_old);
    impasto_image_free(old);
    impasto_image_free(big);
    impasto_ctx_free(ctx);
}

/* ---- images in memory ------------------------------------------------------------------- */

/* The message of a failed in-memory load: one line, saying the data was in memory. */
static int mem_msg_ok(impasto_ctx *ctx) {
    const char *m = impasto_ctx_error(ctx);
    return strstr(m, "in-memory") != NULL && strchr(m, '\n') == NULL;
}

/* Saved to memory, the bytes are the file impasto_image_save writes; loaded back from memory,
 * the pixels are what impasto_image_load gives for that file. Noise, so that the PNG is tens of
 * kilobytes and the output buffer (4 KB at first) has to grow several times. */
static void test_memory_roundtrip(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    unsigned long long rng = 7;
    const char *formats[] = {"png", "PNG", "jpeg", "jpg", "JPEG"};
    for (int c = 1; c <= 4; c++) {
        int w = 240, h = 160;
        impasto_image *img = new_image(ctx, w, h, c);
        for (int i = 0; i < w * h * c; i++) impasto_image_data(img)[i] = test_uniform(&rng, 0, 1);
        for (int f = 0; f < 5; f++) {
            int png = f < 2;
            void *data = (void *)1;
            size_t n = 1;
            CHECK(impasto_image_save_memory(ctx, img, formats[f], 90, &data, &n) == IMPASTO_OK);
            CHECK(data && data != (void *)1 && n > 100);
            const char *p = tpath(png ? "mem.png" : "mem.jpg");
            CHECK(impasto_image_save(ctx, img, p, 90) == IMPASTO_OK);
            size_t nf = 0;
            unsigned char *file = read_file(p, &nf);
            CHECK_MSG(file && nf == n && data && memcmp(file, data, n) == 0,
                      "%s, %d channels: %zu bytes in memory, %zu in the file", formats[f], c, n, nf);
            if (png) CHECK_MSG(n > 30000, "%d channels: only %zu bytes", c, n);
            impasto_image *back = NULL, *ref = NULL;
            if (data) CHECK(impasto_image_load_memory(ctx, data, n, &back) == IMPASTO_OK);
            CHECK(impasto_image_load(ctx, p, &ref) == IMPASTO_OK);
            if (back && ref) {
                int ch = impasto_image_channels(back);
                CHECK(impasto_image_width(back) == w && impasto_image_height(back) == h);
                CHECK(ch == (png ? c : c <= 2 ? 1 : 3) && ch == impasto_image_channels(ref));
                CHECK(memcmp(impasto_image_cdata(back), impasto_image_cdata(ref),
                             (size_t)w * h * ch * sizeof(float)) == 0);
                /* PNG is lossless at 8 bits. */
                if (png) {
                    double maxerr = 0;
                    for (int i = 0; i < w * h * c; i++)
                        maxerr = fmax(maxerr, fabs(impasto_image_cdata(back)[i] -
                                                   impasto_image_cdata(img)[i]));
                    CHECK_NEAR(maxerr, 0.0, 0.5 / 255 + 1e-6);
                }
            }
            impasto_image_free(back);
            impasto_image_free(ref);
            free(file);
            impasto_free(data);
        }
        impasto_image_free(img);
    }
    /* Quality 0 is 95, as for files. */
    impasto_image *img = new_image(ctx, 32, 16, 3);
    for (int i = 0; i < 32 * 16 * 3; i++) impasto_image_data(img)[i] = test_uniform(&rng, 0, 1);
    void *q0 = NULL, *q95 = NULL;
    size_t n0 = 0, n95 = 0;
    CHECK(impasto_image_save_memory(ctx, img, "jpeg", 0, &q0, &n0) == IMPASTO_OK);
    CHECK(impasto_image_save_memory(ctx, img, "jpeg", 95, &q95, &n95) == IMPASTO_OK);
    CHECK(q0 && q95 && n0 == n95 && memcmp(q0, q95, n0) == 0);
    impasto_free(q0);
    impasto_free(q95);
    impasto_image_free(img);
    impasto_free(NULL);
    impasto_ctx_free(ctx);
}

/* EXIF orientation applies to JPEG bytes in memory as to files. */
static void test_memory_exif(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_image *img = new_image(ctx, 24, 16, 3);
    CHECK(impasto_image_save(ctx, img, tpath("plain.jpg"), 90) == IMPASTO_OK);
    impasto_image_free(img);
    size_t n = 0, no = 0;
    unsigned char *jpg = read_file(tpath("plain.jpg"), &n), seg[128];
    size_t sn = make_exif(seg, 6, 0);
    CHECK(jpg && write_with_segment(tpath("o6.jpg"), jpg, n, seg, sn));
    unsigned char *o6 = read_file(tpath("o6.jpg"), &no);
    impasto_image *out = NULL;
    CHECK(o6 && impasto_image_load_memory(ctx, o6, no, &out) == IMPASTO_OK);
    CHECK(out && impasto_image_width(out) == 16 && impasto_image_height(out) == 24);
    impasto_image_free(out);
    free(o6);
    free(jpg);
    impasto_ctx_free(ctx);
}

/* Every cut and a flipped bit in PNG and JPEG bytes: IMPASTO_ERR_FORMAT, no image, a message. */
static void test_memory_damaged(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    unsigned long long rng = 42;
    impasto_image *img = new_image(ctx, 64, 48, 3);
    for (int i = 0; i < 64 * 48 * 3; i++) impasto_image_data(img)[i] = test_uniform(&rng, 0, 1);
    for (int png = 0; png <= 1; png++) {
        unsigned char *good = NULL;
        size_t n = 0;
        CHECK(impasto_image_save_memory(ctx, img, png ? "png" : "jpeg", 90, (void **)&good, &n) ==
              IMPASTO_OK);
        if (!good) continue;
        size_t cuts[] = {1, 2, 3, 8, 12, 20, 33, 60, n / 4, n / 2, (3 * n) / 4, n - 20, n - 2, n - 1};
        for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
            /* A copy of exactly the cut length, so reading past it is caught by ASan. */
            unsigned char *cut = malloc(cuts[i]);
            memcpy(cut, good, cuts[i]);
            impasto_image *out = (impasto_image *)1;
            impasto_status s = impasto_image_load_memory(ctx, cut, cuts[i], &out);
            CHECK_MSG(s == IMPASTO_ERR_FORMAT, "%s cut at %zu of %zu: status %d (%s)",
                      png ? "PNG" : "JPEG", cuts[i], n, s, impasto_ctx_error(ctx));
            CHECK(out == NULL);
            CHECK_MSG(mem_msg_ok(ctx), "message: %s", impasto_ctx_error(ctx));
            free(cut);
        }
        /* Past the signature: PNG's chunk CRC breaks; JPEG's frame header claims 12 bits. */
        if (png) {
            good[n / 2] ^= 0x10;
        } else {
            for (size_t i = 2; i + 4 < n; i++)
                if (good[i] == 0xff && (good[i + 1] == 0xc0 || good[i + 1] == 0xc1)) {
                    good[i + 4] = 3;
                    break;
                }
        }
        impasto_image *out = NULL;
        CHECK(impasto_image_load_memory(ctx, good, n, &out) == IMPASTO_ERR_FORMAT && !out);
        CHECK(mem_msg_ok(ctx));
        impasto_free(good);
    }
    impasto_image_free(img);
    /* Neither format, and nothing at all. */
    const char garbage[] = "GIF89a this is not what you think it is";
    impasto_image *out = NULL;
    CHECK(impasto_image_load_memory(ctx, garbage, sizeof garbage, &out) == IMPASTO_ERR_FORMAT);
    CHECK(!out && mem_msg_ok(ctx) && strstr(impasto_ctx_error(ctx), "not a PNG or JPEG image"));
    CHECK(impasto_image_load_memory(ctx, garbage, 0, &out) == IMPASTO_ERR_FORMAT && !out);
    CHECK(mem_msg_ok(ctx) && strstr(impasto_ctx_error(ctx), "empty"));
    impasto_ctx_free(ctx);
}

/* The pixel limit and absurd header sizes, as for files. */
static void test_memory_limits(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_image *img = new_image(ctx, 11, 10, 3), *out = NULL;
    void *png = NULL, *jpg = NULL;
    size_t npng = 0, njpg = 0;
    CHECK(impasto_image_save_memory(ctx, img, "png", 0, &png, &npng) == IMPASTO_OK);
    CHECK(impasto_image_save_memory(ctx, img, "jpg", 0, &jpg, &njpg) == IMPASTO_OK);
    impasto_image_free(img);
    impasto_ctx_set_max_pixels(ctx, 100);
    CHECK(png && impasto_image_load_memory(ctx, png, npng, &out) == IMPASTO_ERR_TOO_LARGE && !out);
    CHECK_MSG(strstr(impasto_ctx_error(ctx), "11x10") && mem_msg_ok(ctx), "%s",
              impasto_ctx_error(ctx));
    CHECK(jpg && impasto_image_load_memory(ctx, jpg, njpg, &out) == IMPASTO_ERR_TOO_LARGE && !out);
    impasto_ctx_set_max_pixels(ctx, 110);
    CHECK(png && impasto_image_load_memory(ctx, png, npng, &out) == IMPASTO_OK && out);
    impasto_image_free(out);
    impasto_free(png);
    impasto_free(jpg);
    /* More bytes than any image within the limit can take (the limit file loads have). The data
     * is not read: only its size is looked at, so a small buffer stands in. */
    impasto_ctx_set_max_pixels(ctx, 1);
    char one = 0;
    out = NULL;
    CHECK(impasto_image_load_memory(ctx, &one, ((size_t)64 << 20) + 9, &out) ==
              IMPASTO_ERR_TOO_LARGE &&
          !out);
    impasto_ctx_set_max_pixels(ctx, 100u << 20);
    write_png_header_only(tpath("huge.png"), 30000, 30000);
    size_t n = 0;
    unsigned char *huge = read_file(tpath("huge.png"), &n);
    CHECK(huge && impasto_image_load_memory(ctx, huge, n, &out) == IMPASTO_ERR_TOO_LARGE && !out);
    CHECK(strstr(impasto_ctx_error(ctx), "30000x30000") != NULL);
    free(huge);
    impasto_ctx_free(ctx);
}

/* NULL arguments, an unknown format and a bad quality: IMPASTO_ERR_INVALID_ARG, the outputs
 * cleared. */
static void test_memory_bad_args(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_image *img = new_image(ctx, 8, 8, 3), *out = (impasto_image *)1;
    const unsigned char byte = 0x89;
    CHECK(impasto_image_load_memory(ctx, NULL, 0, &out) == IMPASTO_ERR_INVALID_ARG && !out);
    CHECK(impasto_ctx_error(ctx)[0] != 0);
    CHECK(impasto_image_load_memory(ctx, NULL, 10, &out) == IMPASTO_ERR_INVALID_ARG && !out);
    CHECK(impasto_image_load_memory(ctx, &byte, 1, NULL) == IMPASTO_ERR_INVALID_ARG);
    out = (impasto_image *)1;
    CHECK(impasto_image_load_memory(NULL, &byte, 1, &out) == IMPASTO_ERR_INVALID_ARG && !out);

    void *data = (void *)1;
    size_t n = 5;
    CHECK(impasto_image_save_memory(ctx, img, "gif", 0, &data, &n) == IMPASTO_ERR_INVALID_ARG);
    CHECK(!data && n == 0 && strstr(impasto_ctx_error(ctx), "gif"));
    CHECK(impasto_image_save_memory(ctx, img, ".png", 0, &data, &n) == IMPASTO_ERR_INVALID_ARG);
    CHECK(impasto_image_save_memory(ctx, img, "", 0, &data, &n) == IMPASTO_ERR_INVALID_ARG);
    data = (void *)1, n = 5;
    CHECK(impasto_image_save_memory(ctx, img, "jpeg", 101, &data, &n) == IMPASTO_ERR_INVALID_ARG);
    CHECK(!data && n == 0 && strstr(impasto_ctx_error(ctx), "101"));
    CHECK(impasto_image_save_memory(ctx, img, "jpeg", -1, &data, &n) == IMPASTO_ERR_INVALID_ARG);
    CHECK(impasto_image_save_memory(ctx, img, NULL, 0, &data, &n) == IMPASTO_ERR_INVALID_ARG);
    CHECK(impasto_image_save_memory(ctx, NULL, "png", 0, &data, &n) == IMPASTO_ERR_INVALID_ARG);
    CHECK(impasto_image_save_memory(ctx, img, "png", 0, NULL, &n) == IMPASTO_ERR_INVALID_ARG);
    data = (void *)1;
    CHECK(impasto_image_save_memory(ctx, img, "png", 0, &data, NULL) == IMPASTO_ERR_INVALID_ARG);
    CHECK(!data);
    CHECK(impasto_image_save_memory(NULL, img, "png", 0, &data, &n) == IMPASTO_ERR_INVALID_ARG);
    impasto_image_free(img);
    impasto_ctx_free(ctx);
}

/* ---- a real photograph ------------------------------------------------------------------ */

static void test_real_photo(void) {
    char p[1024];
    snprintf(p, sizeof p, "%s/images/content/tubingen.jpg", test_shared_dir());
    if (access(p, R_OK) != 0) {
        printf("  (skipped: %s not found)\n", p);
        return;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_image *img = NULL, *small = NULL;
    CHECK(impasto_image_load(ctx, p, &img) == IMPASTO_OK);
    if (img) {
        int w = impasto_image_width(img), h = impasto_image_height(img);
        CHECK(w >= 200 && w <= 8000 && h >= 200 && h <= 8000 && impasto_image_channels(img) == 3);
        double sum = 0;
        size_t n = (size_t)w * h * 3;
        for (size_t i = 0; i < n; i++) sum += impasto_image_cdata(img)[i];
        CHECK(sum / n > 0.1 && sum / n < 0.9);
        CHECK(impasto_image_resize_max_side(ctx, img, 256, &small) == IMPASTO_OK);
        CHECK(small && (impasto_image_width(small) == 256 || impasto_image_height(small) == 256));
        CHECK(impasto_image_save(ctx, small, tpath("tubingen_small.png"), 0) == IMPASTO_OK);
    }
    impasto_image_free(small);
    impasto_image_free(img);
    impasto_ctx_free(ctx);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "%s/impasto-test-image-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_png_roundtrip_8bit);
    RUN(test_png_16bit);
    RUN(test_png_interlaced_rgba);
    RUN(test_png_palette_and_low_depth);
    RUN(test_jpeg_roundtrip);
    RUN(test_jpeg_exif_orientation);
    RUN(test_jpeg_cmyk);
    RUN(test_truncated_and_corrupt);
    RUN(test_garbage_empty_missing);
    RUN(test_huge_and_empty_headers);
    RUN(test_pixel_limit);
    RUN(test_atomic_save);
    RUN(test_memory_roundtrip);
    RUN(test_memory_exif);
    RUN(test_memory_damaged);
    RUN(test_memory_limits);
    RUN(test_memory_bad_args);
    RUN(test_real_photo);
    remove_tree(tmpdir);
    return test_summary();
}
