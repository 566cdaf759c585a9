/* PyTorch checkpoints (src/formats/): the small files tools/gen_pth_tests.py made with torch.save
 * read back value for value (zip and legacy layouts, pickle protocols 2 and 4, PyTorch 0.3's
 * tensors and Python 2's OrderedDict, float16/bfloat16/float64, transposed and offset views, a
 * training checkpoint, DataParallel names); every hostile file in fuzz/regressions/pth refused
 * with the expected status and one line; every truncation and every single-byte change of two
 * valid files handled without a crash; impasto_convert_pth's refusals (its CycleGAN / pix2pix
 * generators': tests/test_convert_gan.c, and the hostile-gan-* files here). Run from the repository
 * root (as `make test` does). */
#include "core/ctx.h"
#include "core/fileio.h"
#include "formats/pth.h"
#include "test.h"

#include <sys/stat.h>
#include <unistd.h>

#define DATA "tests/data/pth/"
#define HOSTILE "fuzz/regressions/pth/"

static impasto_ctx *ctx;

/* Opens a checkpoint, checks it is read, and returns it (NULL after a failed check). */
static pth_file *open_ok(const char *path) {
    pth_file *f = NULL;
    impasto_status s = pth_open(ctx, path, &f);
    CHECK_MSG(s == IMPASTO_OK, "%s: %s", path, impasto_ctx_error(ctx));
    return f;
}

/* Tensor `name` of f has this shape and, as float32, exactly these values. */
static void check_tensor(const pth_file *f, const char *name, int ndim, const int64_t *shape, const float *want,
                         size_t n) {
    const pth_tensor *t = pth_find(f, name);
    CHECK_MSG(t != NULL, "no tensor %s", name);
    if (!t) return;
    CHECK_MSG(t->ndim == ndim, "%s: %d dims", name, t->ndim);
    for (int d = 0; d < ndim && d < t->ndim; d++) CHECK_MSG(t->shape[d] == shape[d], "%s: dim %d", name, d);
    CHECK_MSG(t->numel == n, "%s: %zu elements", name, t->numel);
    if (t->numel != n) return;
    float got[32];
    CHECK(n <= 32);
    impasto_status s = pth_get_f32(ctx, f, t, got);
    CHECK_MSG(s == IMPASTO_OK, "%s: %s", name, impasto_ctx_error(ctx));
    for (size_t i = 0; s == IMPASTO_OK && i < n; i++)
        CHECK_MSG(got[i] == want[i], "%s[%zu] = %.9g, want %.9g", name, i, got[i], want[i]);
}

static void test_tiny(void) {
    pth_file *f = open_ok(DATA "tiny.pth");
    if (!f) return;
    CHECK(strcmp(pth_layout(f), "zip") == 0);
    static const char *const names[] = {"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                                        "1.running_var", "1.num_batches_tracked"};
    CHECK(pth_count(f) == 7);
    for (size_t i = 0; i < 7 && i < pth_count(f); i++) CHECK_MSG(!strcmp(pth_at(f, i)->name, names[i]), "%zu", i);
    const float w[6] = {-1, -0.5f, 0, 0.5f, 1, 1.5f}, b[3] = {0.25f, -0.25f, 2}, mean[3] = {0.1f, 0.2f, 0.3f};
    check_tensor(f, "0.weight", 4, (const int64_t[]){3, 2, 1, 1}, w, 6);
    check_tensor(f, "0.bias", 1, (const int64_t[]){3}, b, 3);
    check_tensor(f, "1.running_mean", 1, (const int64_t[]){3}, mean, 3);
    /* An int64 scalar: listed, but not read as weights. */
    const pth_tensor *nb = pth_find(f, "1.num_batches_tracked");
    CHECK(nb && nb->dtype == PK_DT_I64 && nb->ndim == 0 && nb->numel == 1);
    float x;
    if (nb) {
        CHECK(pth_get_f32(ctx, f, nb, &x) == IMPASTO_ERR_FORMAT);
        CHECK(strstr(impasto_ctx_error(ctx), "'1.num_batches_tracked' is int64, not floating point") != NULL);
    }
    pth_close(f);
}

/* mixed.pth and mixed_legacy.pth hold the same tensors (tools/gen_pth_tests.py). */
static void check_mixed(const char *path, const char *layout) {
    pth_file *f = open_ok(path);
    if (!f) return;
    CHECK(strcmp(pth_layout(f), layout) == 0);
    CHECK(pth_count(f) == 10);
    const float f16[6] = {-0.5f, -0.25f, 0, 0.25f, 0.5f, 0.75f}, bf16[4] = {1, -2, 0.5f, 3};
    const float f64[4] = {(float)1e-3, -2.5f, (float)1e10, 3};
    float t[12], base[20], half_t[6];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++) t[i * 3 + j] = (float)(4 * j + i);  /* arange(12).reshape(3, 4).t() */
    for (int i = 0; i < 20; i++) base[i] = (float)i;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++) half_t[i * 2 + j] = (float)(3 * j + i);  /* arange(6).reshape(2, 3).t() */
    const float slice[4] = {7, 8, 12, 13}, scalar[1] = {3.5f}, param[2] = {1, 2};
    check_tensor(f, "f16", 2, (const int64_t[]){2, 3}, f16, 6);
    check_tensor(f, "bf16", 1, (const int64_t[]){4}, bf16, 4);
    check_tensor(f, "f64", 2, (const int64_t[]){2, 2}, f64, 4);
    check_tensor(f, "t", 2, (const int64_t[]){4, 3}, t, 12);
    check_tensor(f, "base", 2, (const int64_t[]){4, 5}, base, 20);
    check_tensor(f, "slice", 2, (const int64_t[]){2, 2}, slice, 4);
    check_tensor(f, "scalar", 0, NULL, scalar, 1);
    check_tensor(f, "empty", 2, (const int64_t[]){0, 3}, NULL, 0);
    check_tensor(f, "param", 1, (const int64_t[]){2}, param, 2);
    check_tensor(f, "half_t", 2, (const int64_t[]){3, 2}, half_t, 6);
    const pth_tensor *a = pth_find(f, "t"), *s = pth_find(f, "slice"), *b = pth_find(f, "base");
    CHECK(a && a->stride[0] == 1 && a->stride[1] == 4);
    CHECK(s && b && s->offset == 7 && s->data == b->data);  /* one storage, two views */
    pth_close(f);
}

