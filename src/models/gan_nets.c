/* CycleGAN's and pix2pix's networks declared on net.h (gan_nets.h says what each is). Sequential
 * indices count every module, parameterless ones included, because the state_dict names carry
 * them. */
#include "models/gan_nets.h"

#include "core/ctx.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GAN_SLOPE 0.2f     /* LeakyReLU(0.2) throughout the reference */
#define GAN_DROPOUT 0.5f   /* nn.Dropout(0.5) */
#define GAN_MAX_BLOCKS 64

int gan_gen_parse(const char *name, gan_gen_spec *spec) {
    int v;
    char tail[8];
    if (sscanf(name, "resnet_%dblock%7s", &v, tail) == 2 && !strcmp(tail, "s") && v >= 1 && v <= GAN_MAX_BLOCKS) {
        spec->kind = GAN_G_RESNET;
        spec->depth = v;
        return 0;
    }
    if (sscanf(name, "unet_%d%1s", &v, tail) == 1 && v >= 32 && v <= 1024 && !(v & (v - 1))) {
        int d = 0;
        while ((1 << d) < v) d++;
        spec->kind = GAN_G_UNET;
        spec->depth = d;
        return 0;
    }
    return -1;
}

void gan_gen_name(const gan_gen_spec *spec, char *buf, size_t size) {
    if (spec->kind == GAN_G_RESNET) snprintf(buf, size, "resnet_%dblocks", spec->depth);
    else snprintf(buf, size, "unet_%d", 1 << spec->depth);
}

int gan_gen_multiple(const gan_gen_spec *spec) { return spec->kind == GAN_G_RESNET ? 4 : 1 << spec->depth; }

/* The norm after a convolution named by `fmt` (an index), or the input itself for "none". */
static int add_norm(net *n, int x, gan_norm norm, int c, const char *name) {
    if (norm == GAN_NORM_INSTANCE) return net_instance_norm(n, x, name, c, 0);
    if (norm == GAN_NORM_BATCH) return net_batch_norm(n, x, name, c);
    return x;
}

static void idx_name(char *buf, size_t size, const char *prefix, int i) { snprintf(buf, size, "%s%d", prefix, i); }

static void resnet_generator(net *n, const gan_gen_spec *s) {
    const int bias = s->norm == GAN_NORM_INSTANCE;
    char a[NET_MAX_NAME], b[NET_MAX_NAME];
    /* model.0 ReflectionPad2d(3), model.1 conv 7x7, model.2 norm, model.3 ReLU */
    int x = net_conv(n, NET_INPUT, "model.1", s->in_c, s->ngf, 7, 1, 3, PAD_REFLECT, bias);
    x = net_relu(n, add_norm(n, x, s->norm, s->ngf, "model.2"));
    int idx = 4, c = s->ngf;
    for (int i = 0; i < 2; i++, idx += 3, c *= 2) {  /* downsampling: model.4-6, model.7-9 */
        idx_name(a, sizeof a, "model.", idx);
        idx_name(b, sizeof b, "model.", idx + 1);
        x = net_conv(n, x, a, c, 2 * c, 3, 2, 1, PAD_ZERO, bias);
        x = net_relu(n, add_norm(n, x, s->norm, 2 * c, b));
    }
    for (int k = 0; k < s->depth; k++, idx++) {
        /* conv_block: 0 pad, 1 conv, 2 norm, 3 ReLU, [4 dropout], pad, conv, norm */
        const int j = s->dropout ? 1 : 0;
        snprintf(a, sizeof a, "model.%d.conv_block.1", idx);
        snprintf(b, sizeof b, "model.%d.conv_block.2", idx);
        int r = net_conv(n, x, a, c, c, 3, 1, 1, PAD_REFLECT, bias);
        r = net_relu(n, add_norm(n, r, s->norm, c, b));
        if (s->dropout) r = net_dropout(n, r, GAN_DROPOUT);
        snprintf(a, sizeof a, "model.%d.conv_block.%d", idx, 5 + j);
        snprintf(b, sizeof b, "model.%d.conv_block.%d", idx, 6 + j);
        r = net_conv(n, r, a, c, c, 3, 1, 1, PAD_REFLECT, bias);
        r = add_norm(n, r, s->norm, c, b);
        x = net_add(n, x, r);
    }
    for (int i = 0; i < 2; i++, idx += 3, c /= 2) {  /* upsampling */
        idx_name(a, sizeof a, "model.", idx);
        idx_name(b, sizeof b, "model.", idx + 1);
        x = net_convt(n, x, a, c, c / 2, 3, 2, 1, 1, bias);
        x = net_relu(n, add_norm(n, x, s->norm, c / 2, b));
    }
    idx_name(a, sizeof a, "model.", idx + 1);  /* idx: ReflectionPad2d(3) */
    x = net_conv(n, x, a, s->ngf, s->out_c, 7, 1, 3, PAD_REFLECT, 1);
    net_tanh(n, x);
}

