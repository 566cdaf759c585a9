/* impasto_gan_train and impasto_translate end to end on tiny networks and pictures: a resumed run
 * is bit for bit the unbroken one, the learning rate schedule, pix2pix's pair makers, the history
 * pool, a batch as the mean of its pictures, translation sizes and directions, and the refusals.
 * (One step against PyTorch is in test_gan_golden.c.) */
#include "image_util.h"

#include "core/ctx.h"
#include "core/rng.h"
#include "formats/safetensors.h"
#include "methods/gan_data.h"
#include "methods/gan_train.h"

static impasto_ctx *ctx;

/* A w x h picture of smooth colour bands with a seed-dependent phase, saved as PNG. */
static const char *picture(const char *name, int w, int h, int ch, int seed) {
    impasto_image *img = NULL;
    CHECK(impasto_image_create(ctx, w, h, ch, &img) == IMPASTO_OK);
    float *p = impasto_image_data(img);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < ch; c++)
                p[((size_t)y * (size_t)w + (size_t)x) * (size_t)ch + (size_t)c] =
                    0.5f + 0.45f * sinf(0.3f * (float)(x + 2 * y + seed) + 1.7f * (float)c);
    const char *path = tpath(name);
    CHECK(impasto_image_save(ctx, img, path, 0) == IMPASTO_OK);
    impasto_image_free(img);
    return path;
}

static char a_paths[4][512], b_paths[3][512];
static const char *A[4], *B[3];

static void make_domains(void) {
    for (int i = 0; i < 4; i++) {
        char n[32];
        snprintf(n, sizeof n, "a%d.png", i);
        snprintf(a_paths[i], sizeof a_paths[i], "%s", picture(n, 40 + 4 * i, 36, i == 3 ? 1 : 3, i));
        A[i] = a_paths[i];
    }
    for (int i = 0; i < 3; i++) {
        char n[32];
        snprintf(n, sizeof n, "b%d.png", i);
        snprintf(b_paths[i], sizeof b_paths[i], "%s", picture(n, 36, 44, i == 2 ? 4 : 3, 50 + 7 * i));
        B[i] = b_paths[i];
    }
}

static void tiny(impasto_gan_train_options *o, int cyc) {
    impasto_gan_train_options_init(o);
    o->model = cyc ? IMPASTO_GAN_CYCLEGAN : IMPASTO_GAN_PIX2PIX;
    o->generator = cyc ? "resnet_1blocks" : "unet_32";
    o->ngf = 2, o->ndf = 2, o->crop_size = 32, o->load_size = 36;
    o->epochs = 1, o->epochs_decay = 2;
    o->pool_size = cyc ? 2 : 0;
    o->seed = 7;
}

static int same_files(const char *p, const char *q) {
    size_t n1, n2;
    unsigned char *a = read_file(p, &n1), *b = read_file(q, &n2);
    int same = a && b && n1 == n2 && !memcmp(a, b, n1);
    free(a), free(b);
    return same;
}

typedef struct stopper {
    long at;
    long last;
    double lr[32];
} stopper;

static int stop_at(const impasto_gan_progress *p, void *user) {
    stopper *s = user;
    if (p->step <= 32) s->lr[p->step - 1] = p->learning_rate;
    s->last = p->step;
    return s->at && p->step == s->at;
}

/* Unbroken, and stopped after step 5 then resumed: the same model file, byte for byte (the pools,
 * Adam's moments, the order of A and every draw are restored). */
