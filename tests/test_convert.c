/* MD5 (RFC 1321 test suite), the upstream VGG-19 readers and impasto_convert_vgg19 on the real files
 * in ../shared/models/upstream: known weights read independently from the raw bytes, the layout
 * facts (the float32 head and the uint8 set agree to half a step only in the right layout), and
 * rejection of a corrupted, a truncated, a missing and a wrongly transposed file.
 * The parts that need ../shared print "skipped" and pass when it is absent. */
#include "core/ctx.h"
#include "formats/md5.h"
#include "formats/safetensors.h"
#include "formats/vgg19_upstream.h"
#include "test.h"

#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

static char f32_dir[512], u8_dir[512];
static int have_shared;

static void test_md5(void) {
    /* RFC 1321 appendix A.5. */
    static const char *const in[] = {
        "", "a", "abc", "message digest", "abcdefghijklmnopqrstuvwxyz",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
    };
    static const char *const out[] = {
        "d41d8cd98f00b204e9800998ecf8427e", "0cc175b9c0f1b6a831c399e269772661",
        "900150983cd24fb0d6963f7d28e17f72", "f96b697d7cb7938d525a2f31aaf161d0",
        "c3fcd3d76192e4007dfb496cca67e13b", "d174ab98d277d9f5a5611c2c9f419d9f",
        "57edf4a22be3c955ac49da2e2107b67a",
    };
    char hex[33];
    for (int i = 0; i < 7; i++) {
        md5_hex(in[i], strlen(in[i]), hex);
        CHECK_MSG(strcmp(hex, out[i]) == 0, "md5(\"%s\") = %s", in[i], hex);
    }
    /* Fed in uneven pieces (crossing the 64-byte blocks and the 56-byte padding edge), the digest
     * is the same as in one call. */
    unsigned char buf[300];
    for (int i = 0; i < 300; i++) buf[i] = (unsigned char)(i * 7 + 3);
    for (size_t len = 0; len <= 300; len += 11) {
        char one[33], pieces[33];
        md5_hex(buf, len, one);
        md5_state s;
        unsigned char d[16];
        md5_init(&s);
        for (size_t off = 0, step = 1; off < len; off += step, step = step * 2 % 61 + 1)
            md5_update(&s, buf + off, off + step > len ? len - off : step);
        md5_final(&s, d);
        for (int i = 0; i < 16; i++) snprintf(pieces + 2 * i, 3, "%02x", d[i]);
        CHECK(strcmp(one, pieces) == 0);
    }
}

/* ---- helpers for temporary copies of the upstream folders ---------------------------------- */

static int copy_file(const char *from, const char *to) {
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    int ok = a && b;
    char buf[65536];
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, a)) > 0) ok = fwrite(buf, 1, n, b) == n;
    if (a) fclose(a);
    if (b && fclose(b) != 0) ok = 0;
    return ok;
}

/* Copies the regular files of `from` into a new temporary folder named in tmp; returns tmp or NULL. */
static const char *copy_dir(const char *from, char *tmp, size_t cap) {
    snprintf(tmp, cap, "/tmp/impasto-test-conv-XXXXXX");
    if (!mkdtemp(tmp)) return NULL;
    DIR *d = opendir(from);
    if (!d) return NULL;
    struct dirent *e;
    int ok = 1;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char a[1024], b[1024];
        snprintf(a, sizeof a, "%s/%s", from, e->d_name);
        snprintf(b, sizeof b, "%s/%s", tmp, e->d_name);
        ok &= copy_file(a, b);
    }
    closedir(d);
    return ok ? tmp : NULL;
}

static void remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Reads or rewrites `len` bytes at `off` of dir/name. */
static int patch_file(const char *dir, const char *name, long off, void *bytes, size_t len, int write) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, write ? "r+b" : "rb");
    if (!f) return 0;
    int ok = fseek(f, off, SEEK_SET) == 0 &&
             (write ? fwrite(bytes, 1, len, f) == len : fread(bytes, 1, len, f) == len);
    return fclose(f) == 0 && ok;
}

static impasto_status convert2(impasto_ctx *ctx, const char *a, const char *b, const char *out) {
    const char *dirs[2] = {a, b};
    return impasto_convert_vgg19(ctx, dirs, b ? 2 : 1, out);
}

static char out_path[256];

/* ---- tests on the real files --------------------------------------------------------------- */

