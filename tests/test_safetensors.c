/* safetensors reader and writer: a round trip, half/bfloat16 decoding against hand-derived values,
 * and hostile files (every truncation, absurd lengths, malformed JSON, bad dtypes, shapes and
 * offsets), each of which must fail cleanly with the right status and a message naming the file.
 * Also the checks every model loader gets from here: NaN or infinite weights refused naming the
 * tensor, an image given as a model named as one, and a FIFO or folder refused without blocking. */
#include "core/ctx.h"
#include "formats/safetensors.h"
#include "test.h"

#include <float.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

/* A file image: 8-byte length, the header text as given, then `ndata` bytes of data (0, 1, 2, ...). */
static unsigned char *make_file(const char *header, size_t ndata, size_t *size) {
    size_t h = strlen(header);
    *size = 8 + h + ndata;
    unsigned char *b = malloc(*size);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(b + 8, header, h);
    for (size_t i = 0; i < ndata; i++) b[8 + h + i] = (unsigned char)i;
    return b;
}

/* Parses header + ndata bytes; returns the status and checks a failure's message names the file. */
static impasto_status try_header(const char *header, size_t ndata) {
    impasto_ctx *ctx = impasto_ctx_create();
    size_t size;
    unsigned char *b = make_file(header, ndata, &size);
    safetensors *st = NULL;
    impasto_status s = safetensors_parse(ctx, b, size, "hostile.safetensors", &st);
    if (s != IMPASTO_OK) {
        CHECK(st == NULL);
        CHECK_MSG(strstr(impasto_ctx_error(ctx), "hostile.safetensors") != NULL, "message: %s",
                  impasto_ctx_error(ctx));
        CHECK(strchr(impasto_ctx_error(ctx), '\n') == NULL);
    }
    safetensors_close(st);
    free(b);
    impasto_ctx_free(ctx);
    return s;
}

static char tmp_path[64];

