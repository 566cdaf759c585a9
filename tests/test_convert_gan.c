/* impasto_convert_pth on junyanz/pytorch-CycleGAN-and-pix2pix generators (src/formats/convert_gan.c),
 * against what PyTorch wrote and computed (tools/gen_pth_tests.py, tests/data/pth/):
 *   - resnet_tiny.pth (ResnetGenerator ngf 4, 2 blocks, instance norm), its legacy twin of 2017
 *     resnet_tiny_old.pth (instance norms with running statistics) and unet_tiny.pth (UnetGenerator
 *     num_downs 5, ngf 1, batch norm, num_batches_tracked) convert, by their name and by "auto", to
 *     files impasto_gan_load reads, whose every tensor equals PyTorch's (resnet_tiny.safetensors,
 *     unet_tiny.safetensors) bit for bit, with the architecture in the metadata;
 *   - the converted generators translate a fixed picture as PyTorch does (float64 forward,
 *     gan_tiny_forward.safetensors) within 1e-4: the converter against a known output; the U-Net in
 *     both of the reference's test modes (batch statistics by default, running ones with --eval);
 *   - refusals, one line naming the file (and the tensor): another family or depth than --arch, a
 *     truncated file, two files, a checkpoint of another network; the broken generators of
 *     fuzz/regressions/pth/hostile-gan-*.pth are in tests/test_pth.c's hostile table;
 *   - the reference's names at full depth: unet_256's innermost layers are 69 characters deep.
 * Run from the repository root (as `make test` does). */
#include "test.h"

#include "core/ctx.h"
#include "core/fileio.h"
#include "core/image.h"
#include "formats/safetensors.h"
#include "models/gan_nets.h"

#include <sys/stat.h>
#include <unistd.h>

#define DATA "tests/data/pth/"

static impasto_ctx *ctx;
static char out[256];

static impasto_status convert(const char *pth, const char *arch) {
    const char *paths[1] = {pth};
    unlink(out);
    return impasto_convert_pth(ctx, paths, 1, arch, out);
}

/* Every tensor of `expected` is in the converted file with the same shape and bits, and the file
 * holds nothing else; returns the converted file (open) for the metadata checks. */
static safetensors *check_same_tensors(const char *expected) {
    safetensors *want = NULL, *got = NULL;
    CHECK_MSG(safetensors_open(ctx, expected, &want) == IMPASTO_OK, "%s", impasto_ctx_error(ctx));
    CHECK_MSG(safetensors_open(ctx, out, &got) == IMPASTO_OK, "%s", impasto_ctx_error(ctx));
    if (!want || !got) {
        safetensors_close(want);
        return got;
    }
    CHECK_MSG(safetensors_count(got) == safetensors_count(want), "%zu tensors, want %zu", safetensors_count(got),
              safetensors_count(want));
    for (size_t i = 0; i < safetensors_count(want); i++) {
        const st_tensor *w = safetensors_at(want, i), *g = safetensors_find(got, w->name);
        CHECK_MSG(g != NULL, "%s missing", w->name);
        if (!g) continue;
        int same = g->dtype == ST_F32 && g->ndim == w->ndim && g->nbytes == w->nbytes;
        for (int d = 0; same && d < w->ndim; d++) same = g->shape[d] == w->shape[d];
        CHECK_MSG(same && !memcmp(g->data, w->data, w->nbytes), "%s differs", w->name);
    }
    safetensors_close(want);
    return got;
}

static void check_meta(const safetensors *st, const char *key, const char *want) {
    const char *v = safetensors_meta(st, key);
    CHECK_MSG(v && !strcmp(v, want), "%s = %s, want %s", key, v ? v : "(none)", want);
}

static void check_loads(const char *gen) {
    impasto_gan_model *m = NULL;
    CHECK_MSG(impasto_gan_load(ctx, out, &m) == IMPASTO_OK, "%s", impasto_ctx_error(ctx));
    if (!m) return;
    CHECK(!strcmp(impasto_gan_kind(m), "gan-generator"));
    CHECK(!strcmp(impasto_gan_generator(m), gen));
    CHECK(!impasto_gan_has_reverse(m));
    impasto_gan_free(m);
}

