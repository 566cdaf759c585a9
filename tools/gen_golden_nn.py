#!/usr/bin/python3
"""Writes tests/data/nn_golden.bin: PyTorch's results for the CPU engine's layers (src/nn/),
read by tests/test_nn.c. Run from the repository root with the Python that has torch:

    /usr/bin/python3 tools/gen_golden_nn.py

File layout (little-endian), a sequence of records until end of file:
    uint32 name_len, name bytes (ASCII, no NUL), uint32 ndim, ndim x uint32 dims,
    prod(dims) float32 values (row-major).
Records, for each convolution i = 0, 1, ...:
    conv<i>.cfg  (9)  c, h, w, oc, kh, kw, stride, pad, reflect (0 zero padding, 1 reflection)
    conv<i>.x (C,H,W)  conv<i>.w (OC,C,KH,KW)  conv<i>.b (OC)  conv<i>.y (OC,OH,OW)
    conv<i>.dy (OC,OH,OW) and the gradients for it: conv<i>.dx (C,H,W) conv<i>.dw conv<i>.db
and for each pooling j:
    pool<j>.cfg  (8)  c, h, w, k, stride, pad, ceil_mode, kind (0 max, 1 average)
    pool<j>.x (C,H,W)  pool<j>.y (C,OH,OW)  pool<j>.dy (C,OH,OW)  pool<j>.dx (C,H,W)
Max-pooling inputs are distinct values so that the chosen maximum is unambiguous.
"""
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join("tests", "data", "nn_golden.bin")

# c, h, w, oc, kh, kw, stride, pad, reflect
CONVS = [
    (3, 11, 13, 5, 3, 3, 1, 1, 0),   # VGG's 3x3 pad 1
    (4, 10, 9, 6, 3, 3, 2, 1, 0),    # 3x3 stride 2
    (3, 12, 14, 4, 9, 9, 1, 4, 1),   # 9x9 reflection (fast style's first layer)
    (6, 5, 7, 3, 1, 1, 1, 0, 0),     # 1x1
    (3, 13, 11, 4, 5, 5, 2, 2, 1),   # 5x5 stride 2 reflection
    (2, 9, 8, 3, 3, 5, 1, 2, 0),     # non-square kernel
    (5, 7, 6, 2, 3, 3, 1, 0, 0),     # unpadded
    (3, 8, 7, 4, 3, 3, 3, 1, 1),     # stride 3 reflection
]

# c, h, w, k, stride, pad, ceil_mode, kind
POOLS = [
    (3, 7, 9, 2, 2, 0, 1, 0),    # VGG's max pool on odd sizes
    (3, 7, 9, 2, 2, 0, 1, 1),    # the same, average
    (2, 10, 11, 3, 2, 1, 0, 0),  # k3 s2 pad 1
    (2, 10, 11, 3, 2, 1, 1, 1),  # k3 s2 pad 1 ceil, average
    (2, 11, 10, 3, 2, 1, 1, 0),  # k3 s2 pad 1 ceil, max
    (2, 5, 7, 2, 2, 1, 1, 0),    # ceil mode where the last window would start in the right pad
    (2, 5, 7, 2, 2, 1, 1, 1),    # the same, average (divisor counts the left pad)
]


def record(f, name, a):
    a = np.ascontiguousarray(np.asarray(a, dtype="<f4"))
    nb = name.encode("ascii")
    f.write(struct.pack("<I", len(nb)) + nb)
    f.write(struct.pack("<I", a.ndim) + struct.pack("<%dI" % a.ndim, *a.shape))
    f.write(a.tobytes())


def conv(f, i, cfg, g):
    c, h, w, oc, kh, kw, stride, pad, reflect = cfg
    x = torch.randn(1, c, h, w, generator=g, dtype=torch.float64).float().requires_grad_()
    wt = (torch.randn(oc, c, kh, kw, generator=g, dtype=torch.float64).float() * 0.3).requires_grad_()
    b = torch.randn(oc, generator=g, dtype=torch.float64).float().requires_grad_()
    if reflect:
        y = F.conv2d(F.pad(x, (pad, pad, pad, pad), mode="reflect"), wt, b, stride=stride)
    else:
        y = F.conv2d(x, wt, b, stride=stride, padding=pad)
    dy = torch.randn(y.shape, generator=g, dtype=torch.float64).float()
    y.backward(dy)
    record(f, "conv%d.cfg" % i, cfg)
    # x, y, dy lose the batch dimension: the engine works on one image.
    for name, t in (("x", x.detach()[0]), ("w", wt.detach()), ("b", b.detach()),
                    ("y", y.detach()[0]), ("dy", dy[0])):
        record(f, "conv%d.%s" % (i, name), t)
    record(f, "conv%d.dx" % i, x.grad[0])
    record(f, "conv%d.dw" % i, wt.grad)
    record(f, "conv%d.db" % i, b.grad)


def pool(f, j, cfg, g):
    c, h, w, k, stride, pad, ceil_mode, kind = cfg
    n = c * h * w
    x = (torch.randperm(n, generator=g).double() / n * 4 - 2).float().reshape(1, c, h, w)
    x.requires_grad_()
    if kind == 0:
        y = F.max_pool2d(x, k, stride, pad, ceil_mode=bool(ceil_mode))
    else:
        y = F.avg_pool2d(x, k, stride, pad, ceil_mode=bool(ceil_mode), count_include_pad=True)
    dy = torch.randn(y.shape, generator=g, dtype=torch.float64).float()
    y.backward(dy)
    record(f, "pool%d.cfg" % j, cfg)
    record(f, "pool%d.x" % j, x.detach()[0])
    record(f, "pool%d.y" % j, y.detach()[0])
    record(f, "pool%d.dy" % j, dy[0])
    record(f, "pool%d.dx" % j, x.grad[0])


def main():
    g = torch.Generator().manual_seed(20240611)
    with open(OUT, "wb") as f:
        for i, cfg in enumerate(CONVS):
            conv(f, i, cfg, g)
        for j, cfg in enumerate(POOLS):
            pool(f, j, cfg, g)
    print("wrote", OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