static void test_round_trip(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    float a[2 * 3 * 4], scalar = -7.25f, bias[5];
    for (int i = 0; i < 24; i++) a[i] = (float)i * 0.5f - 3.0f;
    for (int i = 0; i < 5; i++) bias[i] = 1e-30f * (float)(i + 1);
    a[7] = -0.0f;
    st_write_tensor t[] = {
        {.name = "layer.weight", .ndim = 3, .shape = {2, 3, 4}, .data = a},
        {.name = "scalar", .ndim = 0, .data = &scalar},
        {.name = "empty", .ndim = 2, .shape = {0, 5}, .data = NULL},
        {.name = "odd \"name\"\\\n\xc3\xa9", .ndim = 1, .shape = {5}, .data = bias},
    };
    const char *meta[] = {"kind", "test", "quote", "a \"b\" \\ c\td"};
    CHECK(safetensors_write(ctx, tmp_path, t, 4, meta, 2) == IMPASTO_OK);

    safetensors *st = NULL;
    CHECK(safetensors_open(ctx, tmp_path, &st) == IMPASTO_OK);
    if (!st) goto out;
    CHECK(safetensors_count(st) == 4);
    for (size_t i = 0; i < 4 && i < safetensors_count(st); i++)
        CHECK(strcmp(safetensors_at(st, i)->name, t[i].name) == 0);  /* header order kept */
    CHECK(safetensors_at(st, 4) == NULL);
    CHECK(strcmp(safetensors_meta(st, "kind"), "test") == 0);
    CHECK(strcmp(safetensors_meta(st, "quote"), meta[3]) == 0);
    CHECK(safetensors_meta(st, "absent") == NULL);

    /* Contiguous data in the order given, starting 8-byte aligned after a space-padded header. */
    const st_tensor *w = safetensors_find(st, "layer.weight"), *s0 = safetensors_find(st, "scalar");
    const st_tensor *e = safetensors_find(st, "empty"), *o = safetensors_find(st, t[3].name);
    CHECK(w && s0 && e && o);
    if (!w || !s0 || !e || !o) goto out;
    CHECK(w->dtype == ST_F32 && w->ndim == 3 && w->shape[0] == 2 && w->shape[2] == 4 && w->nelem == 24);
    CHECK(s0->ndim == 0 && s0->nelem == 1 && s0->data == w->data + 96);
    CHECK(e->nelem == 0 && e->nbytes == 0 && e->data == s0->data + 4);
    CHECK(o->data == e->data && o->nbytes == 20);

    float got[24];
    int64_t shape[3] = {2, 3, 4};
    CHECK(safetensors_get_f32(ctx, st, "layer.weight", 3, shape, got) == IMPASTO_OK);
    CHECK(memcmp(got, a, sizeof a) == 0);  /* bit-exact, -0.0 included */
    CHECK(safetensors_get_f32(ctx, st, "scalar", 0, NULL, got) == IMPASTO_OK && got[0] == -7.25f);
    int64_t s5 = 5;
    CHECK(safetensors_get_f32(ctx, st, t[3].name, 1, &s5, got) == IMPASTO_OK);
    CHECK(memcmp(got, bias, sizeof bias) == 0);

    /* Missing tensor and wrong shape are reported with the file's name. */
    CHECK(safetensors_get_f32(ctx, st, "nope", 1, &s5, got) == IMPASTO_ERR_FORMAT);
    CHECK(strstr(impasto_ctx_error(ctx), tmp_path) && strstr(impasto_ctx_error(ctx), "nope"));
    int64_t wrong[3] = {2, 4, 3};
    CHECK(safetensors_get_f32(ctx, st, "layer.weight", 3, wrong, got) == IMPASTO_ERR_FORMAT);
    CHECK(strstr(impasto_ctx_error(ctx), "(2, 3, 4)") && strstr(impasto_ctx_error(ctx), "(2, 4, 3)"));
    CHECK(safetensors_get_f32(ctx, st, "layer.weight", 2, wrong, got) == IMPASTO_ERR_FORMAT);
    safetensors_close(st);
    st = NULL;

    /* The raw bytes: length field, padding, data section size. */
    FILE *fp = fopen(tmp_path, "rb");
    unsigned char raw[4096];
    size_t n = fp ? fread(raw, 1, sizeof raw, fp) : 0;
    if (fp) fclose(fp);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | raw[i];
    CHECK((8 + hlen) % 8 == 0);
    CHECK(n == 8 + hlen + 96 + 4 + 20);
    CHECK(raw[8] == '{' && (raw[8 + hlen - 1] == ' ' || raw[8 + hlen - 1] == '}'));
    CHECK(memcmp(raw + 8, "{\"__metadata__\":", 16) == 0);

    /* Every truncation of a valid file fails as FORMAT, never crashes or reads past the end. */
    int all_fail = 1;
    for (size_t cut = 0; cut < n; cut++) {
        safetensors *t2 = NULL;
        impasto_status s = safetensors_parse(ctx, raw, cut, "cut", &t2);
        if (s != IMPASTO_ERR_FORMAT || t2) all_fail = 0;
        safetensors_close(t2);
    }
    CHECK(all_fail);

    /* Writer argument checks. */
    st_write_tensor dup[] = {{.name = "x", .ndim = 1, .shape = {1}, .data = a},
                             {.name = "x", .ndim = 1, .shape = {1}, .data = a}};
    CHECK(safetensors_write(ctx, tmp_path, dup, 2, NULL, 0) == IMPASTO_ERR_INVALID_ARG);
    st_write_tensor neg = {.name = "x", .ndim = 1, .shape = {-1}, .data = a};
    CHECK(safetensors_write(ctx, tmp_path, &neg, 1, NULL, 0) == IMPASTO_ERR_INVALID_ARG);
    /* ...and a failed write left the earlier file intact. */
    CHECK(safetensors_open(ctx, tmp_path, &st) == IMPASTO_OK && safetensors_count(st) == 4);
out:
    safetensors_close(st);
    impasto_ctx_free(ctx);
}