static void test_resnet_tiny(void) {
    static const char *const arch[2] = {"resnet_2blocks", "auto"};
    for (int k = 0; k < 2; k++) {
        CHECK_MSG(convert(DATA "resnet_tiny.pth", arch[k]) == IMPASTO_OK, "%s", impasto_ctx_error(ctx));
        safetensors *st = check_same_tensors(DATA "resnet_tiny.safetensors");
        if (!st) continue;
        CHECK(safetensors_count(st) == 20);
        check_meta(st, "kind", "gan-generator");
        check_meta(st, "netG", "resnet_2blocks");
        check_meta(st, "arch", "resnet_2blocks");
        check_meta(st, "ngf", "4");
        check_meta(st, "norm", "instance");
        check_meta(st, "dropout", "0");
        check_meta(st, "in_channels", "3");
        check_meta(st, "out_channels", "3");
        const char *src = safetensors_meta(st, "source");
        CHECK(src && strstr(src, "resnet_tiny.pth (zip") && !strstr(src, "dropped"));
        safetensors_close(st);
        check_loads("resnet_2blocks");
    }
}

/* The 2017 file: legacy layout, PyTorch 0.3's tensors, 18 running statistics on instance norms. */
static void test_resnet_tiny_old(void) {
    CHECK_MSG(convert(DATA "resnet_tiny_old.pth", "auto") == IMPASTO_OK, "%s", impasto_ctx_error(ctx));
    safetensors *st = check_same_tensors(DATA "resnet_tiny.safetensors");
    if (!st) return;
    const char *src = safetensors_meta(st, "source");
    CHECK_MSG(src && strstr(src, "(legacy torch.save layout)") && strstr(src, "running_mean/running_var entries "
              "dropped, as the reference's loader does"), "%s", src ? src : "(none)");
    check_meta(st, "norm", "instance");
    safetensors_close(st);
    check_loads("resnet_2blocks");
}

/* Batch norm from the missing conv biases; num_batches_tracked skipped; dropout recorded on. */
static void test_unet_tiny(void) {
    static const char *const arch[2] = {"unet_32", "auto"};
    for (int k = 0; k < 2; k++) {
        CHECK_MSG(convert(DATA "unet_tiny.pth", arch[k]) == IMPASTO_OK, "%s", impasto_ctx_error(ctx));
        safetensors *st = check_same_tensors(DATA "unet_tiny.safetensors");
        if (!st) continue;
        CHECK(safetensors_count(st) == 39);
        check_meta(st, "netG", "unet_32");
        check_meta(st, "ngf", "1");
        check_meta(st, "norm", "batch");
        check_meta(st, "dropout", "1");
        const char *src = safetensors_meta(st, "source");
        CHECK(src && strstr(src, "dropout on, as pix2pix runs it"));
        safetensors_close(st);
        check_loads("unet_32");
    }
}

/* ---- the converter against a known output ------------------------------------------------- */

static float *tensor(const safetensors *st, const char *name, size_t n) {
    const st_tensor *t = safetensors_find(st, name);
    CHECK_MSG(t && t->nelem == n, "%s", name);
    if (!t || t->nelem != n) return NULL;
    float *x = malloc(n * sizeof *x);
    if (x && !safetensors_decode_f32(t, x)) {
        free(x);
        return NULL;
    }
    return x;
}

