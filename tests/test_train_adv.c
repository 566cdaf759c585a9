/* impasto train's adversarial term (src/methods/train_adv.h): the gradient it adds at the network's
 * output against finite differences, a resumed run equal to an unbroken one bit for bit (the
 * discriminator, its Adam state and the real crops are restored), the term changing the result, its
 * losses reported, and checkpoints with and without it refusing to be mixed. Needs
 * models/vgg19.safetensors (`make test` builds it). */
#include "image_util.h"

#include "core/rng.h"
#include "formats/safetensors.h"
#include "methods/train_adv.h"

#define MODEL "models/vgg19.safetensors"

static impasto_ctx *ctx;
static impasto_model *vgg;
static impasto_image *style;
static const char *photos[4];
static char photo_buf[4][512];

static void make_data(void) {
    uint64_t g = 5;
    for (int i = 0; i < 4; i++) {
        impasto_image *img = NULL;
        CHECK(impasto_image_create(ctx, 44, 36, 3, &img) == IMPASTO_OK);
        float *d = impasto_image_data(img);
        const double a = rng_uniform(&g), b = rng_uniform(&g);
        for (int y = 0; y < 36; y++)
            for (int x = 0; x < 44; x++)
                for (int c = 0; c < 3; c++)
                    d[((size_t)y * 44 + (size_t)x) * 3 + (size_t)c] = (float)fmod(a * (x + c) / 44.0 + b * y / 36.0, 1.0);
        char n[32];
        snprintf(n, sizeof n, "p%d.png", i);
        snprintf(photo_buf[i], sizeof photo_buf[i], "%s", tpath(n));
        photos[i] = photo_buf[i];
        CHECK(impasto_image_save(ctx, img, photos[i], 0) == IMPASTO_OK);
        impasto_image_free(img);
    }
    CHECK(impasto_image_create(ctx, 48, 40, 3, &style) == IMPASTO_OK);
    float *d = impasto_image_data(style);
    for (int y = 0; y < 40; y++)
        for (int x = 0; x < 48; x++)
            for (int c = 0; c < 3; c++) d[((size_t)y * 48 + (size_t)x) * 3 + (size_t)c] = ((x + y) / 4) % 3 == c ? 0.9f : 0.1f;
}

/* The generator's adversarial gradient at y (0..255) against central differences of its loss. The
 * discriminator runs in float32 through instance norms: a step of 0.5 (in 0..255 units) gives
 * quotients within a few percent of the gradient's scale. */
static void test_generator_gradient(void) {
    train_adv *a = NULL;
    CHECK(train_adv_create(ctx, style, NULL, 0, 32, 1, 1, 1, 1, &a) == IMPASTO_OK);
    if (!a) return;
    train_adv_init(a, 3);
    const size_t n = 3 * 32 * 32;
    float *y = malloc(n * sizeof *y), *dy = calloc(n, sizeof *dy), *tmp = calloc(n, sizeof *tmp);
    uint64_t g = 9;
    for (size_t i = 0; i < n; i++) y[i] = (float)(255.0 * rng_uniform(&g));
    double loss;
    CHECK(train_adv_generator(a, 0, 0, y, 2.0, dy, &loss) == IMPASTO_OK);
    CHECK(loss > 0);
    double scale = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(dy[i]));
    CHECK(scale > 0);
    int bad = 0;
    for (int k = 0; k < 20; k++) {
        const size_t i = rng_below(&g, n);
        const float keep = y[i];
        double lp, lm;
        y[i] = keep + 0.5f;
        train_adv_generator(a, 0, 0, y, 2.0, tmp, &lp);
        y[i] = keep - 0.5f;
        train_adv_generator(a, 0, 0, y, 2.0, tmp, &lm);
        y[i] = keep;
        const double num = (lp - lm) / 1.0;
        if (fabs(num - dy[i]) > 0.03 * fabs(num) + 0.02 * scale) {
            bad++;
            fprintf(stderr, "  y[%zu]: numeric %g, backward %g (scale %g)\n", i, num, dy[i], scale);
        }
    }
    CHECK(bad <= 1);
    free(y), free(dy), free(tmp);
    train_adv_free(a);
}

typedef struct adv_log {
    int n;
    double adv[16], disc[16];
    long cancel_at;
} adv_log;

static int on_step(const impasto_train_progress *p, void *user) {
    adv_log *l = user;
    if (l->n < 16) l->adv[l->n] = p->adversarial_loss, l->disc[l->n] = p->discriminator_loss, l->n++;
    return l->cancel_at && p->step == l->cancel_at;
}

static void options(impasto_train_options *o, adv_log *log, double weight) {
    impasto_train_options_init(o);
    o->image_size = 32;
    o->batch_size = 2;
    o->steps = 4;
    o->seed = 11;
    o->adversarial_weight = weight;
    o->progress = on_step;
    o->progress_user = log;
}

static int same_file(const char *p, const char *q) {
    size_t n1, n2;
    unsigned char *a = read_file(p, &n1), *b = read_file(q, &n2);
    const int same = a && b && n1 == n2 && !memcmp(a, b, n1);
    free(a), free(b);
    return same;
}

