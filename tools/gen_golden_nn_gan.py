#!/usr/bin/python3
"""Writes tests/data/nn_gan_golden.safetensors: PyTorch's transposed convolution and batch
normalisation, forward and backward, for tests/test_nn_gan.c (src/nn/conv_transpose.c and
src/nn/batch_norm.c). Run from the repository root with the Python that has torch:

    /usr/bin/python3 tools/gen_golden_nn_gan.py [tests/data/nn_gan_golden.safetensors]

Inputs are drawn in float32 (the values the C side sees) and everything is computed in float64
from them, so the reference carries no float32 rounding of its own; the script prints how far
PyTorch's own float32 run lands from it, a yardstick for the C tolerances.

Stored tensors (F32); configurations are tensors too, so the C side needs no JSON:
  for each transposed convolution i (ConvTranspose2d(C, OC, K, S, P, output_padding)):
    convt<i>.cfg (9)  c, h, w, oc, k, stride, pad, out_pad, bias (0 or 1)
    convt<i>.x (C,H,W)  convt<i>.w (C,OC,K,K)  convt<i>.b (OC) (bias only)  convt<i>.y (OC,OH,OW)
    convt<i>.dy (OC,OH,OW) and its gradients convt<i>.dx (C,H,W)  convt<i>.dw  convt<i>.db (bias only)
  for each batch normalisation j (BatchNorm2d(C, eps, momentum, affine)):
    bn<j>.cfg (7)  n, c, h, w, affine (0 or 1), momentum, eps
    bn<j>.x (N,C,H,W)  bn<j>.gamma, bn<j>.beta (C) (affine only)  bn<j>.rm0, bn<j>.rv0 (C) running stats before
    training mode: bn<j>.y (N,C,H,W), bn<j>.rm1, bn<j>.rv1 (C) running stats after, and for bn<j>.dy
      (N,C,H,W): bn<j>.dx, bn<j>.dgamma, bn<j>.dbeta (affine only)
    evaluation mode with rm0, rv0: bn<j>.ey, and for the same dy bn<j>.edx, bn<j>.edgamma, bn<j>.edbeta
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_np import write_safetensors  # noqa: E402

torch.set_num_threads(1)

# c, h, w, oc, k, stride, pad, out_pad, bias
CONVTS = [
    (3, 5, 6, 4, 3, 2, 1, 1, 1),  # ResnetGenerator's upsampling: k3 s2 p1 output_padding 1 (x2 exactly)
    (4, 4, 5, 3, 4, 2, 1, 0, 0),  # UnetGenerator's up-convolution: k4 s2 p1, no bias (BatchNorm follows)
    (3, 6, 5, 2, 3, 1, 1, 0, 1),  # k3 s1 p1: same size
    (2, 3, 4, 3, 1, 1, 0, 0, 1),  # pointwise (conv2d's GEMM-only path)
    (2, 4, 3, 3, 5, 3, 2, 2, 1),  # stride 3, output_padding 2
    (5, 1, 1, 4, 4, 2, 1, 0, 0),  # the U-Net's innermost up-convolution: 1x1 -> 2x2
    (3, 3, 4, 2, 3, 2, 0, 1, 1),  # unpadded: every tap lands inside y
]

# n, c, h, w, affine, momentum, eps
BNS = [
    (1, 3, 5, 6, 1, 0.1, 1e-5),  # pix2pix's batch of 1
    (3, 4, 3, 5, 1, 0.1, 1e-5),  # a real batch
    (2, 2, 7, 4, 0, 0.3, 1e-3),  # no affine parameters, other momentum and eps
    (1, 2, 2, 2, 1, 0.1, 1e-5),  # the U-Net's smallest normalised map, 4 values a channel
]


def randn(g, *shape, scale=1.0, shift=0.0):
    """float32 normal values, returned as float64 (exactly the float32 ones)."""
    t = torch.randn(*shape, generator=g, dtype=torch.float64) * scale + shift
    return t.float().double()


def convt(tensors, i, cfg, g):
    c, h, w, oc, k, stride, pad, out_pad, bias = cfg
    x = randn(g, 1, c, h, w).requires_grad_()
    wt = randn(g, c, oc, k, k, scale=0.3).requires_grad_()
    b = randn(g, oc).requires_grad_() if bias else None
    y = F.conv_transpose2d(x, wt, b, stride=stride, padding=pad, output_padding=out_pad)
    dy = randn(g, *y.shape)
    y.backward(dy)
    with torch.no_grad():
        y32 = F.conv_transpose2d(x.float(), wt.float(), None if b is None else b.float(), stride=stride,
                                 padding=pad, output_padding=out_pad)
    print("convt%d: y %s, float32 PyTorch off by %.2g" % (i, tuple(y.shape[1:]), (y32.double() - y).abs().max()))
    p = "convt%d." % i
    tensors += [(p + "cfg", np.array(cfg, dtype=np.float32)), (p + "x", x.detach()[0].numpy()),
                (p + "w", wt.detach().numpy())]
    if bias:
        tensors.append((p + "b", b.detach().numpy()))
    tensors += [(p + "y", y.detach()[0].numpy()), (p + "dy", dy[0].numpy()), (p + "dx", x.grad[0].numpy()),
                (p + "dw", wt.grad.numpy())]
    if bias:
        tensors.append((p + "db", b.grad.numpy()))


def bn(tensors, j, cfg, g):
    n, c, h, w, affine, momentum, eps = cfg
    # Means well off 0 and spreads other than 1 per channel, so that wrong statistics show.
    x = randn(g, n, c, h, w, scale=1.5, shift=2.0) * torch.linspace(0.5, 2.0, c, dtype=torch.float64).view(1, c, 1, 1)
    x = x.float().double()
    gamma = randn(g, c, scale=0.3, shift=1.0) if affine else None
    beta = randn(g, c, scale=0.5) if affine else None
    rm0, rv0 = randn(g, c, scale=0.5), randn(g, c, scale=0.2, shift=1.0).abs()
    dy = randn(g, n, c, h, w)
    p = "bn%d." % j
    tensors += [(p + "cfg", np.array(cfg, dtype=np.float32)), (p + "x", x.numpy())]
    if affine:
        tensors += [(p + "gamma", gamma.numpy()), (p + "beta", beta.numpy())]
    tensors += [(p + "rm0", rm0.numpy()), (p + "rv0", rv0.numpy()), (p + "dy", dy.numpy())]
    # The C side gets eps and momentum as float32: use exactly those values.
    eps, momentum = float(np.float32(eps)), float(np.float32(momentum))
    for training, pre in ((True, ""), (False, "e")):
        xs = x.clone().requires_grad_()
        gs = gamma.clone().requires_grad_() if affine else None
        bs = beta.clone().requires_grad_() if affine else None
        rm, rv = rm0.clone(), rv0.clone()
        y = F.batch_norm(xs, rm, rv, gs, bs, training=training, momentum=momentum, eps=eps)
        y.backward(dy)
        tensors += [(p + pre + "y", y.detach().numpy()), (p + pre + "dx", xs.grad.numpy())]
        if affine:
            tensors += [(p + pre + "dgamma", gs.grad.numpy()), (p + pre + "dbeta", bs.grad.numpy())]
        if training:
            tensors += [(p + "rm1", rm.numpy()), (p + "rv1", rv.numpy())]
        with torch.no_grad():
            f32 = lambda t: None if t is None else t.float()
            y32 = F.batch_norm(x.float(), rm0.float(), rv0.float(), f32(gamma), f32(beta), training=training,
                               momentum=momentum, eps=eps)
        print("bn%d %s: %s, float32 PyTorch off by %.2g" % (j, "train" if training else "eval", tuple(x.shape),
                                                            (y32.double() - y).abs().max()))


def main():
    dst = sys.argv[1] if len(sys.argv) > 1 else os.path.join("tests", "data", "nn_gan_golden.safetensors")
    g = torch.Generator().manual_seed(20250212)
    tensors = []
    for i, cfg in enumerate(CONVTS):
        convt(tensors, i, cfg, g)
    for j, cfg in enumerate(BNS):
        bn(tensors, j, cfg, g)
    write_safetensors(dst, tensors, {
        "generator": "tools/gen_golden_nn_gan.py",
        "reference": "PyTorch %s conv_transpose2d and batch_norm in float64 from float32 inputs" % torch.__version__,
    })
    print("wrote", dst, os.path.getsize(dst), "bytes")


if __name__ == "__main__":
    main()