/* The picture `name`.input (h, w, 3) through the converted `pth` gives `expected` (h, w, 3). */
static void check_translation(const char *pth, const char *name, int h, int w, int eval_mode, const char *expected) {
    safetensors *fw = NULL;
    CHECK(safetensors_open(ctx, DATA "gan_tiny_forward.safetensors", &fw) == IMPASTO_OK);
    CHECK_MSG(convert(pth, "auto") == IMPASTO_OK, "%s", impasto_ctx_error(ctx));
    impasto_gan_model *m = NULL;
    CHECK(impasto_gan_load(ctx, out, &m) == IMPASTO_OK);
    const size_t n = (size_t)h * (size_t)w * 3;
    char key[64];
    snprintf(key, sizeof key, "%s.input", name);
    float *in = fw ? tensor(fw, key, n) : NULL, *want = fw ? tensor(fw, expected, n) : NULL;
    impasto_image *pic = NULL, *res = NULL;
    if (m && in && want && impasto_image_create(ctx, w, h, 3, &pic) == IMPASTO_OK) {
        memcpy(pic->data, in, n * sizeof *in);
        impasto_translate_options opt;
        impasto_translate_options_init(&opt);
        opt.eval_mode = eval_mode;
        CHECK_MSG(impasto_translate(ctx, m, pic, &opt, &res) == IMPASTO_OK, "%s", impasto_ctx_error(ctx));
    }
    if (res) {
        CHECK(res->width == w && res->height == h && res->channels == 3);
        double worst = 0;
        for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)res->data[i] - want[i]));
        printf("  %s (%s): largest difference from PyTorch %.2e\n", name, expected, worst);
        CHECK_MSG(worst <= 1e-4, "%s: %.3g from PyTorch's output", expected, worst);
    }
    impasto_image_free(pic);
    impasto_image_free(res);
    free(in);
    free(want);
    impasto_gan_free(m);
    safetensors_close(fw);
}

static void test_known_output(void) {
    check_translation(DATA "resnet_tiny.pth", "resnet_tiny", 12, 16, 0, "resnet_tiny.output");
    check_translation(DATA "resnet_tiny_old.pth", "resnet_tiny", 12, 16, 1, "resnet_tiny.output");
    check_translation(DATA "unet_tiny.pth", "unet_tiny", 32, 64, 0, "unet_tiny.output");
    check_translation(DATA "unet_tiny.pth", "unet_tiny", 32, 64, 1, "unet_tiny.output_eval");
}

/* ---- refusals ------------------------------------------------------------------------------ */

/* s is `want`, its message one line holding `words` and the file's name, and nothing written. */
static void check_refused(impasto_status s, impasto_status want, const char *file, const char *words) {
    const char *e = impasto_ctx_error(ctx);
    CHECK_MSG(s == want, "%s: status %d, want %d (%s)", file, (int)s, (int)want, e);
    CHECK_MSG(strstr(e, words) != NULL, "'%s' lacks '%s'", e, words);
    CHECK_MSG(!file || strstr(e, file) != NULL, "'%s' does not name %s", e, file);
    CHECK_MSG(!strchr(e, '\n') && !strstr(e, "impasto_") && !strstr(e, "pth_"), "message '%s'", e);
    struct stat sb;
    CHECK_MSG(stat(out, &sb) != 0, "%s written by a refused conversion", out);
}