static void test_mixed(void) { check_mixed(DATA "mixed.pth", "zip"); }
static void test_mixed_legacy(void) { check_mixed(DATA "mixed_legacy.pth", "legacy"); }

static void test_v1_legacy(void) {
    pth_file *f = open_ok(DATA "v1_legacy.pth");
    if (!f) return;
    const float w[6] = {0, 1, 2, 3, 4, 5}, z[2] = {0, 0};
    CHECK(pth_count(f) == 2 && !strcmp(pth_at(f, 0)->name, "w"));
    check_tensor(f, "w", 2, (const int64_t[]){2, 3}, w, 6);
    check_tensor(f, "in1.running_mean", 1, (const int64_t[]){2}, z, 2);
    pth_close(f);
}

static void test_proto4(void) {
    pth_file *f = open_ok(DATA "proto4.pth");
    if (!f) return;
    const float a[4] = {0, 1, 2, 3};
    check_tensor(f, "a", 2, (const int64_t[]){2, 2}, a, 4);
    pth_close(f);
}

/* A training checkpoint ({'epoch', 'model', 'optimizer'}) and DataParallel's "module." names. */
static void test_checkpoint_and_prefix(void) {
    const char *files[2] = {DATA "ckpt.pth", DATA "dataparallel.pth"};
    for (int i = 0; i < 2; i++) {
        pth_file *f = open_ok(files[i]);
        if (!f) continue;
        const float w[3] = {0, 1, 2}, b[1] = {0.5f};
        CHECK_MSG(pth_count(f) == 2, "%s: %zu tensors", files[i], pth_count(f));
        check_tensor(f, "w", 1, (const int64_t[]){3}, w, 3);
        check_tensor(f, "b", 1, (const int64_t[]){1}, b, 1);
        pth_close(f);
    }
}

/* ---- hostile files ------------------------------------------------------------------------ */