/* Half and bfloat16 bit patterns with their values worked out from IEEE 754 by hand. */
static void test_half_bfloat16(void) {
    static const uint16_t half[] = {
        0x3c00, /* 1 */ 0xc000, /* -2 */ 0x7bff, /* 65504, largest finite */
        0x0001, /* 2^-24, smallest subnormal */ 0x03ff, /* 1023 * 2^-24, largest subnormal */
        0x0400, /* 2^-14, smallest normal */ 0x3555, /* 1365/4096 = 0.333251953125 */
        0x7c00, /* inf */ 0xfc00, /* -inf */ 0x7e00, /* NaN */ 0x8000, /* -0 */ 0x8001, /* -2^-24 */
    };
    const double want[] = {1, -2, 65504, ldexp(1, -24), 1023 * ldexp(1, -24), ldexp(1, -14), 0.333251953125};
    static const uint16_t bf[] = {0x3f80, /* 1 */ 0xc049, /* -3.140625 */ 0x0001, /* 2^-133 */
                                  0xff80, /* -inf */ 0x7fc0 /* NaN */};
    char header[256];
    snprintf(header, sizeof header,
             "{\"h\":{\"dtype\":\"F16\",\"shape\":[12],\"data_offsets\":[0,24]},"
             "\"b\":{\"dtype\":\"BF16\",\"shape\":[5],\"data_offsets\":[24,34]},"
             "\"u\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[34,36]}}");
    size_t size;
    unsigned char *f = make_file(header, 36, &size);
    unsigned char *d = f + 8 + strlen(header);
    for (int i = 0; i < 12; i++) d[2 * i] = half[i] & 0xff, d[2 * i + 1] = (unsigned char)(half[i] >> 8);
    for (int i = 0; i < 5; i++) d[24 + 2 * i] = bf[i] & 0xff, d[24 + 2 * i + 1] = (unsigned char)(bf[i] >> 8);
    impasto_ctx *ctx = impasto_ctx_create();
    safetensors *st = NULL;
    CHECK(safetensors_parse(ctx, f, size, "half", &st) == IMPASTO_OK);
    float h[12], b[5];
    int64_t n12 = 12, n5 = 5, n2 = 2;
    /* The conversion alone keeps infinities and NaN; the weight reader refuses them. */
    CHECK(safetensors_find(st, "h") && safetensors_decode_f32(safetensors_find(st, "h"), h));
    for (int i = 0; i < 7; i++) CHECK_NEAR(h[i], want[i], 0);
    CHECK(isinf(h[7]) && h[7] > 0);
    CHECK(isinf(h[8]) && h[8] < 0);
    CHECK(isnan(h[9]));
    CHECK(h[10] == 0 && signbit(h[10]));
    CHECK_NEAR(h[11], -ldexp(1, -24), 0);
    CHECK(safetensors_get_f32(ctx, st, "h", 1, &n12, h) == IMPASTO_ERR_FORMAT);
    CHECK(strstr(impasto_ctx_error(ctx), "half: tensor 'h' holds NaN or infinite values") != NULL);
    CHECK(safetensors_find(st, "b") && safetensors_decode_f32(safetensors_find(st, "b"), b));
    CHECK_NEAR(b[0], 1, 0);
    CHECK_NEAR(b[1], -3.140625, 0);
    CHECK_NEAR(b[2], ldexp(1, -133), 0);
    CHECK(isinf(b[3]) && b[3] < 0);
    CHECK(isnan(b[4]));
    CHECK(safetensors_get_f32(ctx, st, "b", 1, &n5, b) == IMPASTO_ERR_FORMAT);
    CHECK(safetensors_find(st, "u") && safetensors_find(st, "u")->dtype == ST_U8);
    CHECK(!safetensors_decode_f32(safetensors_find(st, "u"), b));
    CHECK(safetensors_get_f32(ctx, st, "u", 1, &n2, b) == IMPASTO_ERR_FORMAT);
    safetensors_close(st);
    impasto_ctx_free(ctx);
    free(f);
}