static void resume_case(int cyc) {
    impasto_gan_train_options o;
    tiny(&o, cyc);
    stopper st = {0};
    o.progress = stop_at;
    o.progress_user = &st;
    const size_t na = cyc ? 4 : 3, nb = cyc ? 3 : 0;
    const char *whole = tpath(cyc ? "whole_c.safetensors" : "whole_p.safetensors");
    CHECK(impasto_gan_train(ctx, A, na, B, nb, &o, whole) == IMPASTO_OK);
    const long total = cyc ? 12 : 9;  /* 3 epochs of max(na, nb) pictures */
    CHECK(st.last == total);
    /* the schedule: 1 epoch at the rate, then 2 decaying: 1 - (e + 1 - 1) / 3 */
    const long per = cyc ? 4 : 3;
    CHECK_NEAR(st.lr[0], 2e-4, 1e-12);
    CHECK_NEAR(st.lr[per], 2e-4 * (1 - 1.0 / 3), 1e-12);
    CHECK_NEAR(st.lr[2 * per], 2e-4 * (1 - 2.0 / 3), 1e-12);
    char dir[512];
    snprintf(dir, sizeof dir, "%s", tpath(cyc ? "ck_c" : "ck_p"));
    CHECK(mkdir(dir, 0755) == 0);
    o.checkpoint_dir = dir;
    st.at = 5;
    const char *broken = tpath(cyc ? "broken_c.safetensors" : "broken_p.safetensors");
    CHECK(impasto_gan_train(ctx, A, na, B, nb, &o, broken) == IMPASTO_ERR_CANCELLED);
    CHECK(strstr(impasto_ctx_error(ctx), "gan_step_5.safetensors") != NULL);
    CHECK(access(broken, F_OK) != 0);
    char ck[600];
    snprintf(ck, sizeof ck, "%s/gan_step_5.safetensors", dir);
    st.at = 0;
    o.resume = ck;
    CHECK(impasto_gan_train(ctx, A, na, B, nb, &o, broken) == IMPASTO_OK);
    CHECK_MSG(same_files(whole, broken), "%s: the resumed run's model differs from the unbroken one's",
              cyc ? "cyclegan" : "pix2pix");
    /* the checkpoint is a model too; a model is not a checkpoint */
    impasto_gan_model *m = NULL;
    CHECK(impasto_gan_load(ctx, ck, &m) == IMPASTO_OK);
    impasto_gan_free(m);
    o.resume = whole;
    CHECK(impasto_gan_train(ctx, A, na, B, nb, &o, broken) == IMPASTO_ERR_FORMAT);
}

static void test_resume_cyclegan(void) { resume_case(1); }
static void test_resume_pix2pix(void) { resume_case(0); }

/* Translation keeps the picture's size (padded for ResNet, resized for U-Net), both directions of a
 * CycleGAN, one of a pix2pix, alpha carried over; pix2pix's test.py mode draws dropout from the
 * seed, --eval does not. */
static void test_translate(void) {
    impasto_gan_model *m = NULL;
    CHECK(impasto_gan_load(ctx, tpath("whole_c.safetensors"), &m) == IMPASTO_OK);
    if (!m) return;
    CHECK(!strcmp(impasto_gan_kind(m), "cyclegan") && impasto_gan_has_reverse(m));
    CHECK(!strcmp(impasto_gan_generator(m), "resnet_1blocks"));
    impasto_image *in = NULL, *out = NULL;
    CHECK(impasto_image_load(ctx, B[2], &in) == IMPASTO_OK);  /* RGBA 36 x 44 */
    impasto_translate_options o;
    impasto_translate_options_init(&o);
    for (int d = 0; d < 2; d++) {
        o.direction = d ? IMPASTO_B_TO_A : IMPASTO_A_TO_B;
        CHECK(impasto_translate(ctx, m, in, &o, &out) == IMPASTO_OK);
        CHECK(out && impasto_image_width(out) == 36 && impasto_image_height(out) == 44 && impasto_image_channels(out) == 4);
        impasto_image_free(out);
        out = NULL;
    }
    o.size = 30;  /* longer side 30: 25 x 30, padded to 28 x 32 and cropped back */
    CHECK(impasto_translate(ctx, m, in, &o, &out) == IMPASTO_OK);
    CHECK(out && impasto_image_width(out) == 25 && impasto_image_height(out) == 30);
    impasto_image_free(out);
    impasto_gan_free(m);
    CHECK(impasto_gan_load(ctx, tpath("whole_p.safetensors"), &m) == IMPASTO_OK);
    if (!m) return;
    CHECK(!impasto_gan_has_reverse(m));
    impasto_translate_options_init(&o);
    o.direction = IMPASTO_B_TO_A;
    CHECK(impasto_translate(ctx, m, in, &o, &out) == IMPASTO_ERR_INVALID_ARG);
    impasto_translate_options_init(&o);
    impasto_image *r[3] = {NULL, NULL, NULL};
    CHECK(impasto_translate(ctx, m, in, &o, &r[0]) == IMPASTO_OK);  /* 36 x 44 resized to 32 x 32 and back */
    CHECK(r[0] && impasto_image_width(r[0]) == 36 && impasto_image_height(r[0]) == 44);
    CHECK(impasto_translate(ctx, m, in, &o, &r[1]) == IMPASTO_OK);
    o.eval_mode = 1;
    CHECK(impasto_translate(ctx, m, in, &o, &r[2]) == IMPASTO_OK);
    const size_t n = 36 * 44 * 4;
    if (r[0] && r[1] && r[2]) {
        CHECK(!memcmp(impasto_image_cdata(r[0]), impasto_image_cdata(r[1]), n * sizeof(float)));  /* same seed */
        CHECK(memcmp(impasto_image_cdata(r[0]), impasto_image_cdata(r[2]), n * sizeof(float)) != 0);
    }
    for (int i = 0; i < 3; i++) impasto_image_free(r[i]);
    impasto_image_free(in);
    impasto_gan_free(m);
}