/* One UnetSkipConnectionBlock on x (outer channels; in_c for the outermost) under `prefix`
 * ("model.model." outermost); level 0 is the outermost, depth - 1 the innermost. Returns its
 * output: the outermost's image, else the concat of its (LeakyReLU'd) input and its result. */
static int unet_block(net *n, const gan_gen_spec *s, int x, int level, const char *prefix) {
    const int bias = s->norm == GAN_NORM_INSTANCE;
    const int last = s->depth - 1;
    /* channels (outer, inner) by level: (out_c, ngf), (ngf, 2ngf), (2ngf, 4ngf), (4ngf, 8ngf), then
     * (8ngf, 8ngf) down to the innermost */
    int outer, inner;
    if (level == 0) outer = s->out_c, inner = s->ngf;
    else if (level <= 3) outer = s->ngf << (level - 1), inner = s->ngf << level;
    else outer = inner = s->ngf * 8;
    const int in_c = level == 0 ? s->in_c : outer;
    char a[NET_MAX_NAME], b[NET_MAX_NAME], sub[NET_MAX_NAME];
    if (level == 0) {
        /* 0 downconv, 1 submodule, 2 ReLU, 3 upconv, 4 tanh */
        snprintf(a, sizeof a, "%s0", prefix);
        int d = net_conv(n, x, a, in_c, inner, 4, 2, 1, PAD_ZERO, bias);
        snprintf(sub, sizeof sub, "%s1.model.", prefix);
        int u = net_relu(n, unet_block(n, s, d, 1, sub));
        snprintf(a, sizeof a, "%s3", prefix);
        u = net_convt(n, u, a, 2 * inner, outer, 4, 2, 1, 0, 1);
        return net_tanh(n, u);
    }
    int r = net_leaky_relu(n, x, GAN_SLOPE);
    snprintf(a, sizeof a, "%s1", prefix);
    int d = net_conv(n, r, a, in_c, inner, 4, 2, 1, PAD_ZERO, bias);
    int u;
    if (level == last) {
        /* 0 LeakyReLU, 1 downconv, 2 ReLU, 3 upconv, 4 upnorm */
        u = net_relu(n, d);
        snprintf(a, sizeof a, "%s3", prefix);
        snprintf(b, sizeof b, "%s4", prefix);
        u = add_norm(n, net_convt(n, u, a, inner, outer, 4, 2, 1, 0, bias), s->norm, outer, b);
    } else {
        /* 0 LeakyReLU, 1 downconv, 2 downnorm, 3 submodule, 4 ReLU, 5 upconv, 6 upnorm, [7 dropout] */
        snprintf(b, sizeof b, "%s2", prefix);
        d = add_norm(n, d, s->norm, inner, b);
        snprintf(sub, sizeof sub, "%s3.model.", prefix);
        u = net_relu(n, unet_block(n, s, d, level + 1, sub));
        snprintf(a, sizeof a, "%s5", prefix);
        snprintf(b, sizeof b, "%s6", prefix);
        u = add_norm(n, net_convt(n, u, a, 2 * inner, outer, 4, 2, 1, 0, bias), s->norm, outer, b);
        if (s->dropout && level >= 4) u = net_dropout(n, u, GAN_DROPOUT);
    }
    return net_concat(n, r, u);
}

impasto_status gan_generator_create(impasto_ctx *ctx, const gan_gen_spec *spec, net **out) {
    return gan_generator_create_bounded(ctx, spec, SIZE_MAX, out);
}