static void test_resume_and_effect(void) {
    impasto_train_options o;
    adv_log log = {0};
    options(&o, &log, 3e5);
    char dir[512];
    snprintf(dir, sizeof dir, "%s", tpath("ck"));
    CHECK(mkdir(dir, 0755) == 0);
    const char *whole = tpath("whole.safetensors");
    CHECK(impasto_train(ctx, vgg, style, photos, 4, &o, whole) == IMPASTO_OK);
    CHECK(log.n == 4 && log.adv[0] > 0 && log.disc[0] > 0);
    /* the same run without the term is another model */
    adv_log l0 = {0};
    impasto_train_options plain;
    options(&plain, &l0, 0);
    const char *without = tpath("without.safetensors");
    CHECK(impasto_train(ctx, vgg, style, photos, 4, &plain, without) == IMPASTO_OK);
    CHECK(l0.n == 4 && l0.adv[0] == 0 && l0.disc[0] == 0);
    CHECK(!same_file(whole, without));
    /* stopped after step 2, resumed: the same model, byte for byte */
    adv_log l1 = {.cancel_at = 2};
    o.progress_user = &l1;
    o.checkpoint_dir = dir;
    const char *resumed = tpath("resumed.safetensors");
    CHECK(impasto_train(ctx, vgg, style, photos, 4, &o, resumed) == IMPASTO_ERR_CANCELLED);
    char ck[600];
    snprintf(ck, sizeof ck, "%s/ckpt_step_2.safetensors", dir);
    safetensors *st = NULL;
    CHECK(safetensors_open(ctx, ck, &st) == IMPASTO_OK);
    CHECK(st && safetensors_find(st, "adversary.model.11.weight") && safetensors_find(st, "optimizer.adversary.exp_avg"));
    safetensors_close(st);
    adv_log l2 = {0};
    o.progress_user = &l2;
    o.resume = ck;
    CHECK(impasto_train(ctx, vgg, style, photos, 4, &o, resumed) == IMPASTO_OK);
    CHECK(l2.n == 2 && l2.adv[1] == log.adv[3] && l2.disc[1] == log.disc[3]);
    CHECK_MSG(same_file(whole, resumed), "the resumed run's model differs from the unbroken one's");
    /* the final model is a plain fast network: no discriminator in it */
    CHECK(safetensors_open(ctx, whole, &st) == IMPASTO_OK);
    CHECK(st && !safetensors_find(st, "adversary.model.0.weight"));
    safetensors_close(st);
    /* mixing is refused */
    o.adversarial_weight = 0;
    CHECK(impasto_train(ctx, vgg, style, photos, 4, &o, resumed) == IMPASTO_ERR_INVALID_ARG);
    CHECK(strstr(impasto_ctx_error(ctx), "trained with an adversarial term") != NULL);
    plain.checkpoint_dir = dir;
    adv_log l3 = {.cancel_at = 1};
    plain.progress_user = &l3;
    CHECK(impasto_train(ctx, vgg, style, photos, 4, &plain, without) == IMPASTO_ERR_CANCELLED);
    snprintf(ck, sizeof ck, "%s/ckpt_step_1.safetensors", dir);
    o.adversarial_weight = 3e5;
    o.resume = ck;
    CHECK(impasto_train(ctx, vgg, style, photos, 4, &o, resumed) == IMPASTO_ERR_INVALID_ARG);
    CHECK(strstr(impasto_ctx_error(ctx), "without an adversarial term") != NULL);
}

/* A folder of paintings instead of the style image; a missing one is named. */
static void test_paintings(void) {
    impasto_train_options o;
    adv_log log = {0};
    options(&o, &log, 1e5);
    o.steps = 1;
    o.paintings = photos + 2;
    o.npaintings = 2;
    CHECK(impasto_train(ctx, vgg, style, photos, 2, &o, tpath("paintings.safetensors")) == IMPASTO_OK);
    const char *missing[1] = {tpath("missing.png")};
    o.paintings = missing;
    o.npaintings = 1;
    CHECK(impasto_train(ctx, vgg, style, photos, 2, &o, tpath("paintings.safetensors")) == IMPASTO_ERR_IO);
    CHECK(strstr(impasto_ctx_error(ctx), "missing.png") != NULL);
    o.adversarial_weight = -1;
    CHECK(impasto_train(ctx, vgg, style, photos, 2, &o, tpath("paintings.safetensors")) == IMPASTO_ERR_INVALID_ARG);
}

int main(void) {
    if (access(MODEL, R_OK) != 0) {
        printf("ok adversarial training # SKIP no %s (make models)\n", MODEL);
        return test_summary();
    }
    ctx = impasto_ctx_create();
    impasto_ctx_set_threads(ctx, 2);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/impasto_adv_XXXXXX");
    if (!mkdtemp(tmpdir) || impasto_model_load(ctx, MODEL, &vgg) != IMPASTO_OK) return 1;
    make_data();
    RUN(test_generator_gradient);
    RUN(test_resume_and_effect);
    RUN(test_paintings);
    impasto_image_free(style);
    impasto_model_free(vgg);
    remove_tree(tmpdir);
    impasto_ctx_free(ctx);
    return test_summary();
}