static void test_hostile_headers(void) {
    const char *ok = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    CHECK(try_header(ok, 8) == IMPASTO_OK);
    CHECK(try_header(ok, 12) == IMPASTO_OK);  /* trailing bytes beyond the last tensor are harmless */
    CHECK(try_header("{}", 0) == IMPASTO_OK);
    CHECK(try_header("{}      ", 0) == IMPASTO_OK);
    CHECK(try_header("{\"__metadata__\":{\"k\":\"v\"}}", 0) == IMPASTO_OK);

    /* Not JSON, not an object, trailing garbage, a NUL inside. */
    CHECK(try_header("", 0) == IMPASTO_ERR_FORMAT);
    CHECK(try_header("{", 0) == IMPASTO_ERR_FORMAT);
    CHECK(try_header("{\"a\":", 0) == IMPASTO_ERR_FORMAT);
    CHECK(try_header("[1,2]", 0) == IMPASTO_ERR_FORMAT);
    CHECK(try_header("\"text\"", 0) == IMPASTO_ERR_FORMAT);
    CHECK(try_header("{} {}", 0) == IMPASTO_ERR_FORMAT);
    CHECK(try_header("{\"a\":1}", 0) == IMPASTO_ERR_FORMAT);
    CHECK(try_header("{\"__metadata__\":{\"k\":1}}", 0) == IMPASTO_ERR_FORMAT);
    CHECK(try_header("{\"__metadata__\":[]}", 0) == IMPASTO_ERR_FORMAT);
    {
        size_t size;
        unsigned char *b = make_file("{}xx", 0, &size);
        b[10] = 0;  /* "{}\0x" */
        impasto_ctx *ctx = impasto_ctx_create();
        safetensors *st = NULL;
        CHECK(safetensors_parse(ctx, b, size, "nul", &st) == IMPASTO_ERR_FORMAT);
        impasto_ctx_free(ctx);
        free(b);
    }

    /* dtypes: unknown ones are UNSUPPORTED, a non-string is FORMAT. */
    CHECK(try_header("{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8) == IMPASTO_ERR_UNSUPPORTED);
    CHECK(try_header("{\"a\":{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8) == IMPASTO_ERR_UNSUPPORTED);
    CHECK(try_header("{\"a\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}", 8) == IMPASTO_ERR_FORMAT);
    CHECK(try_header("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8) == IMPASTO_ERR_FORMAT);
    CHECK(try_header("{\"a\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8) == IMPASTO_OK);

    /* Shapes: negative, fractional, non-numeric, too many dims, sizes that overflow. */
    CHECK(try_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8) == IMPASTO_ERR_FORMAT);
    CHECK(try_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2, -1],\"data_offsets\":[0,0]}}", 8) == IMPASTO_ERR_FORMAT);
    CHECK(try_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}}", 8) == IMPASTO_ERR_FORMAT);
    CHECK(try_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8) == IMPASTO_ERR_FORMAT);
    CHECK(try_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,2],\"data_offsets\":[0,8]}}", 8) ==
          IMPASTO_ERR_FORMAT);
    CHECK(try_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,2],\"data_offsets\":[0,8]}}", 8) ==
          IMPASTO_OK);
    CHECK(try_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,8]}}", 8) ==
          IMPASTO_ERR_FORMAT);
    CHECK(try_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}", 8) ==
          IMPASTO_ERR_FORMAT);
    CHECK(try_header("{\"a\":{\"dtype\":\"I64\",\"shape\":[2305843009213693952],\"data_offsets\":[0,0]}}", 8) ==
          IMPASTO_ERR_FORMAT);
    CHECK(try_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,8]}}", 8) == IMPASTO_ERR_FORMAT);
    /* A zero dimension makes an empty tensor, even beside a huge one. */
    CHECK(try_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[0,4294967296],\"data_offsets\":[8,8]}}", 8) == IMPASTO_OK);

    /* Bytes that do not match the shape; offsets outside the data, reversed, not integers. */
    CHECK(try_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 16) == IMPASTO_ERR_FORMAT);
    CHECK(try_header("{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8) == IMPASTO_ERR_FORMAT);
    CHECK(try_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 8) == IMPASTO_ERR_FORMAT);
    CHECK(try_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8) == IMPASTO_ERR_FORMAT);
    CHECK(try_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[18446744073709551608,0]}}", 8) ==
          IMPASTO_ERR_FORMAT);
    CHECK(try_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8) == IMPASTO_ERR_FORMAT);
    CHECK(try_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8) == IMPASTO_ERR_FORMAT);
    CHECK(try_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,9]}}", 16) == IMPASTO_ERR_FORMAT);
    CHECK(try_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8.5]}}", 16) == IMPASTO_ERR_FORMAT);

    /* Overlapping ranges, duplicate names, duplicate metadata. */
    CHECK(try_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12) == IMPASTO_ERR_FORMAT);
    CHECK(try_header("{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
                     "\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16) == IMPASTO_ERR_FORMAT);
    CHECK(try_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16) == IMPASTO_OK);
    CHECK(try_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                     "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8) == IMPASTO_ERR_FORMAT);
    CHECK(try_header("{\"__metadata__\":{},\"__metadata__\":{}}", 0) == IMPASTO_ERR_FORMAT);
}

/* Header length fields that lie: past the end, absurdly large, the whole 64-bit range. */
static void test_hostile_lengths(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    const uint64_t lens[] = {0, 1, 9, 100, (uint64_t)1 << 40, (uint64_t)1 << 63, UINT64_MAX, UINT64_MAX - 7};
    unsigned char b[16] = {0};
    memcpy(b + 8, "{}      ", 8);
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        for (int i = 0; i < 8; i++) b[i] = (unsigned char)(lens[k] >> (8 * i));
        safetensors *st = NULL;
        CHECK(safetensors_parse(ctx, b, sizeof b, "len", &st) == IMPASTO_ERR_FORMAT);
        CHECK(st == NULL);
    }
    safetensors *st = NULL;
    CHECK(safetensors_parse(ctx, b, 7, "short", &st) == IMPASTO_ERR_FORMAT);
    CHECK(safetensors_parse(ctx, NULL, 0, "empty", &st) == IMPASTO_ERR_FORMAT);
    CHECK(safetensors_open(ctx, "/nonexistent/x.safetensors", &st) == IMPASTO_ERR_IO);
    CHECK(strstr(impasto_ctx_error(ctx), "/nonexistent/x.safetensors") != NULL);
    impasto_ctx_free(ctx);
}