/* pix2pix's pairs: A|B halves, grey, edges; and the history pool's rule. */
static void test_pairs_and_pool(void) {
    const char *ab = picture("ab.png", 64, 30, 3, 3);
    gan_domain a, b;
    CHECK(gan_domain_load(ctx, &ab, 1, 20, IMPASTO_PAIRS_AB, &a, &b) == IMPASTO_OK);
    CHECK(a.n == 1 && b.n == 1 && memcmp(a.pics[0].rgb, b.pics[0].rgb, 20 * 20 * 3) != 0);
    gan_domain_free(&a), gan_domain_free(&b);
    const char *odd = picture("odd.png", 63, 30, 3, 3);
    CHECK(gan_domain_load(ctx, &odd, 1, 20, IMPASTO_PAIRS_AB, &a, &b) == IMPASTO_ERR_INVALID_ARG);
    CHECK(strstr(impasto_ctx_error(ctx), "odd.png") && strstr(impasto_ctx_error(ctx), "even width"));
    gan_domain_free(&a), gan_domain_free(&b);
    CHECK(gan_domain_load(ctx, A, 1, 20, IMPASTO_PAIRS_COLORIZE, &a, &b) == IMPASTO_OK);
    int grey = 1;
    for (size_t i = 0; i < 400; i++) grey &= a.pics[0].rgb[3 * i] == a.pics[0].rgb[3 * i + 2];
    CHECK(grey);
    gan_domain_free(&a), gan_domain_free(&b);
    /* the A side a preview gives the generator */
    impasto_image *img = NULL, *side = NULL;
    CHECK(impasto_image_load(ctx, ab, &img) == IMPASTO_OK);
    CHECK(gan_a_side(ctx, img, IMPASTO_PAIRS_AB, &side) == IMPASTO_OK);
    CHECK(side && impasto_image_width(side) == 32 && impasto_image_height(side) == 30);
    impasto_image_free(side);
    CHECK(gan_a_side(ctx, img, IMPASTO_PAIRS_COLORIZE, &side) == IMPASTO_OK);
    CHECK(side && impasto_image_width(side) == 64 && impasto_image_cdata(side)[0] == impasto_image_cdata(side)[2]);
    impasto_image_free(side);
    impasto_image_free(img);
    /* edges: a dark line on white where a vertical step is */
    unsigned char step[16 * 16 * 3];
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 16; x++) memset(step + 3 * (y * 16 + x), x < 8 ? 20 : 230, 3);
    gan_edges(step, 16, 16);
    CHECK(step[3 * (8 * 16 + 2)] == 255 && step[3 * (8 * 16 + 8)] < 64);
    gan_pool p;
    CHECK(gan_pool_init(ctx, &p, 2, 1) == IMPASTO_OK);
    float v, out;
    uint64_t rng = 3;
    int returned_old = 0;
    for (int i = 0; i < 40; i++) {
        v = (float)i;
        gan_pool_query(&p, &v, &out, &rng);
        if (i < 2) CHECK(out == v);      /* filling: each fake comes back */
        else returned_old += out != v;   /* then half the time an older one */
    }
    CHECK(returned_old > 8 && returned_old < 30);
    gan_pool_free(&p);
}

/* A batch's step is the mean of its pictures' steps (each picture through its own passes, batch
 * norms normalising it by its own statistics): every network's gradient after a step on a batch of
 * 2 against the mean of two batch-1 steps' from the same networks, and the losses against their
 * means. CycleGAN (instance norm, the pool's first answers) and pix2pix (batch norm; its
 * generator's backward for the batch's first picture runs on a pass made again after the
 * discriminator's update). A tiny learning rate keeps pix2pix's updated discriminator the same in
 * all three; no dropout, so the streams do not matter. */
