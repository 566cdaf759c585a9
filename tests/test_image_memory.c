/* Images from and to memory (impasto_image_load_memory, impasto_image_save_memory): the bytes are
 * the files impasto_image_save writes, EXIF applies, damaged bytes and limits are refused as from a
 * file, bad arguments are caught. Files for comparison live in a mkdtemp folder removed at the end. */
#include "impasto.h"
#include "test.h"
#include "image_util.h"

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

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "%s/impasto-test-image-memory-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_memory_roundtrip);
    RUN(test_memory_exif);
    RUN(test_memory_damaged);
    RUN(test_memory_limits);
    RUN(test_memory_bad_args);
    remove_tree(tmpdir);
    return test_summary();
}
