/* Image I/O: PNG/JPEG round trips, files written here with libpng/libjpeg directly
 * (16-bit, palette, interlaced, CMYK), EXIF orientation, damaged and hostile files, the pixel
 * limit and atomic saving (in memory: tests/test_image_memory.c; resampling: tests/test_resample.c).
 * Every file lives in a mkdtemp directory that is removed at the end. */
#include "impasto.h"
#include "test.h"
#include "image_util.h"

#include <dirent.h>
#include <errno.h>
#include <jpeglib.h>
#include <png.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

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
    RUN(test_real_photo);
    remove_tree(tmpdir);
    return test_summary();
}