/* Random byte changes in a small valid file never crash; results are OK or a clean error. */
static void test_fuzz_header(void) {
    const char *header = "{\"__metadata__\":{\"kind\":\"vgg19\"},"
                         "\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                         "\"b\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[24,28]}}";
    size_t size;
    unsigned char *orig = make_file(header, 28, &size);
    unsigned char *b = malloc(size);
    impasto_ctx *ctx = impasto_ctx_create();
    unsigned long long rng = 88172645463325252ULL;
    int bad_status = 0;
    for (int it = 0; it < 20000; it++) {
        memcpy(b, orig, size);
        int flips = 1 + it % 3;
        for (int k = 0; k < flips; k++) {
            size_t pos = (size_t)test_uniform(&rng, 0, (float)size);
            b[pos < size ? pos : size - 1] = (unsigned char)test_uniform(&rng, 0, 256);
        }
        safetensors *st = NULL;
        impasto_status s = safetensors_parse(ctx, b, size, "fuzz", &st);
        if (s != IMPASTO_OK && s != IMPASTO_ERR_FORMAT && s != IMPASTO_ERR_UNSUPPORTED) bad_status = 1;
        /* A file that parses must be fully readable: ASan checks every byte read stays inside. */
        for (size_t i = 0; s == IMPASTO_OK && i < safetensors_count(st); i++) {
            const st_tensor *t = safetensors_at(st, i);
            float *out = malloc(t->nelem * sizeof *out + 1);
            if (t->dtype <= ST_BF16) safetensors_get_f32(ctx, st, t->name, t->ndim, t->shape, out);
            free(out);
        }
        safetensors_close(st);
    }
    CHECK(!bad_status);
    free(b);
    free(orig);
    impasto_ctx_free(ctx);
}

/* Every weight is read through safetensors_get_f32: a NaN, +Inf or -Inf anywhere in a float
 * tensor is IMPASTO_ERR_FORMAT naming the file and the tensor, a finite tensor of the same file
 * reads, and the largest finite float is a weight like any other. */
static void test_non_finite_weights(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    const float bad[3] = {NAN, INFINITY, -INFINITY};
    for (int k = 0; k < 3; k++) {
        float w[6] = {1, 2, 3, 4, 5, 6}, ok[2] = {FLT_MAX, -FLT_MAX};
        w[5 - k] = bad[k];
        st_write_tensor t[] = {{.name = "ok", .ndim = 1, .shape = {2}, .data = ok},
                               {.name = "conv1_1.weight", .ndim = 2, .shape = {2, 3}, .data = w}};
        CHECK(safetensors_write(ctx, tmp_path, t, 2, NULL, 0) == IMPASTO_OK);
        safetensors *st = NULL;
        CHECK(safetensors_open(ctx, tmp_path, &st) == IMPASTO_OK);
        float got[6];
        int64_t s2 = 2, s23[2] = {2, 3};
        CHECK(safetensors_get_f32(ctx, st, "ok", 1, &s2, got) == IMPASTO_OK && got[0] == FLT_MAX);
        CHECK(safetensors_get_f32(ctx, st, "conv1_1.weight", 2, s23, got) == IMPASTO_ERR_FORMAT);
        char want[160];
        snprintf(want, sizeof want, "%s: tensor 'conv1_1.weight' holds NaN or infinite values", tmp_path);
        CHECK_MSG(strcmp(impasto_ctx_error(ctx), want) == 0, "message: %s", impasto_ctx_error(ctx));
        safetensors_close(st);
    }
    impasto_ctx_free(ctx);
}

/* A picture given where a model was meant is named as one, by its bytes (the PNG signature
 * 89 50 4E 47, JPEG's SOI marker and the next marker's FF), whatever the file is called. */
