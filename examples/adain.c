/* AdaIN with two paintings blended 3:1, the photo's colours kept, progress on stderr.
 *
 *   build/examples/adain models/adain.safetensors examples/images/horses.jpg \
 *       examples/images/scream.jpg other.jpg out.png
 */
#include <impasto.h>
#include <stdio.h>

static int show(const impasto_pass_progress *p, void *user) {
    (void)user;
    fprintf(stderr, "\r%s %d/%d", p->stage, p->done, p->total);
    return 0;  /* non-zero would cancel */
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s ADAIN.safetensors PHOTO STYLE1 STYLE2 OUT.png\n", argv[0]);
        return 2;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_model *net = NULL;
    impasto_image *photo = NULL, *s1 = NULL, *s2 = NULL, *out = NULL;
    int rc = 1;
    if (!ctx) return 1;
    impasto_ctx_set_threads(ctx, 2);
    if (impasto_model_load(ctx, argv[1], &net) == IMPASTO_OK && impasto_image_load(ctx, argv[2], &photo) == IMPASTO_OK &&
        impasto_image_load(ctx, argv[3], &s1) == IMPASTO_OK && impasto_image_load(ctx, argv[4], &s2) == IMPASTO_OK) {
        impasto_adain_options opt;
        impasto_adain_options_init(&opt);      /* pytorch-AdaIN's defaults: alpha 1, 512 px */
        const double weights[] = {3, 1};
        const impasto_image *styles[] = {s1, s2};
        opt.style_weights = weights;
        opt.preserve_color = 1;
        opt.progress = show;
        if (impasto_adain(ctx, net, photo, styles, 2, &opt, &out) == IMPASTO_OK &&
            impasto_image_save(ctx, out, argv[5], 0) == IMPASTO_OK)
            rc = 0;
        fputc('\n', stderr);
    }
    if (rc) fprintf(stderr, "%s\n", impasto_ctx_error(ctx));
    impasto_image_free(out);
    impasto_image_free(s2);
    impasto_image_free(s1);
    impasto_image_free(photo);
    impasto_model_free(net);
    impasto_ctx_free(ctx);
    return rc;
}