static void test_refusals(void) {
    check_refused(convert(DATA "resnet_tiny.pth", "unet_256"), IMPASTO_ERR_FORMAT, DATA "resnet_tiny.pth",
                  "the checkpoint of a resnet_2blocks generator (ResNet, 2 residual blocks), not of unet_256: convert "
                  "it as resnet_2blocks or auto");
    check_refused(convert(DATA "resnet_tiny.pth", "resnet_9blocks"), IMPASTO_ERR_FORMAT, DATA "resnet_tiny.pth",
                  "not of resnet_9blocks");
    check_refused(convert(DATA "unet_tiny.pth", "unet_256"), IMPASTO_ERR_FORMAT, DATA "unet_tiny.pth",
                  "a unet_32 generator (U-Net, 5 levels), not of unet_256");
    check_refused(convert(DATA "unet_tiny.pth", "resnet_9blocks"), IMPASTO_ERR_FORMAT, NULL, "not of resnet_9blocks");
    check_refused(convert(DATA "tiny.pth", "auto"), IMPASTO_ERR_FORMAT, DATA "tiny.pth",
                  "not a generator of pytorch-CycleGAN-and-pix2pix: no 'model.1.weight' (ResNet) or "
                  "'model.model.0.weight' (U-Net), and its first tensor is '0.weight'");
    check_refused(convert(DATA "resnet_tiny.pth", "unet_100"), IMPASTO_ERR_INVALID_ARG, NULL,
                  "unknown architecture 'unet_100'");
    const char *two[2] = {DATA "resnet_tiny.pth", DATA "unet_tiny.pth"};
    check_refused(impasto_convert_pth(ctx, two, 2, "auto", out), IMPASTO_ERR_INVALID_ARG, NULL,
                  "auto takes one checkpoint (a generator's), got 2");
    /* a generator given as a TransformerNet */
    check_refused(convert(DATA "resnet_tiny.pth", "transformernet"), IMPASTO_ERR_FORMAT, NULL,
                  "tensor 'model.1.weight' is not part of the fast-neural-style TransformerNet");
    /* truncated resnet_tiny.pth (tests/test_pth.c cuts smaller files at every byte) */
    unsigned char *bytes = NULL;
    size_t size = 0;
    CHECK(file_read_all(ctx, DATA "resnet_tiny.pth", 1 << 20, &bytes, &size) == IMPASTO_OK);
    char cut[300];
    snprintf(cut, sizeof cut, "/tmp/impasto-test-gan-cut-%d.pth", (int)getpid());
    const size_t cuts[] = {0, 10, 100, size / 4, size / 2, size - 1000, size - 100, size - 22, size - 1};
    for (size_t k = 0; bytes && size > 1000 && k < sizeof cuts / sizeof cuts[0]; k++) {
        const size_t n = cuts[k];
        FILE *fp = fopen(cut, "wb");
        CHECK(fp && fwrite(bytes, 1, n, fp) == n);
        if (fp) fclose(fp);
        check_refused(convert(cut, "auto"), IMPASTO_ERR_FORMAT, cut, "");
    }
    unlink(cut);
    free(bytes);
}

/* ---- the reference's names at full depth --------------------------------------------------- */

static void test_deep_unet_names(void) {
    static const struct {
        const char *arch;
        const char *innermost;   /* the innermost block's down convolution */
    } cases[] = {
        {"unet_256", "model.model.1.model.3.model.3.model.3.model.3.model.3.model.3.model.1.weight"},
        {"unet_1024", "model.model.1.model.3.model.3.model.3.model.3.model.3.model.3.model.3.model.3.model.1.weight"},
    };
    for (int c = 0; c < 2; c++) {
        gan_gen_spec s = {.in_c = 3, .out_c = 3, .ngf = 1, .norm = GAN_NORM_BATCH, .dropout = 1};
        CHECK(gan_gen_parse(cases[c].arch, &s) == 0);
        net *n = NULL;
        CHECK_MSG(gan_generator_create(ctx, &s, &n) == IMPASTO_OK, "%s", impasto_ctx_error(ctx));
        if (!n) continue;
        int found = 0, unique = 1;
        const size_t count = net_tensor_count(n);
        for (size_t i = 0; i < count; i++) {
            net_tensor a, b;
            net_tensor_at(n, i, &a);
            found += !strcmp(a.name, cases[c].innermost);
            for (size_t j = i + 1; j < count && unique; j++) {
                net_tensor_at(n, j, &b);
                unique = strcmp(a.name, b.name) != 0;
            }
        }
        CHECK_MSG(found == 1 && unique, "%s: innermost %d, names unique %d", cases[c].arch, found, unique);
        net_free(n);
    }
}

int main(void) {
    ctx = impasto_ctx_create();
    if (!ctx) return 1;
    snprintf(out, sizeof out, "/tmp/impasto-test-gan-%d.safetensors", (int)getpid());
    RUN(test_resnet_tiny);
    RUN(test_resnet_tiny_old);
    RUN(test_unet_tiny);
    RUN(test_known_output);
    RUN(test_refusals);
    RUN(test_deep_unet_names);
    unlink(out);
    impasto_ctx_free(ctx);
    return test_summary();
}