static const struct {
    const char *file;
    impasto_status status;
    const char *words;          /* in the message */
    int at_read;                /* refused by pth_get_f32, not by opening */
} hostile[] = {
    {"global-os-system", IMPASTO_ERR_UNSUPPORTED, "asks for os.system", 0},
    {"global-posix-system", IMPASTO_ERR_UNSUPPORTED, "asks for posix.system", 0},
    {"reduce-builtins-eval", IMPASTO_ERR_UNSUPPORTED, "asks for builtins.eval", 0},
    {"stack-global-exec", IMPASTO_ERR_UNSUPPORTED, "asks for builtins.exec", 0},
    {"whole-module", IMPASTO_ERR_UNSUPPORTED, "asks for __main__.Net", 0},
    {"legacy-os-system", IMPASTO_ERR_UNSUPPORTED, "asks for os.system", 0},
    {"reduce-on-string", IMPASTO_ERR_UNSUPPORTED, "calls a string", 0},
    {"reduce-on-storage-type", IMPASTO_ERR_UNSUPPORTED, "calls torch.FloatStorage", 0},
    {"inst", IMPASTO_ERR_UNSUPPORTED, "uses INST", 0},
    {"obj", IMPASTO_ERR_UNSUPPORTED, "uses OBJ", 0},
    {"newobj", IMPASTO_ERR_UNSUPPORTED, "uses NEWOBJ", 0},
    {"build-on-tensor", IMPASTO_ERR_UNSUPPORTED, "sets the state of a tensor", 0},
    {"persid-module", IMPASTO_ERR_UNSUPPORTED, "a reference to a 'module'", 0},
    {"storage-missing", IMPASTO_ERR_FORMAT, "needs storage '0', which the archive lacks", 0},
    {"storage-size-mismatch", IMPASTO_ERR_FORMAT, "holds 8 bytes, not the 6 float32 values", 0},
    {"past-storage", IMPASTO_ERR_FORMAT, "'w' of shape (2, 3) and strides (3, 1) at offset 1 runs past its storage of 6", 0},
    {"storage-2p62", IMPASTO_ERR_FORMAT, "a storage of an absurd size", 0},
    {"shape-2p62", IMPASTO_ERR_FORMAT, "runs past its storage", 0},
    {"stride-overflow", IMPASTO_ERR_FORMAT, "runs past its storage", 0},
    {"expanded-view", IMPASTO_ERR_UNSUPPORTED, "more elements than its storage", 0},
    {"storage-key-path", IMPASTO_ERR_FORMAT, "a storage key that is not a plain name", 0},
    {"string-2p31", IMPASTO_ERR_FORMAT, "a string longer than 1 MB", 0},
    {"negative-dim", IMPASTO_ERR_FORMAT, "not non-negative integers", 0},
    {"nine-dims", IMPASTO_ERR_FORMAT, "at most 8 dimensions", 0},
    {"deep-nesting", IMPASTO_ERR_FORMAT, "nests deeper than 256 levels", 0},
    {"dict-amplification", IMPASTO_ERR_FORMAT, "containers grow past their limit", 0},
    {"memo-out-of-range", IMPASTO_ERR_FORMAT, "a memo entry it never stored", 0},
    {"memo-index-2p32", IMPASTO_ERR_FORMAT, "a memo index past the limit", 0},
    {"stack-underflow", IMPASTO_ERR_FORMAT, "from an empty stack", 0},
    {"setitems-on-list", IMPASTO_ERR_FORMAT, "SETITEMS on something that is not a dict", 0},
    {"no-stop", IMPASTO_ERR_FORMAT, "ends before its STOP", 0},
    {"truncated-pickle", IMPASTO_ERR_FORMAT, "truncated", 0},
    {"not-a-dict", IMPASTO_ERR_FORMAT, "holds a list, not a state_dict", 0},
    {"no-tensors", IMPASTO_ERR_FORMAT, "holds no tensors", 0},
    {"duplicate-name", IMPASTO_ERR_FORMAT, "tensor 'w' appears twice", 0},
    {"nan", IMPASTO_ERR_FORMAT, "tensor 'w' holds NaN or infinite values", 1},
    {"int-weights", IMPASTO_ERR_FORMAT, "tensor 'w' is int64, not floating point", 1},
    {"compressed", IMPASTO_ERR_UNSUPPORTED, "is compressed", 0},
    {"no-data-pkl", IMPASTO_ERR_FORMAT, "without data.pkl", 0},
    {"legacy-unknown-record", IMPASTO_ERR_FORMAT, "storage record '9' is unknown", 0},
    {"legacy-truncated", IMPASTO_ERR_FORMAT, "runs past the end of the file", 0},
    {"truncated-zip", IMPASTO_ERR_FORMAT, "no zip directory", 0},
    {"zip-entries-2p20", IMPASTO_ERR_FORMAT, "lists 1048576 entries", 0},
    {"crc-mismatch", IMPASTO_ERR_FORMAT, "fails its CRC-32 check", 0},
    {"zip64-offset-past-end", IMPASTO_ERR_FORMAT, "zip64 directory record is missing or damaged", 0},
};

/* Well-formed checkpoints of broken CycleGAN / pix2pix generators: read, then refused by
 * impasto_convert_pth --arch auto (src/formats/convert_gan.c). */