impasto_status gan_generator_create_bounded(impasto_ctx *ctx, const gan_gen_spec *spec, size_t max_floats,
                                            net **out) {
    *out = NULL;
    if (spec->in_c <= 0 || spec->out_c <= 0 || spec->ngf <= 0 || spec->ngf > 1024)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "generator: channels out of range");
    if (spec->kind == GAN_G_RESNET && (spec->depth < 1 || spec->depth > GAN_MAX_BLOCKS))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "resnet generator: 1 to %d blocks", GAN_MAX_BLOCKS);
    if (spec->kind == GAN_G_UNET && (spec->depth < 5 || spec->depth > 10))
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "unet generator: 5 to 10 downsamplings");
    char name[32];
    gan_gen_name(spec, name, sizeof name);
    net *n = net_create(name);
    if (!n) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    if (spec->kind == GAN_G_RESNET) resnet_generator(n, spec);
    else unet_block(n, spec, NET_INPUT, 0, "model.model.");
    const size_t need = net_count_floats(n);
    if (need > max_floats) {
        net_free(n);
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "a %s generator of width %d needs %zu weights, more than the file holds",
                        name, spec->ngf, need);
    }
    impasto_status s = net_finish(ctx, n);
    if (s) {
        net_free(n);
        return s;
    }
    *out = n;
    return IMPASTO_OK;
}

impasto_status gan_discriminator_create(impasto_ctx *ctx, const gan_disc_spec *spec, net **out) {
    *out = NULL;
    if (spec->in_c <= 0 || spec->ndf <= 0 || spec->ndf > 1024)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "discriminator: channels out of range");
    const int bias = spec->norm == GAN_NORM_INSTANCE;
    char a[NET_MAX_NAME], b[NET_MAX_NAME];
    net *n;
    if (spec->kind == GAN_D_PIXEL) {
        if (!(n = net_create("pixel"))) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
        int x = net_leaky_relu(n, net_conv(n, NET_INPUT, "net.0", spec->in_c, spec->ndf, 1, 1, 0, PAD_ZERO, 1), GAN_SLOPE);
        x = net_conv(n, x, "net.2", spec->ndf, 2 * spec->ndf, 1, 1, 0, PAD_ZERO, bias);
        x = net_leaky_relu(n, add_norm(n, x, spec->norm, 2 * spec->ndf, "net.3"), GAN_SLOPE);
        net_conv(n, x, "net.5", 2 * spec->ndf, 1, 1, 1, 0, PAD_ZERO, bias);
    } else {
        const int layers = spec->kind == GAN_D_BASIC ? 3 : spec->n_layers;
        if (layers < 1 || layers > 8) return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "discriminator: 1 to 8 layers");
        char kind[24];
        snprintf(kind, sizeof kind, layers == 3 ? "basic" : "n_layers_%d", layers);
        if (!(n = net_create(kind))) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
        int x = net_leaky_relu(n, net_conv(n, NET_INPUT, "model.0", spec->in_c, spec->ndf, 4, 2, 1, PAD_ZERO, 1),
                               GAN_SLOPE);
        int mult = 1, idx = 2;
        for (int k = 1; k <= layers; k++, idx += 3) {
            const int prev = mult;
            mult = 1 << (k < 3 ? k : 3);
            idx_name(a, sizeof a, "model.", idx);
            idx_name(b, sizeof b, "model.", idx + 1);
            /* the last of these keeps the size (stride 1) */
            x = net_conv(n, x, a, spec->ndf * prev, spec->ndf * mult, 4, k < layers ? 2 : 1, 1, PAD_ZERO, bias);
            x = net_leaky_relu(n, add_norm(n, x, spec->norm, spec->ndf * mult, b), GAN_SLOPE);
        }
        idx_name(a, sizeof a, "model.", idx);
        net_conv(n, x, a, spec->ndf * mult, 1, 4, 1, 1, PAD_ZERO, 1);
    }
    impasto_status s = net_finish(ctx, n);
    if (s) {
        net_free(n);
        return s;
    }
    *out = n;
    return IMPASTO_OK;
}
