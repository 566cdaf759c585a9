/* Translation by a CycleGAN or pix2pix generator (impasto.h's impasto_translate). */
#include "methods/gan_model.h"

#include "core/ctx.h"
#include "core/image.h"
#include "core/rng.h"

#include <stdlib.h>
#include <string.h>

void impasto_translate_options_init(impasto_translate_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->direction = IMPASTO_A_TO_B;
}

/* The size a picture of side n is brought to: a ResNet generator takes any multiple of 4 (pad by
 * reflection to it), a U-Net only multiples of 2^depth (resize to the nearest). */
static int fit_side(int n, int multiple) {
    int r = (n + multiple / 2) / multiple * multiple;
    return r < multiple ? multiple : r;
}

impasto_status impasto_translate(impasto_ctx *ctx, impasto_gan_model *m, const impasto_image *in,
                                 const impasto_translate_options *opt, impasto_image **out) {
    if (!out) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "impasto_translate: out is NULL");
    *out = NULL;
    impasto_translate_options defaults;
    if (!opt) impasto_translate_options_init(&defaults), opt = &defaults;
    if (!m || !in) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "impasto_translate: model or picture is NULL");
    if (opt->direction != IMPASTO_A_TO_B && opt->direction != IMPASTO_B_TO_A)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "impasto_translate: unknown direction");
    if (opt->direction == IMPASTO_B_TO_A && !m->g[1])
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "this %s model translates only A to B (B to A needs a CycleGAN "
                        "trained by impasto)", m->kind);
    if (opt->size < 0 || opt->size > IMPASTO_MAX_SIDE)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "size %d outside 0..%d", opt->size, IMPASTO_MAX_SIDE);
    net *g = m->g[opt->direction == IMPASTO_B_TO_A];
    impasto_image *src = NULL, *res = NULL, *fin = NULL;
    net_plan *p = NULL;
    impasto_status s = IMPASTO_OK;
    const int mult = gan_gen_multiple(&m->spec);
    const int unet = m->spec.kind == GAN_G_UNET;
    if (opt->size) s = impasto_image_resize_max_side(ctx, in, opt->size, &src);
    if (s) goto done;
    const impasto_image *pic = src ? src : in;
    const int W = pic->width, H = pic->height, ch = pic->channels;
    /* network input size: U-Net resized to multiples, ResNet padded */
    const int NW = unet ? fit_side(W, mult) : (W + mult - 1) / mult * mult;
    const int NH = unet ? fit_side(H, mult) : (H + mult - 1) / mult * mult;
    if (!unet && (NW - W > W - 1 || NH - H > H - 1))
        s = ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "the picture is too small (%dx%d) for %s", W, H, m->gen_name);
    if (!s && unet && (NW != W || NH != H)) s = impasto_image_resize(ctx, pic, NW, NH, &res);
    if (s) goto done;
    const impasto_image *net_in = res ? res : pic;
    const int flags = opt->eval_mode ? 0 : (NET_BATCH_STATS | NET_DROPOUT_ON);
    if ((s = net_plan_create(ctx, g, m->spec.in_c, NH, NW, flags, ctx_threads(ctx), &p))) goto done;
    /* (C, NH, NW) in [-1, 1]; padding by reflection: row/column index mirrored without the edge */
    float *x = net_plan_input(p);
    const size_t plane = (size_t)NW * (size_t)NH;
    const int ich = net_in->channels, iw = net_in->width, ih = net_in->height;
    for (int y = 0; y < NH; y++) {
        const int sy = y < ih ? y : 2 * (ih - 1) - y;
        for (int xx = 0; xx < NW; xx++) {
            const int sx = xx < iw ? xx : 2 * (iw - 1) - xx;
            const float *px = net_in->data + ((size_t)sy * (size_t)iw + (size_t)sx) * (size_t)ich;
            for (int c = 0; c < m->spec.in_c; c++) {
                float v = ich >= 3 ? px[c < 3 ? c : 0] : px[0];
                x[(size_t)c * plane + (size_t)y * (size_t)NW + (size_t)xx] = 2.0f * v - 1.0f;
            }
        }
    }
    uint64_t rng = rng_stream(opt->seed, 0x7472616e736c61ULL, 0);
    const float *y;
    if ((s = net_forward(ctx, g, p, &rng, &y))) goto done;
    int oc, oh, ow;
    net_plan_out_shape(p, &oc, &oh, &ow);
    if (!floats_all_finite(y, (size_t)oc * (size_t)oh * (size_t)ow)) {
        s = ctx_fail(ctx, IMPASTO_ERR_NOT_FINITE, "the generator's output is not finite (NaN or infinity in the model?)");
        goto done;
    }
    /* back to an image: crop the padding (ResNet) or resize back (U-Net); alpha carried over */
    const int keep_alpha = ch == 2 || ch == 4;
    const int outc = keep_alpha ? 4 : 3;
    if ((s = impasto_image_create(ctx, unet ? ow : W, unet ? oh : H, unet ? 3 : outc, &fin))) goto done;
    const int fw = fin->width, fh = fin->height, fc = fin->channels;
    const size_t oplane = (size_t)ow * (size_t)oh;
    for (int yy = 0; yy < fh; yy++)
        for (int xx = 0; xx < fw; xx++)
            for (int c = 0; c < 3; c++) {
                float v = y[(size_t)(oc >= 3 ? c : 0) * oplane + (size_t)yy * (size_t)ow + (size_t)xx];
                v = 0.5f * (v + 1.0f);
                fin->data[((size_t)yy * (size_t)fw + (size_t)xx) * (size_t)fc + (size_t)c] = v < 0 ? 0 : v > 1 ? 1 : v;
            }
    if (unet && (fw != W || fh != H)) {
        impasto_image *back = NULL;
        if ((s = impasto_image_resize(ctx, fin, W, H, &back))) goto done;
        impasto_image_free(fin);
        fin = back;
    }
    if (keep_alpha) {
        if (fin->channels != 4) {
            impasto_image *rgba = NULL;
            if ((s = impasto_image_create(ctx, W, H, 4, &rgba))) goto done;
            for (size_t i = 0; i < (size_t)W * (size_t)H; i++)
                memcpy(rgba->data + 4 * i, fin->data + 3 * i, 3 * sizeof(float));
            impasto_image_free(fin);
            fin = rgba;
        }
        for (size_t i = 0; i < (size_t)W * (size_t)H; i++) fin->data[4 * i + 3] = pic->data[i * (size_t)ch + (size_t)ch - 1];
    }
    *out = fin;
    fin = NULL;
done:
    net_plan_free(p);
    impasto_image_free(src);
    impasto_image_free(res);
    impasto_image_free(fin);
    return s;
}