static const struct {
    const char *file;
    const char *words;
} hostile_gan[] = {
    {"gan-ngf-mismatch", "tensor 'model.10.conv_block.1.weight' has shape (4, 4, 3, 3), expected (8, 8, 3, 3) for a "
                         "residual block (4 ngf channels; model.1.weight gives ngf 2)"},
    {"gan-missing", "no tensor 'model.14.weight' (resnet_1blocks with ngf 1 and instance norm has one)"},
    {"gan-extra", "tensor 'model.2.weight' is not part of resnet_1blocks"},
    {"gan-inf", "tensor 'model.model.1.model.3.model.5.weight' holds NaN or infinite values"},
    {"gan-unet-11-levels", "the U-Net nests more than 10 blocks"},
};

/* A refusal is one line in plain words: no newline, no library function name. */
static void check_message(const char *what) {
    const char *e = impasto_ctx_error(ctx);
    CHECK_MSG(e[0] && !strchr(e, '\n') && !strstr(e, "impasto_") && !strstr(e, "pth_") && !strstr(e, "pickle_"),
              "%s: message '%s'", what, e);
}

static void test_hostile(void) {
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, HOSTILE "hostile-%s.pth", hostile[i].file);
        pth_file *f = NULL;
        impasto_status s = pth_open(ctx, path, &f);
        if (hostile[i].at_read && s == IMPASTO_OK) {
            const pth_tensor *t = pth_at(f, 0);
            float buf[16];
            s = t && t->numel <= 16 ? pth_get_f32(ctx, f, t, buf) : IMPASTO_OK;
        }
        CHECK_MSG(s == hostile[i].status, "%s: status %d, want %d (%s)", path, (int)s, (int)hostile[i].status,
                  impasto_ctx_error(ctx));
        CHECK_MSG(strstr(impasto_ctx_error(ctx), hostile[i].words) != NULL, "%s: '%s' lacks '%s'", path,
                  impasto_ctx_error(ctx), hostile[i].words);
        CHECK_MSG(strstr(impasto_ctx_error(ctx), path) != NULL, "%s: the message does not name the file", path);
        check_message(path);
        pth_close(f);
    }
}

static void test_hostile_gan(void) {
    char out[256];
    snprintf(out, sizeof out, "/tmp/impasto-test-pth-gan-%d.safetensors", (int)getpid());
    for (size_t i = 0; i < sizeof hostile_gan / sizeof hostile_gan[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, HOSTILE "hostile-%s.pth", hostile_gan[i].file);
        pth_file *f = NULL;
        CHECK_MSG(pth_open(ctx, path, &f) == IMPASTO_OK, "%s: %s", path, impasto_ctx_error(ctx));
        pth_close(f);
        const char *paths[1] = {path};
        impasto_status s = impasto_convert_pth(ctx, paths, 1, "auto", out);
        CHECK_MSG(s == IMPASTO_ERR_FORMAT, "%s: status %d (%s)", path, (int)s, impasto_ctx_error(ctx));
        CHECK_MSG(strstr(impasto_ctx_error(ctx), hostile_gan[i].words) != NULL, "%s: '%s' lacks '%s'", path,
                  impasto_ctx_error(ctx), hostile_gan[i].words);
        CHECK_MSG(strstr(impasto_ctx_error(ctx), path) != NULL, "%s: the message does not name the file", path);
        check_message(path);
        struct stat sb;
        CHECK_MSG(stat(out, &sb) != 0, "%s written by a refused conversion", out);
        unlink(out);
    }
}

/* Every hostile file the generator writes is in the table (a new one must say what it expects). */
static void test_hostile_listed(void) {
    const size_t nh = sizeof hostile / sizeof hostile[0], n = nh + sizeof hostile_gan / sizeof hostile_gan[0];
    for (size_t i = 0; i < n; i++) {
        char path[256];
        struct stat sb;
        snprintf(path, sizeof path, HOSTILE "hostile-%s.pth", i < nh ? hostile[i].file : hostile_gan[i - nh].file);
        CHECK_MSG(stat(path, &sb) == 0, "%s missing", path);
    }
    FILE *p = popen("ls " HOSTILE " | wc -l", "r");
    int count = 0;
    CHECK(p && fscanf(p, "%d", &count) == 1);
    if (p) pclose(p);
    CHECK_MSG((size_t)count == n, "%d files in " HOSTILE ", %zu in the table", count, n);
}

/* Every prefix of two valid files, and every one with one byte inverted: a status with a message
 * when refused, never a crash (ASan and UBSan watch under SANITIZE=1). */
