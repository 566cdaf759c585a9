/* The ncnn reader (src/formats/ncnn.c) and impasto_convert_ncnn_transformernet:
 *   - float16 decoding and every weight storage tag on hand-made bytes;
 *   - the real files in ../shared/models/upstream/fast-neural-style: the layer list, all five
 *     styles converted, tensor names and shapes, known weights read independently from the raw
 *     bytes (the first float16 weight, the last bias), the file sizes adding up exactly;
 *   - hostile inputs: every truncation of the param, truncated and padded weights, absurd counts,
 *     bad blob indices and parameter ids, a wrong layer or padding mode: each an error with a
 *     message, never a crash (run under ASan by `make SANITIZE=1 test`).
 * The parts that need ../shared print "skipped" and pass when it is absent. */
#include "core/ctx.h"
#include "formats/ncnn.h"
#include "formats/safetensors.h"
#include "models/transformer_net.h"
#include "test.h"

#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[512], param_path[600];
static int have_shared;
static unsigned char *param_bytes;
static size_t param_size;

static void put_u32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8), p[2] = (unsigned char)(v >> 16), p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static unsigned char *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)n + 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *size = (size_t)n;
    return p;
}

static int write_file(const char *path, const unsigned char *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

static void test_half(void) {
    static const struct { uint16_t h; float f; } v[] = {
        {0x3c00, 1.0f}, {0xc000, -2.0f}, {0x7bff, 65504.0f}, {0x0001, 5.9604644775390625e-8f},
        {0x03ff, 6.0975551605224609e-5f}, {0x0400, 6.103515625e-5f}, {0x3555, 0.333251953125f},
        {0x0000, 0.0f}, {0xb800, -0.5f},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        CHECK_MSG(ncnn_half_to_float(v[i].h) == v[i].f, "half 0x%04x -> %.9g", v[i].h, ncnn_half_to_float(v[i].h));
    CHECK(signbit(ncnn_half_to_float(0x8000)) && ncnn_half_to_float(0x8000) == 0.0f);
    CHECK(isinf(ncnn_half_to_float(0x7c00)) && isnan(ncnn_half_to_float(0x7e00)));
}

static void test_bin_tags(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    unsigned char buf[2048];
    float out[8];
    /* float16: 3 values take 6 bytes, padded to 8. */
    put_u32(buf, 0x01306B47);
    buf[4] = 0x00, buf[5] = 0x3c, buf[6] = 0x00, buf[7] = 0xc0, buf[8] = 0x55, buf[9] = 0x35, buf[10] = buf[11] = 0;
    ncnn_bin b = {buf, 12, 0, "t.bin"};
    CHECK(ncnn_bin_read(ctx, &b, 3, 1, "w", out) == IMPASTO_OK && b.pos == 12);
    CHECK(out[0] == 1.0f && out[1] == -2.0f && out[2] == 0.333251953125f);
    /* ... and one byte short of the padding is a truncation. */
    b = (ncnn_bin){buf, 11, 0, "t.bin"};
    CHECK(ncnn_bin_read(ctx, &b, 3, 1, "w", out) == IMPASTO_ERR_FORMAT);
    CHECK(strstr(impasto_ctx_error(ctx), "truncated") != NULL);
    /* float32 with tag 0, with tag 0x0002C056, and untagged. */
    float f[2] = {1.5f, -3.25f};
    uint32_t tags[2] = {0, 0x0002C056};
    for (int t = 0; t < 2; t++) {
        put_u32(buf, tags[t]);
        memcpy(buf + 4, f, 8);
        b = (ncnn_bin){buf, 12, 0, "t.bin"};
        CHECK(ncnn_bin_read(ctx, &b, 2, 1, "w", out) == IMPASTO_OK && b.pos == 12 && out[0] == 1.5f && out[1] == -3.25f);
    }
    b = (ncnn_bin){buf + 4, 8, 0, "t.bin"};
    CHECK(ncnn_bin_read(ctx, &b, 2, 0, "b", out) == IMPASTO_OK && b.pos == 8 && out[1] == -3.25f);
    /* A value table: 256 floats, then 5 indices padded to 8. */
    put_u32(buf, 0x12345678);
    for (int i = 0; i < 256; i++) {
        float v = (float)i * 0.5f;
        memcpy(buf + 4 + 4 * i, &v, 4);
    }
    unsigned char idx[8] = {0, 1, 255, 7, 2, 0, 0, 0};
    memcpy(buf + 4 + 1024, idx, 8);
    b = (ncnn_bin){buf, 4 + 1024 + 8, 0, "t.bin"};
    CHECK(ncnn_bin_read(ctx, &b, 5, 1, "w", out) == IMPASTO_OK && b.pos == 1036);
    CHECK(out[0] == 0 && out[1] == 0.5f && out[2] == 127.5f && out[3] == 3.5f && out[4] == 1.0f);
    /* int8 needs scales from elsewhere: unsupported, said so. */
    put_u32(buf, 0x000D4B38);
    b = (ncnn_bin){buf, 64, 0, "t.bin"};
    CHECK(ncnn_bin_read(ctx, &b, 4, 1, "w", out) == IMPASTO_ERR_UNSUPPORTED);
    /* Empty file, and a count whose byte size overflows. */
    b = (ncnn_bin){buf, 0, 0, "t.bin"};
    CHECK(ncnn_bin_read(ctx, &b, 1, 1, "w", out) == IMPASTO_ERR_FORMAT);
    b = (ncnn_bin){buf, 64, 0, "t.bin"};
    CHECK(ncnn_bin_read(ctx, &b, SIZE_MAX / 2, 0, "w", out) == IMPASTO_ERR_FORMAT);
    put_u32(buf, 0x01306B47);
    CHECK(ncnn_bin_read(ctx, &b, SIZE_MAX / 2 + 5, 1, "w", out) == IMPASTO_ERR_FORMAT);
    impasto_ctx_free(ctx);
}

/* Hand-made params: each must be refused with IMPASTO_ERR_FORMAT and a message. */
static void test_param_hostile_synthetic(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    ncnn_net net;
    int32_t good[] = {7767517, 2, 2, 16, 0, 1, 0, -233, 26, 1, 1, 0, 1, 0, 0, -233};
    CHECK(ncnn_param_parse(ctx, (const unsigned char *)good, sizeof good, "p", &net) == IMPASTO_OK);
    CHECK(net.nlayers == 2 && net.layers[1].type == NCNN_RELU && net.layers[1].bottom[0] == 0 &&
          net.layers[1].top[0] == 1 && ncnn_param_float(&net.layers[1], 0, 9) == 0.0f &&
          ncnn_param_int(&net.layers[1], 5, 42) == 42);
    ncnn_net_clear(&net);
    struct { const char *what; int32_t v[20]; int n; } bad[] = {
        {"magic", {7767518, 1, 1, 16, 0, 1, 0, -233}, 8},
        {"layer count", {7767517, 0x40000000, 1, 16, 0, 1, 0, -233}, 8},
        {"negative layers", {7767517, -1, 1, 16, 0, 1, 0, -233}, 8},
        {"blob count", {7767517, 1, -5, 16, 0, 1, 0, -233}, 8},
        {"huge blob count", {7767517, 1, 0x7fffffff, 16, 0, 1, 0, -233}, 8},
        {"bottom count", {7767517, 1, 1, 16, 0x7fffffff, 1, 0, -233}, 8},
        {"negative top count", {7767517, 1, 1, 16, 0, -1, 0, -233}, 8},
        {"blob index", {7767517, 1, 1, 16, 0, 1, 1, -233}, 8},
        {"negative blob index", {7767517, 1, 1, 16, 0, 1, -7, -233}, 8},
        {"param id", {7767517, 1, 1, 16, 0, 1, 0, 32, 1, -233}, 10},
        {"array id", {7767517, 1, 1, 16, 0, 1, 0, -23300 - 40, 0, -233}, 10},
        {"array count", {7767517, 1, 1, 16, 0, 1, 0, -23300, 0x7fffffff, -233}, 10},
        {"negative array count", {7767517, 1, 1, 16, 0, 1, 0, -23301, -2, -233}, 10},
        {"duplicate param", {7767517, 1, 1, 16, 0, 1, 0, 0, 1, 0, 2, -233}, 12},
        {"no end marker", {7767517, 1, 1, 16, 0, 1, 0, 0, 1}, 9},
        {"trailing bytes", {7767517, 1, 1, 16, 0, 1, 0, -233, 0}, 9},
        {"negative type", {7767517, 1, 1, -3, 0, 1, 0, -233}, 8},
        {"too short", {7767517, 1}, 2},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        impasto_status s = ncnn_param_parse(ctx, (const unsigned char *)bad[i].v, (size_t)bad[i].n * 4, "p", &net);
        CHECK_MSG(s == IMPASTO_ERR_FORMAT && impasto_ctx_error(ctx)[0], "%s: status %d", bad[i].what, (int)s);
        CHECK(net.layers == NULL && net.bytes == NULL);
    }
    CHECK(ncnn_param_parse(ctx, (const unsigned char *)"", 0, "p", &net) == IMPASTO_ERR_FORMAT);
    CHECK(ncnn_param_load(ctx, "/nonexistent/x.param.bin", &net) == IMPASTO_ERR_IO);
    impasto_ctx_free(ctx);
}

static void test_param_real(void) {
    if (!have_shared) {
        printf("skipped (no %s)\n", dir);
        return;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    ncnn_net net;
    CHECK(ncnn_param_parse(ctx, param_bytes, param_size, "param", &net) == IMPASTO_OK);
    CHECK(net.nlayers == 70 && net.nblobs == 75);
    int count[64] = {0};
    for (int i = 0; i < net.nlayers; i++)
        if (net.layers[i].type < 64) count[net.layers[i].type]++;
    CHECK(count[NCNN_INPUT] == 1 && count[NCNN_CONVOLUTION] == 16 && count[NCNN_PADDING] == 16);
    CHECK(count[NCNN_INSTANCENORM] == 15 && count[NCNN_RELU] == 10 && count[NCNN_SPLIT] == 5);
    CHECK(count[NCNN_BINARYOP] == 5 && count[NCNN_INTERP] == 2);
    /* conv1: 32 outputs, 9x9, 7776 weights; its padding reflects 4 on each side. */
    CHECK(net.layers[2].type == NCNN_CONVOLUTION && ncnn_param_int(&net.layers[2], 0, 0) == 32 &&
          ncnn_param_int(&net.layers[2], 1, 0) == 9 && ncnn_param_int(&net.layers[2], 6, 0) == 7776);
    CHECK(net.layers[1].type == NCNN_PADDING && ncnn_param_int(&net.layers[1], 0, 0) == 4 &&
          ncnn_param_int(&net.layers[1], 4, 0) == 2);
    CHECK(fabsf(ncnn_param_float(&net.layers[3], 1, 0) - 1e-5f) < 1e-10f);
    ncnn_net_clear(&net);
    /* Every truncation of the param is an error (and, under ASan, reads nothing out of bounds). */
    int bad = 0;
    for (size_t n = 0; n < param_size; n++) {
        unsigned char *copy = malloc(n ? n : 1);  /* exact size, so ASan sees any overread */
        memcpy(copy, param_bytes, n);
        if (ncnn_param_parse(ctx, copy, n, "param", &net) != IMPASTO_ERR_FORMAT) bad++;
        free(copy);
    }
    CHECK_MSG(bad == 0, "%d truncations accepted", bad);
    impasto_ctx_free(ctx);
}

static void test_convert_real(void) {
    if (!have_shared) {
        printf("skipped\n");
        return;
    }
    static const char *const styles[] = {"candy", "mosaic", "pointilism", "rain_princess", "udnie"};
    impasto_ctx *ctx = impasto_ctx_create();
    char out[256], bin[700];
    snprintf(out, sizeof out, "/tmp/impasto-test-ncnn-%d.safetensors", (int)getpid());
    for (int s = 0; s < 5; s++) {
        snprintf(bin, sizeof bin, "%s/%s.bin", dir, styles[s]);
        CHECK_MSG(impasto_convert_ncnn_transformernet(ctx, param_path, bin, out) == IMPASTO_OK, "%s: %s", styles[s],
                  impasto_ctx_error(ctx));
        safetensors *st = NULL;
        CHECK(safetensors_open(ctx, out, &st) == IMPASTO_OK);
        if (!st) continue;
        CHECK(safetensors_count(st) == 62);
        CHECK(strcmp(safetensors_meta(st, "kind"), "transformernet") == 0);
        CHECK(strcmp(safetensors_meta(st, "style"), styles[s]) == 0);
        const st_tensor *t = safetensors_find(st, "res3.conv2.conv2d.weight");
        CHECK(t && t->ndim == 4 && t->shape[0] == 128 && t->shape[1] == 128 && t->shape[3] == 3);
        t = safetensors_find(st, "deconv3.conv2d.weight");
        CHECK(t && t->ndim == 4 && t->shape[0] == 3 && t->shape[1] == 32 && t->shape[2] == 9);
        CHECK(safetensors_find(st, "in5.bias") && !safetensors_find(st, "in6.weight"));
        /* Known values from the raw bytes: conv1's first weight (float16 right after the tag) and
         * deconv3's last bias (the file's last 4 bytes). */
        size_t n = 0;
        unsigned char *raw = read_file(bin, &n);
        CHECK(raw && n == 3368140 && get_u32(raw) == 0x01306B47);
        if (raw) {
            float w0, blast;
            int64_t wshape[4] = {32, 3, 9, 9}, bshape[1] = {3};
            float *w = malloc(32 * 3 * 81 * sizeof *w), b[3];
            CHECK(safetensors_get_f32(ctx, st, "conv1.conv2d.weight", 4, wshape, w) == IMPASTO_OK);
            CHECK(safetensors_get_f32(ctx, st, "deconv3.conv2d.bias", 1, bshape, b) == IMPASTO_OK);
            w0 = ncnn_half_to_float((uint16_t)(raw[4] | raw[5] << 8));
            uint32_t u = get_u32(raw + n - 4);
            memcpy(&blast, &u, 4);
            CHECK(w[0] == w0 && b[2] == blast);
            CHECK(fabsf(w0) > 0 && fabsf(w0) < 10);
            free(w);
            free(raw);
        }
        safetensors_close(st);
    }
    /* The converted file loads as a network. */
    transformer_net *net = NULL;
    CHECK(transformer_net_load(ctx, out, &net) == IMPASTO_OK && net && net->gamma[14] && !net->gamma[15]);
    transformer_net_free(net);
    unlink(out);
    impasto_ctx_free(ctx);
}

/* Converts with a modified param and/or weights; returns the status (message in ctx). */
static impasto_status convert_with(impasto_ctx *ctx, const unsigned char *param, size_t np,
                                   const unsigned char *bin, size_t nb) {
    char p[256], b[256], o[256];
    snprintf(p, sizeof p, "/tmp/impasto-test-ncnn-%d.param.bin", (int)getpid());
    snprintf(b, sizeof b, "/tmp/impasto-test-ncnn-%d.bin", (int)getpid());
    snprintf(o, sizeof o, "/tmp/impasto-test-ncnn-out-%d.safetensors", (int)getpid());
    unlink(o);
    impasto_status s = IMPASTO_ERR_IO;
    if (write_file(p, param, np) && write_file(b, bin, nb)) s = impasto_convert_ncnn_transformernet(ctx, p, b, o);
    struct stat st;
    if (s != IMPASTO_OK) CHECK_MSG(stat(o, &st) != 0, "a failed conversion left %s behind", o);
    unlink(p), unlink(b), unlink(o);
    return s;
}

static void test_convert_hostile(void) {
    if (!have_shared) {
        printf("skipped\n");
        return;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    char bin_path[700];
    snprintf(bin_path, sizeof bin_path, "%s/candy.bin", dir);
    size_t nb = 0;
    unsigned char *bin = read_file(bin_path, &nb);
    CHECK(bin != NULL);
    if (!bin) return;
    CHECK(convert_with(ctx, param_bytes, param_size, bin, nb) == IMPASTO_OK);
    /* Truncated weights, at a tag, inside float16 data, inside a bias, one byte short. */
    static const size_t cuts[] = {0, 3, 4, 5000, 15556, 15600, 3368139};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        CHECK(convert_with(ctx, param_bytes, param_size, bin, cuts[i]) == IMPASTO_ERR_FORMAT);
        CHECK(strstr(impasto_ctx_error(ctx), "truncated") || strstr(impasto_ctx_error(ctx), "ends at"));
    }
    /* One byte too many: not this network's weights. */
    unsigned char *big = malloc(nb + 4);
    memcpy(big, bin, nb);
    memset(big + nb, 0, 4);
    CHECK(convert_with(ctx, param_bytes, param_size, big, nb + 4) == IMPASTO_ERR_FORMAT);
    CHECK(strstr(impasto_ctx_error(ctx), "end at byte") != NULL);
    /* A truncated param, and a param whose structure differs. */
    CHECK(convert_with(ctx, param_bytes, 1000, bin, nb) == IMPASTO_ERR_FORMAT);
    unsigned char *p = malloc(param_size);
    /* Layer 1 (Padding) starts at byte 12 + layer 0's 20 bytes; its params are after type, 2
     * counts, 2 blobs: (0,4) (1,4) (2,4) (3,4) (4,2). Zero padding mode instead of reflect: */
    memcpy(p, param_bytes, param_size);
    size_t pad_type_at = 32 + 5 * 4 + 4 * 8 + 4;
    CHECK(get_u32(p + pad_type_at - 4) == 4 && get_u32(p + pad_type_at) == 2);
    put_u32(p + pad_type_at, 0);
    CHECK(convert_with(ctx, p, param_size, bin, nb) == IMPASTO_ERR_FORMAT);
    CHECK(strstr(impasto_ctx_error(ctx), "padding type") != NULL);
    /* The Padding layer relabelled as a ReLU. */
    memcpy(p, param_bytes, param_size);
    put_u32(p + 32, NCNN_RELU);
    CHECK(convert_with(ctx, p, param_size, bin, nb) == IMPASTO_ERR_FORMAT);
    CHECK(strstr(impasto_ctx_error(ctx), "layer 1 is ReLU") != NULL);
    /* conv1 reading the Input's blob instead of the padding's output. */
    memcpy(p, param_bytes, param_size);
    size_t conv1 = 32 + 5 * 4 + 5 * 8 + 4;  /* layer 2: after layer 1's 5 params and end marker */
    CHECK(get_u32(p + conv1) == NCNN_CONVOLUTION);
    put_u32(p + conv1 + 12, 0);
    CHECK(convert_with(ctx, p, param_size, bin, nb) == IMPASTO_ERR_FORMAT);
    CHECK(strstr(impasto_ctx_error(ctx), "reads blob 0") != NULL);
    /* An absurd layer count in the real file. */
    memcpy(p, param_bytes, param_size);
    put_u32(p + 4, 0x7fffffff);
    CHECK(convert_with(ctx, p, param_size, bin, nb) == IMPASTO_ERR_FORMAT);
    free(p);
    free(big);
    free(bin);
    impasto_ctx_free(ctx);
}

int main(void) {
    snprintf(dir, sizeof dir, "%s/models/upstream/fast-neural-style", test_shared_dir());
    snprintf(param_path, sizeof param_path, "%s/transformernet.param.bin", dir);
    struct stat st;
    have_shared = stat(param_path, &st) == 0 && (param_bytes = read_file(param_path, &param_size)) != NULL;
    RUN(test_half);
    RUN(test_bin_tags);
    RUN(test_param_hostile_synthetic);
    RUN(test_param_real);
    RUN(test_convert_real);
    RUN(test_convert_hostile);
    free(param_bytes);
    return test_summary();
}