/* Values read from the raw upstream bytes with numpy (see the comments), not through impasto. */
static void test_convert_known_values(void) {
    if (!have_shared) {
        printf("skipped (no %s)\n", f32_dir);
        return;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    CHECK(convert2(ctx, f32_dir, u8_dir, out_path) == IMPASTO_OK);
    safetensors *st = NULL;
    CHECK_MSG(safetensors_open(ctx, out_path, &st) == IMPASTO_OK, "%s", impasto_ctx_error(ctx));
    if (!st) goto out;
    CHECK(safetensors_count(st) == 32);
    CHECK(strcmp(safetensors_meta(st, "kind"), "vgg19") == 0);
    CHECK(strcmp(safetensors_meta(st, "input"), "rgb-caffe") == 0);
    CHECK(strcmp(safetensors_meta(st, "impasto_version"), IMPASTO_VERSION) == 0);
    const char *src = safetensors_meta(st, "source");
    CHECK(src && strstr(src, "conv1_1..conv3_4: vgg19-imagenet-f32-head/model.json") &&
          strstr(src, "conv4_1..conv5_4: vgg19-imagenet-uint8/manifest.json"));
    CHECK(strcmp(safetensors_at(st, 0)->name, "conv1_1.weight") == 0);
    CHECK(strcmp(safetensors_at(st, 31)->name, "conv5_4.bias") == 0);

    /* conv1_1 from group1-shard1of1 (Keras (KH, KW, IC, OC), BGR): w[o][i][kh][kw] is the shard's
     * float number ((kh*3 + kw)*3 + (2 - i))*64 + o. */
    float *w = malloc(512 * 512 * 9 * sizeof *w);
    int64_t s11[4] = {64, 3, 3, 3}, s54[4] = {512, 512, 3, 3}, b64 = 64, b512 = 512;
    CHECK(safetensors_get_f32(ctx, st, "conv1_1.weight", 4, s11, w) == IMPASTO_OK);
#define W11(o, i, kh, kw) w[(((o) * 3 + (i)) * 3 + (kh)) * 3 + (kw)]
    CHECK(W11(0, 0, 0, 1) == 0.37740308f);    /* shard float 320 */
    CHECK(W11(0, 0, 1, 0) == 0.267129898f);   /* shard float 704 */
    CHECK(W11(0, 2, 0, 0) == 0.341195226f);   /* shard float 0 (B of Keras = our channel 2) */
    CHECK(W11(5, 1, 2, 0) == -0.175149724f);  /* shard float 1221 */
    CHECK(W11(63, 2, 1, 2) == -0.215103865f); /* shard float 1023 */
    CHECK(safetensors_get_f32(ctx, st, "conv1_1.bias", 1, &b64, w) == IMPASTO_OK);
    CHECK(w[0] == 0.730177581f);              /* shard float 1728 */

    /* conv5_4 from conv5_4_kernel (uint8, stored (KW, KH, IC, OC)): byte ((kw*3 + kh)*512 + i)*512 + o,
     * value -0.11398990750312805 + 0.0011175481127757652 * q. */
    CHECK(safetensors_get_f32(ctx, st, "conv5_4.weight", 4, s54, w) == IMPASTO_OK);
#define W54(o, i, kh, kw) w[(((size_t)(o) * 512 + (i)) * 3 + (kh)) * 3 + (kw)]
    CHECK(W54(0, 0, 0, 1) == -0.00558774034f);    /* byte 786432, q 97 */
    CHECK(W54(0, 0, 1, 0) == -0.00335264439f);    /* byte 262144, q 99 */
    CHECK(W54(511, 511, 0, 2) == -0.00558774034f); /* byte 1835007, q 97 */
    CHECK(W54(511, 511, 2, 0) == 0.00111754809f); /* byte 786431, q 103 */
    CHECK(W54(17, 300, 1, 2) == -0.0134105776f);  /* byte 1988625, q 90 */
    CHECK(safetensors_get_f32(ctx, st, "conv5_4.bias", 1, &b512, w) == IMPASTO_OK);
    CHECK(w[3] == 0.15838407f);                   /* conv5_4_bias byte 3, q 16 */
    free(w);
out:
    safetensors_close(st);
    impasto_ctx_free(ctx);
}

/* The layout facts: in impasto's layout the two sources agree to half a quantisation step (the
 * uint8 set is the float32 one rounded to nearest); read with kh and kw swapped, or conv1_1's
 * channels unreversed, they are many steps apart. */
static void test_layout_agreement(void) {
    if (!have_shared) {
        printf("skipped\n");
        return;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    vgg19_upstream f, q;
    CHECK(vgg19_upstream_read(ctx, f32_dir, &f) == IMPASTO_OK);
    CHECK(vgg19_upstream_read(ctx, u8_dir, &q) == IMPASTO_OK);
    static const int ic[8] = {3, 64, 64, 128, 128, 256, 256, 256}, oc[8] = {64, 64, 128, 128, 256, 256, 256, 256};
    for (int c = 0; c < 16; c++) {
        CHECK(q.conv[c].present && q.conv[c].w_step > 0);
        CHECK(f.conv[c].present == (c < 8));
    }
    printf("  max |float32 - uint8| in quantisation steps (right layout / kh,kw swapped / RGB unflipped):\n");
    for (int c = 0; c < 8 && f.conv[c].present && q.conv[c].present; c++) {
        double right = 0, swapped = 0, unflipped = 0, bias = 0;
        for (int o = 0; o < oc[c]; o++)
            for (int i = 0; i < ic[c]; i++)
                for (int kh = 0; kh < 3; kh++)
                    for (int kw = 0; kw < 3; kw++) {
                        size_t a = (((size_t)o * ic[c] + i) * 3 + kh) * 3 + kw;
                        size_t t = (((size_t)o * ic[c] + i) * 3 + kw) * 3 + kh;
                        size_t u = (((size_t)o * ic[c] + (c == 0 ? 2 - i : i)) * 3 + kh) * 3 + kw;
                        right = fmax(right, fabs(f.conv[c].w[a] - q.conv[c].w[a]));
                        swapped = fmax(swapped, fabs(f.conv[c].w[t] - q.conv[c].w[a]));
                        unflipped = fmax(unflipped, fabs(f.conv[c].w[u] - q.conv[c].w[a]));
                    }
        for (int o = 0; o < oc[c]; o++) bias = fmax(bias, fabs(f.conv[c].b[o] - q.conv[c].b[o]));
        double sw = q.conv[c].w_step, sb = q.conv[c].b_step;
        printf("  conv%d_%d: weights %.3f / %.1f / ", c < 2 ? 1 : c < 4 ? 2 : 3, c < 4 ? c % 2 + 1 : c - 3,
               right / sw, swapped / sw);
        printf(c == 0 ? "%.1f" : "-", unflipped / sw);
        printf(", bias %.3f\n", bias / sb);
        CHECK(right <= 0.5 * sw * 1.001);
        CHECK(bias <= 0.5 * sb * 1.001);
        CHECK(swapped > 10 * sw);
        if (c == 0) CHECK(unflipped > 10 * sw);
    }
    vgg19_upstream_clear(&f);
    vgg19_upstream_clear(&q);
    impasto_ctx_free(ctx);
}

static void test_corrupt_and_missing(void) {
    if (!have_shared) {
        printf("skipped\n");
        return;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    char tmp[64];
    const char *dir = copy_dir(u8_dir, tmp, sizeof tmp);
    CHECK(dir != NULL);
    if (!dir) goto out;
    CHECK(convert2(ctx, f32_dir, dir, out_path) == IMPASTO_OK);

    /* One flipped bit in a uint8 file: its md5 no longer matches. */
    unsigned char byte;
    CHECK(patch_file(dir, "conv4_3_kernel", 123457, &byte, 1, 0));
    byte ^= 0x10;
    CHECK(patch_file(dir, "conv4_3_kernel", 123457, &byte, 1, 1));
    CHECK(convert2(ctx, f32_dir, dir, out_path) == IMPASTO_ERR_CHECKSUM);
    CHECK_MSG(strstr(impasto_ctx_error(ctx), "conv4_3_kernel") != NULL, "%s", impasto_ctx_error(ctx));
    byte ^= 0x10;
    CHECK(patch_file(dir, "conv4_3_kernel", 123457, &byte, 1, 1));
    CHECK(convert2(ctx, f32_dir, dir, out_path) == IMPASTO_OK);

    /* A missing file. */
    char p[256];
    snprintf(p, sizeof p, "%s/conv2_2_bias", dir);
    unlink(p);
    CHECK(convert2(ctx, f32_dir, dir, out_path) == IMPASTO_ERR_IO);
    CHECK_MSG(strstr(impasto_ctx_error(ctx), "conv2_2_bias") != NULL, "%s", impasto_ctx_error(ctx));

    /* The float32 head alone lacks conv4_1 ... conv5_4. */
    CHECK(convert2(ctx, f32_dir, NULL, out_path) == IMPASTO_ERR_FORMAT);
    CHECK_MSG(strstr(impasto_ctx_error(ctx), "conv4_1") != NULL, "%s", impasto_ctx_error(ctx));
    /* A folder of neither format. */
    CHECK(convert2(ctx, "tests", NULL, out_path) == IMPASTO_ERR_FORMAT);
    CHECK(convert2(ctx, "/nonexistent-dir", NULL, out_path) == IMPASTO_ERR_IO);
out:
    if (dir) remove_dir(dir);
    impasto_ctx_free(ctx);
}

/* A float32 head whose conv2_1 kernel is written (KW, KH, IC, OC) — the mistake a converter
 * would make with the wrong layout — no longer agrees with the uint8 set; a truncated shard and
 * a changed weight are caught too. */
static void test_float32_checks(void) {
    if (!have_shared) {
        printf("skipped\n");
        return;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    char tmp[64];
    const char *dir = copy_dir(f32_dir, tmp, sizeof tmp);
    CHECK(dir != NULL);
    if (!dir) goto out;
    const size_t ic = 64, oc = 128, n = 9 * ic * oc;
    float *k = malloc(n * sizeof *k), *t = malloc(n * sizeof *t);
    CHECK(patch_file(dir, "group3-shard1of1", 0, k, n * 4, 0));
    for (size_t a = 0; a < 3; a++)
        for (size_t b = 0; b < 3; b++) memcpy(t + (b * 3 + a) * ic * oc, k + (a * 3 + b) * ic * oc, ic * oc * 4);
    CHECK(patch_file(dir, "group3-shard1of1", 0, t, n * 4, 1));
    CHECK(convert2(ctx, dir, u8_dir, out_path) == IMPASTO_ERR_FORMAT);
    CHECK_MSG(strstr(impasto_ctx_error(ctx), "conv2_1") && strstr(impasto_ctx_error(ctx), "layout"), "%s",
              impasto_ctx_error(ctx));
    CHECK(convert2(ctx, dir, NULL, out_path) == IMPASTO_ERR_FORMAT);  /* alone: no conv4_1 */
    CHECK(patch_file(dir, "group3-shard1of1", 0, k, n * 4, 1));
    CHECK(convert2(ctx, dir, u8_dir, out_path) == IMPASTO_OK);

    /* One bias moved by a tenth: far beyond a quantisation step of the uint8 set. */
    float b0, b1;
    CHECK(patch_file(dir, "group4-shard1of1", (long)(9 * 128 * 128 * 4), &b0, 4, 0));
    b1 = b0 + 0.1f;
    CHECK(patch_file(dir, "group4-shard1of1", (long)(9 * 128 * 128 * 4), &b1, 4, 1));
    CHECK(convert2(ctx, dir, u8_dir, out_path) == IMPASTO_ERR_FORMAT);
    CHECK_MSG(strstr(impasto_ctx_error(ctx), "conv2_2") && strstr(impasto_ctx_error(ctx), "bias"), "%s",
              impasto_ctx_error(ctx));
    CHECK(patch_file(dir, "group4-shard1of1", (long)(9 * 128 * 128 * 4), &b0, 4, 1));

    /* A truncated shard. */
    char p[256];
    snprintf(p, sizeof p, "%s/group2-shard1of1", dir);
    CHECK(truncate(p, 147712 - 4) == 0);
    CHECK(convert2(ctx, dir, u8_dir, out_path) == IMPASTO_ERR_FORMAT);
    CHECK_MSG(strstr(impasto_ctx_error(ctx), "group2-shard1of1") != NULL, "%s", impasto_ctx_error(ctx));
    free(k);
    free(t);
out:
    if (dir) remove_dir(dir);
    impasto_ctx_free(ctx);
}

int main(void) {
    const char *shared = test_shared_dir();
    snprintf(f32_dir, sizeof f32_dir, "%s/models/upstream/vgg19-imagenet-f32-head", shared);
    snprintf(u8_dir, sizeof u8_dir, "%s/models/upstream/vgg19-imagenet-uint8", shared);
    struct stat s1, s2;
    have_shared = stat(f32_dir, &s1) == 0 && stat(u8_dir, &s2) == 0;
    snprintf(out_path, sizeof out_path, "/tmp/impasto-test-convert-%d.safetensors", (int)getpid());
    RUN(test_md5);
    RUN(test_convert_known_values);
    RUN(test_layout_agreement);
    RUN(test_corrupt_and_missing);
    RUN(test_float32_checks);
    unlink(out_path);
    return test_summary();
}