static void test_image_is_not_a_model(void) {
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_image *img = NULL;
    char png[96], jpg[96];
    snprintf(png, sizeof png, "/tmp/impasto-test-st-%d-png.safetensors", (int)getpid());
    snprintf(jpg, sizeof jpg, "/tmp/impasto-test-st-%d.jpg", (int)getpid());
    CHECK(impasto_image_create(ctx, 4, 3, 3, &img) == IMPASTO_OK);
    /* Saved under a .png name, then renamed: the model loaders must look at the bytes. */
    char png_named[104];
    snprintf(png_named, sizeof png_named, "%s.png", png);
    CHECK(impasto_image_save(ctx, img, png_named, 0) == IMPASTO_OK && rename(png_named, png) == 0);
    CHECK(impasto_image_save(ctx, img, jpg, 90) == IMPASTO_OK);
    impasto_model *m = NULL;
    impasto_fast_model *f = NULL;
    char want[160];
    CHECK(impasto_model_load(ctx, png, &m) == IMPASTO_ERR_FORMAT && !m);
    snprintf(want, sizeof want, "%s is a PNG image, not a model", png);
    CHECK_MSG(strcmp(impasto_ctx_error(ctx), want) == 0, "message: %s", impasto_ctx_error(ctx));
    CHECK(impasto_fast_load(ctx, jpg, &f) == IMPASTO_ERR_FORMAT && !f);
    snprintf(want, sizeof want, "%s is a JPEG image, not a model", jpg);
    CHECK_MSG(strcmp(impasto_ctx_error(ctx), want) == 0, "message: %s", impasto_ctx_error(ctx));
    unlink(png);
    unlink(jpg);
    impasto_image_free(img);
    impasto_ctx_free(ctx);
}

static void fifo_timeout(int sig) {
    (void)sig;
    static const char msg[] = "  FAIL a reader blocked on a FIFO for 10 s\nnot ok test_fifo_never_blocks\n";
    if (write(2, msg, sizeof msg - 1) < 0) _exit(2);
    _exit(1);
}

/* A FIFO with no writer (opening one for reading waits for a writer, forever) and a folder are
 * refused at once by the image and model readers, as not regular files. alarm() turns a
 * regression into a failure instead of a hang. */
static void test_fifo_never_blocks(void) {
    char dir[64], fifo[96];
    snprintf(dir, sizeof dir, "/tmp/impasto-test-fifo-XXXXXX");
    if (!mkdtemp(dir)) {
        CHECK_MSG(0, "cannot make a temporary folder");
        return;
    }
    snprintf(fifo, sizeof fifo, "%s/pipe.png", dir);
    CHECK(mkfifo(fifo, 0600) == 0);
    signal(SIGALRM, fifo_timeout);
    alarm(10);
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_image *img = NULL;
    impasto_model *m = NULL;
    impasto_fast_model *f = NULL;
    char want[160];
    snprintf(want, sizeof want, "%s is not a regular file (a FIFO, device or folder)", fifo);
    CHECK(impasto_image_load(ctx, fifo, &img) == IMPASTO_ERR_IO && !img);
    CHECK_MSG(strcmp(impasto_ctx_error(ctx), want) == 0, "message: %s", impasto_ctx_error(ctx));
    CHECK(impasto_model_load(ctx, fifo, &m) == IMPASTO_ERR_IO && !m);
    CHECK_MSG(strcmp(impasto_ctx_error(ctx), want) == 0, "message: %s", impasto_ctx_error(ctx));
    CHECK(impasto_fast_load(ctx, fifo, &f) == IMPASTO_ERR_IO && !f);
    CHECK(impasto_model_load(ctx, dir, &m) == IMPASTO_ERR_IO && !m);
    CHECK(strstr(impasto_ctx_error(ctx), "is not a regular file") != NULL);
    alarm(0);
    signal(SIGALRM, SIG_DFL);
    impasto_ctx_free(ctx);
    unlink(fifo);
    rmdir(dir);
}

int main(void) {
    snprintf(tmp_path, sizeof tmp_path, "/tmp/impasto-test-st-%d.safetensors", (int)getpid());
    RUN(test_round_trip);
    RUN(test_half_bfloat16);
    RUN(test_hostile_headers);
    RUN(test_hostile_lengths);
    RUN(test_fuzz_header);
    RUN(test_non_finite_weights);
    RUN(test_image_is_not_a_model);
    RUN(test_fifo_never_blocks);
    unlink(tmp_path);
    return test_summary();
}
