/* TransformerNet declared on net.h, for training: the layers of tnet_convs() in network order,
 * named as PyTorch's state_dict. The passes, their buffers and kernels are net_plan.c's; what used
 * to be this network's own hand-written training pass is now what the plan makes of this
 * declaration: the two upsamplings run inside deconv1 and deconv2 (reading the small map), each
 * ReLU inside its instance norm, the residual adds over the second norm's output. */
#include "models/transformer_net.h"

#include "core/ctx.h"
#include "models/net.h"

#include <stdio.h>
#include <string.h>

impasto_status tnet_declare(impasto_ctx *ctx, net **out) {
    *out = NULL;
    net *n = net_create("transformernet");
    int x = NET_INPUT, skip = NET_INPUT;
    for (int i = 0; i < TNET_NUM_CONV; i++) {
        const tnet_conv_spec *c = &tnet_convs()[i];
        char name[NET_MAX_NAME];
        snprintf(name, sizeof name, "%s.conv2d", c->conv);
        if (c->role == TNET_RES_FIRST) skip = x;
        if (c->upsample > 1) x = net_upsample(n, x, c->upsample);  /* UpsampleConvLayer's interpolate */
        x = net_conv(n, x, name, c->ic, c->oc, c->k, c->stride, c->k / 2, PAD_REFLECT, 1);
        if (c->norm) x = net_instance_norm(n, x, c->norm, c->oc, 1);
        if (c->relu) x = net_relu(n, x);
        if (c->role == TNET_RES_SECOND) x = net_add(n, skip, x);
    }
    impasto_status s = net_finish(ctx, n);
    if (s != IMPASTO_OK) {
        net_free(n);
        return s;
    }
    *out = n;
    return IMPASTO_OK;
}

void tnet_view(const net *n, float *slab, transformer_net *view) {
    memset(view, 0, sizeof *view);
    int conv = -1;
    for (int i = 0; i < n->n; i++) {
        const net_layer *l = &n->layers[i];
        if (l->op == NET_CONV) {
            conv++;
            view->w[conv] = slab + l->w_off;
            view->b[conv] = slab + l->b_off;
        } else if (l->op == NET_INSTANCE_NORM) {
            view->gamma[conv] = slab + l->w_off;
            view->beta[conv] = slab + l->b_off;
        }
    }
}
