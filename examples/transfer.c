/* The smallest complete use of libimpasto: repaint a photo in a painting's style.
 *
 *   build/examples/transfer models/vgg19.safetensors examples/images/horses.jpg \
 *       examples/images/scream.jpg out.png
 */
#include <impasto.h>
#include <stdio.h>

static int show_progress(const impasto_progress *p, void *user) {
    (void)user;
    if (p->iteration % 50 == 0)
        fprintf(stderr, "iteration %d/%d  loss %.4g\n", p->iteration, p->num_iterations, p->loss);
    return 0;  /* non-zero would cancel */
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s VGG19.safetensors CONTENT STYLE OUT.png\n", argv[0]);
        return 2;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_model *vgg = NULL;
    impasto_image *content = NULL, *style = NULL, *out = NULL;
    int rc = 1;
    if (!ctx) return 1;
    if (impasto_model_load(ctx, argv[1], &vgg) != IMPASTO_OK ||
        impasto_image_load(ctx, argv[2], &content) != IMPASTO_OK ||
        impasto_image_load(ctx, argv[3], &style) != IMPASTO_OK)
        goto fail;

    impasto_transfer_options opt;
    impasto_transfer_options_init(&opt);  /* neural-style's defaults */
    opt.image_size = 256;
    opt.num_iterations = 200;
    opt.init = IMPASTO_INIT_IMAGE;        /* start from the photo: converges sooner */
    opt.progress = show_progress;

    const impasto_image *styles[] = {style};
    if (impasto_transfer(ctx, vgg, content, styles, 1, &opt, &out) != IMPASTO_OK ||
        impasto_image_save(ctx, out, argv[4], 0) != IMPASTO_OK)
        goto fail;
    rc = 0;
fail:
    if (rc) fprintf(stderr, "error: %s\n", impasto_ctx_error(ctx));
    impasto_image_free(out);
    impasto_image_free(style);
    impasto_image_free(content);
    impasto_model_free(vgg);
    impasto_ctx_free(ctx);
    return rc;
}