static void test_truncations_and_flips(void) {
    const char *files[2] = {DATA "tiny.pth", DATA "mixed_legacy.pth"};
    for (int k = 0; k < 2; k++) {
        unsigned char *bytes = NULL;
        size_t size = 0;
        CHECK(file_read_all(ctx, files[k], 1 << 20, &bytes, &size) == IMPASTO_OK);
        if (!bytes) continue;
        size_t refused = 0;
        for (size_t n = 0; n < size; n++) {
            pth_file *f = NULL;
            impasto_status s = pth_parse(ctx, bytes, n, files[k], &f);
            refused += s != IMPASTO_OK;
            if (s != IMPASTO_OK) check_message(files[k]);
            pth_close(f);
        }
        CHECK_MSG(refused == size, "%s: %zu of %zu truncations read", files[k], size - refused, size);
        unsigned char *copy = malloc(size);
        for (size_t i = 0; copy && i < size; i++) {
            memcpy(copy, bytes, size);
            copy[i] ^= 0xff;
            pth_file *f = NULL;
            impasto_status s = pth_parse(ctx, copy, size, files[k], &f);
            if (s != IMPASTO_OK) check_message(files[k]);
            for (size_t j = 0; s == IMPASTO_OK && j < pth_count(f); j++) {
                const pth_tensor *t = pth_at(f, j);
                float *out = malloc((t->numel ? t->numel : 1) * sizeof *out);
                if (out && pth_get_f32(ctx, f, t, out) != IMPASTO_OK) check_message(files[k]);
                free(out);
            }
            pth_close(f);
        }
        free(copy);
        free(bytes);
    }
}

/* ---- impasto_convert_pth's refusals (the real conversions: tests/cli/test_pth.sh) ------------- */

static void test_convert_refusals(void) {
    char out[256];
    snprintf(out, sizeof out, "/tmp/impasto-test-pth-%d.safetensors", (int)getpid());
    const char *one[1] = {DATA "tiny.pth"}, *two[2] = {DATA "tiny.pth", DATA "mixed.pth"};
    CHECK(impasto_convert_pth(ctx, one, 1, "vgg16", out) == IMPASTO_ERR_INVALID_ARG);
    CHECK(strstr(impasto_ctx_error(ctx), "unknown architecture 'vgg16'") != NULL);
    CHECK(impasto_convert_pth(ctx, one, 1, "resnet_9blocks", out) == IMPASTO_ERR_FORMAT);
    CHECK(strstr(impasto_ctx_error(ctx), "not a generator of pytorch-CycleGAN-and-pix2pix") != NULL);
    CHECK(impasto_convert_pth(ctx, two, 2, "transformernet", out) == IMPASTO_ERR_INVALID_ARG);
    CHECK(impasto_convert_pth(ctx, one, 1, "adain", out) == IMPASTO_ERR_INVALID_ARG);
    CHECK(impasto_convert_pth(ctx, one, 1, NULL, out) == IMPASTO_ERR_INVALID_ARG);
    CHECK(impasto_convert_pth(ctx, one, 1, "transformernet", out) == IMPASTO_ERR_FORMAT);
    CHECK(strstr(impasto_ctx_error(ctx), "tensor '0.weight' is not part of the fast-neural-style TransformerNet"));
    CHECK(impasto_convert_pth(ctx, two, 2, "adain", out) == IMPASTO_ERR_FORMAT);
    CHECK(strstr(impasto_ctx_error(ctx), "both of them is pytorch-AdaIN's vgg_normalised.pth") ||
          strstr(impasto_ctx_error(ctx), "is not part of pytorch-AdaIN's"));
    const char *evil[1] = {HOSTILE "hostile-global-os-system.pth"};
    CHECK(impasto_convert_pth(ctx, evil, 1, "transformernet", out) == IMPASTO_ERR_UNSUPPORTED);
    struct stat sb;
    CHECK_MSG(stat(out, &sb) != 0, "%s written by a refused conversion", out);
    unlink(out);
}

int main(void) {
    ctx = impasto_ctx_create();
    if (!ctx) return 1;
    RUN(test_tiny);
    RUN(test_mixed);
    RUN(test_mixed_legacy);
    RUN(test_v1_legacy);
    RUN(test_proto4);
    RUN(test_checkpoint_and_prefix);
    RUN(test_hostile);
    RUN(test_hostile_gan);
    RUN(test_hostile_listed);
    RUN(test_truncations_and_flips);
    RUN(test_convert_refusals);
    impasto_ctx_free(ctx);
    return test_summary();
}