static void test_batch_is_the_mean(void) {
    enum { S = 32, IMG = 3 * S * S };
    static float x[2][2][IMG];
    uint64_t g = 99;
    for (int s = 0; s < 2; s++)
        for (int d = 0; d < 2; d++)
            for (int i = 0; i < IMG; i++) x[s][d][i] = 2.0f * (float)rng_uniform(&g) - 1.0f;
    for (int cyc = 1; cyc >= 0; cyc--) {
        impasto_gan_train_options o;
        tiny(&o, cyc);
        o.dropout = 0;
        o.learning_rate = 1e-12;
        gan_trainer *t[3] = {NULL, NULL, NULL};
        double L[3][8];
        for (int k = 0; k < 3; k++) {
            o.batch_size = k < 2 ? 1 : 2;
            CHECK(gan_trainer_create(ctx, &o, &t[k]) == IMPASTO_OK);
            if (!t[k]) return;
            for (int s = 0; s < 2; s++)
                for (int d = 0; d < 2; d++)
                    if (k == 2 || k == s) memcpy(gan_trainer_real(t[k], d) + (k == 2 ? s * IMG : 0), x[s][d], sizeof x[s][d]);
            uint64_t r = 5;
            CHECK(gan_trainer_step(t[k], &r, L[k]) == IMPASTO_OK);
        }
        double worst = 0;
        for (int which = 0; which < 4; which++) {
            net *n0 = gan_trainer_net(t[0], which), *n1 = gan_trainer_net(t[1], which), *n2 = gan_trainer_net(t[2], which);
            if (!n0) continue;
            double top = 0, err = 0;
            for (size_t i = 0; i < n0->nparams; i++) {
                const double mean = 0.5 * ((double)n0->grads[i] + (double)n1->grads[i]);
                top = fmax(top, fabs(mean));
                err = fmax(err, fabs((double)n2->grads[i] - mean));
            }
            CHECK(top > 0);
            worst = fmax(worst, err / top);
        }
        CHECK(worst < 1e-4);
        for (int i = 0; i < (cyc ? 8 : 4); i++) CHECK(fabs(L[2][i] - 0.5 * (L[0][i] + L[1][i])) <= 1e-5 * (1 + fabs(L[2][i])));
        for (int k = 0; k < 3; k++) gan_trainer_free(t[k]);
    }
}

static void test_refusals(void) {
    impasto_gan_train_options o;
    tiny(&o, 1);
    const char *out = tpath("never.safetensors");
    CHECK(impasto_gan_train(ctx, A, 4, B, 0, &o, out) == IMPASTO_ERR_INVALID_ARG);
    CHECK(strstr(impasto_ctx_error(ctx), "no pictures for domain B") != NULL);
    CHECK(impasto_gan_train(ctx, A, 1, B, 3, &o, out) == IMPASTO_ERR_INVALID_ARG);
    CHECK(strstr(impasto_ctx_error(ctx), "only one picture for domain A") != NULL);
    o.crop_size = 30;  /* not a multiple of 4 */
    CHECK(impasto_gan_train(ctx, A, 4, B, 3, &o, out) == IMPASTO_ERR_INVALID_ARG);
    CHECK(strstr(impasto_ctx_error(ctx), "multiple of 4") != NULL);
    tiny(&o, 0);
    o.crop_size = 48;  /* unet_32 needs multiples of 32 */
    CHECK(impasto_gan_train(ctx, A, 3, NULL, 0, &o, out) == IMPASTO_ERR_INVALID_ARG);
    tiny(&o, 1);
    o.generator = "vgg";
    CHECK(impasto_gan_train(ctx, A, 4, B, 3, &o, out) == IMPASTO_ERR_INVALID_ARG);
    tiny(&o, 1);
    const char *missing[2] = {A[0], tpath("missing.png")};
    CHECK(impasto_gan_train(ctx, missing, 2, B, 3, &o, out) == IMPASTO_ERR_IO);
    CHECK(strstr(impasto_ctx_error(ctx), "missing.png") != NULL);
    CHECK(access(out, F_OK) != 0);
    impasto_gan_model *m = NULL;
    CHECK(impasto_gan_load(ctx, "models/candy.safetensors", &m) == IMPASTO_ERR_FORMAT);
    CHECK(m == NULL && strstr(impasto_ctx_error(ctx), "is a transformernet model, not a CycleGAN or pix2pix one"));
}

int main(void) {
    ctx = impasto_ctx_create();
    impasto_ctx_set_threads(ctx, 2);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/impasto_gan_XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    make_domains();
    RUN(test_resume_cyclegan);
    RUN(test_resume_pix2pix);
    RUN(test_translate);
    RUN(test_pairs_and_pool);
    RUN(test_batch_is_the_mean);
    RUN(test_refusals);
    remove_tree(tmpdir);
    impasto_ctx_free(ctx);
    return test_summary();
}
