/* The library's binary interface as a program sees it: linked against the public libimpasto.a
 * (the Makefile's rule for this test), not the internal archive the other tests use. This file
 * defines functions with the names of library internals (gemm, file_read_all, ctx_fail,
 * image_alloc) with other signatures: if any of them were still global in libimpasto.a, the
 * link would fail with a multiple definition, and if the library called ours instead of its
 * own, the image round trip below would break. tests/cli/test_install.sh checks the same against
 * the installed libraries. */
#include "impasto.h"
#include "test.h"

#include <stdio.h>

int gemm(int x);
const char *file_read_all(void);
int ctx_fail(int a, int b);
int image_alloc(void);

static int program_calls;

int gemm(int x) {
    program_calls++;
    return x * 2;
}
const char *file_read_all(void) {
    program_calls++;
    return "the program's own";
}
int ctx_fail(int a, int b) {
    program_calls++;
    return a + b;
}
int image_alloc(void) {
    program_calls++;
    return 7;
}

static void test_version(void) {
    char numbers[64];
    snprintf(numbers, sizeof numbers, "%d.%d.%d", IMPASTO_VERSION_MAJOR, IMPASTO_VERSION_MINOR,
             IMPASTO_VERSION_PATCH);
    CHECK(strcmp(numbers, IMPASTO_VERSION) == 0);
    /* Built from the same tree, the library and this program agree. */
    CHECK(impasto_version() != NULL);
    CHECK(strcmp(impasto_version(), IMPASTO_VERSION) == 0);
}

static void test_own_internal_names(void) {
    /* The library's own internals must run where it calls them, and ours where we do. */
    impasto_ctx *ctx = impasto_ctx_create();
    CHECK(ctx != NULL);
    if (!ctx) return;
    impasto_image *img = NULL, *back = NULL;
    CHECK(impasto_image_create(ctx, 9, 7, 3, &img) == IMPASTO_OK);
    void *png = NULL;
    size_t n = 0;
    if (img) {
        float *p = impasto_image_data(img);
        for (int i = 0; i < 9 * 7 * 3; i++) p[i] = (float)(i % 256) / 255.0f;
        CHECK(impasto_image_save_memory(ctx, img, "png", 0, &png, &n) == IMPASTO_OK);
    }
    if (png) CHECK(impasto_image_load_memory(ctx, png, n, &back) == IMPASTO_OK);
    CHECK(back && impasto_image_width(back) == 9 && impasto_image_height(back) == 7);
    if (back)
        CHECK(memcmp(impasto_image_cdata(back), impasto_image_cdata(img),
                     9 * 7 * 3 * sizeof(float)) == 0);
    /* A failure goes through the library's ctx_fail, which records a message. */
    impasto_image *bad = NULL;
    CHECK(impasto_image_load_memory(ctx, "nope", 4, &bad) == IMPASTO_ERR_FORMAT);
    CHECK(bad == NULL && impasto_ctx_error(ctx)[0] != 0);
    CHECK(program_calls == 0);
    CHECK(gemm(21) == 42 && strcmp(file_read_all(), "the program's own") == 0 &&
          ctx_fail(1, 2) == 3 && image_alloc() == 7);
    CHECK(program_calls == 4);
    impasto_free(png);
    impasto_image_free(back);
    impasto_image_free(img);
    impasto_ctx_free(ctx);
}

int main(void) {
    RUN(test_version);
    RUN(test_own_internal_names);
    return test_summary();
}
