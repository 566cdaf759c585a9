#!/usr/bin/python3
"""Compares a dump of tests/test_train.c's test_fast_matches_reference with PyTorch's float64
backward of the same TransformerNet (fast_neural_style, tools/gen_golden_fast.py builds it).

    IMPASTO_TRAIN_DUMP=/tmp/case.safetensors build/tests/test_train
    /usr/bin/python3 tools/check_train_grad.py /tmp/case.safetensors [--norms]

The dump holds the float32 parameters under PyTorch's state_dict names, x and r (the loss is
L = sum r * net(x)), and each C path's gradients ("grad_ref.<name>": every convolution by im2col +
GEMM, one thread; "grad_fast.<name>": Winograd / direct, two threads) with its dx and the
reference's output y_ref. Here the same network is run in float64 from those float32 values and
L's gradients are taken by autograd; printed per parameter array (a norm's weight and bias
together, as the test compares them) is the relative L2 distance of each C path from float64, and
of the two paths from each other. --norms also prints, for every instance norm, the spread of its
per-channel variances and of 1/sqrt(var + eps) in the float64 forward, and for those a ReLU follows
the ReLU's margin: the gamma * xhat + beta nearest 0 (its value and place) and how many values lie within
1e-5 of 0. A float32 path's activations are ~1e-6 from float64, so a value that close to the kink
can land on the other side of it in one path and not in another: its gradient passes or stops, and
every gradient below that layer moves together (test_fast_matches_reference's 2.1e-3 was one).
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_golden_fast import TransformerNet, read_safetensors  # noqa: E402

torch.set_num_threads(1)

# The norms whose output goes through a ReLU (all but the residual blocks' second ones).
RELU_NORMS = {"in1", "in2", "in3", "in4", "in5"} | {"res%d.in1" % b for b in range(1, 6)}

# Parameter arrays in the network's order, grouped as the test compares them.
CONVS = ["conv1", "conv2", "conv3"] + ["res%d.conv%d" % (b, k) for b in range(1, 6) for k in (1, 2)] + \
        ["deconv1", "deconv2", "deconv3"]
NORMS = ["in1", "in2", "in3"] + ["res%d.in%d" % (b, k) for b in range(1, 6) for k in (1, 2)] + ["in4", "in5", None]


def rel_l2(a, b):
    a = np.concatenate([np.ravel(v) for v in a]).astype(np.float64)
    b = np.concatenate([np.ravel(v) for v in b]).astype(np.float64)
    m = np.sqrt(np.sum(b * b))
    d = np.sqrt(np.sum((a - b) ** 2))
    return d / m if m > 0 else d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dump")
    ap.add_argument("--norms", action="store_true")
    args = ap.parse_args()
    t, meta = read_safetensors(args.dump)
    net = TransformerNet()
    state = {k: torch.from_numpy(v) for k, v in t.items()
             if not k.startswith("grad_") and k not in ("x", "r", "y_ref", "dx_ref", "dx_fast")}
    net.load_state_dict(state, strict=True)
    net = net.double()
    x = torch.from_numpy(t["x"]).double().requires_grad_(True)
    r = torch.from_numpy(t["r"]).double()

    stats = []
    if args.norms:
        def hook(name):
            def f(mod, inp, out):
                v = inp[0].detach()[0].var(dim=(1, 2), unbiased=False)
                o = out.detach()[0]
                where = np.unravel_index(int(o.abs().argmin()), tuple(o.shape))
                stats.append((name, inp[0].shape[2] * inp[0].shape[3], v, 1.0 / torch.sqrt(v + mod.eps),
                              (float(o[where]), where, int((o.abs() < 1e-5).sum())) if name in RELU_NORMS else None))
            return f
        for name in NORMS:
            if name:
                net.get_submodule(name).register_forward_hook(hook(name))

    y = net(x)
    (y * r).sum().backward()
    g = {k: p.grad.numpy() for k, p in net.named_parameters()}
    dx = x.grad.numpy()

    print("dump %s: GEMM path %s" % (args.dump, meta.get("gemm", "?")))
    print("output y_ref vs float64: %.2e" % rel_l2([t["y_ref"]], [y.detach().numpy()]))
    print("%-28s %10s %10s %10s" % ("array (relative L2)", "ref-f64", "fast-f64", "fast-ref"))
    worst = np.zeros(3)
    for conv, norm in reversed(list(zip(CONVS, NORMS))):
        groups = [("%s.conv2d.weight" % conv, ["%s.conv2d.weight" % conv])]
        if norm:
            groups.append(("%s.weight+bias" % norm, ["%s.weight" % norm, "%s.bias" % norm]))
        else:
            groups.append(("%s.conv2d.bias" % conv, ["%s.conv2d.bias" % conv]))
        for label, names in groups:
            f64 = [g[n] for n in names]
            ref = [t["grad_ref." + n] for n in names]
            fast = [t["grad_fast." + n] for n in names]
            e = np.array([rel_l2(ref, f64), rel_l2(fast, f64), rel_l2(fast, ref)])
            worst = np.maximum(worst, e)
            print("%-28s %10.2e %10.2e %10.2e" % ((label,) + tuple(e)))
    e = np.array([rel_l2([t["dx_ref"]], [dx]), rel_l2([t["dx_fast"]], [dx]), rel_l2([t["dx_fast"]], [t["dx_ref"]])])
    worst = np.maximum(worst, e)
    print("%-28s %10.2e %10.2e %10.2e" % (("input (dx)",) + tuple(e)))
    print("%-28s %10.2e %10.2e %10.2e" % (("worst",) + tuple(worst)))
    if args.norms:
        print("\n%-12s %6s %10s %10s %10s %10s  %s" % ("norm", "HW", "min var", "median var", "max var",
                                                       "max invstd", "ReLU margin (c, y, x), count < 1e-5"))
        worst = None
        for name, hw, v, inv, kink in stats:
            margin = "%.3g at %s, %d" % (kink[0], kink[1], kink[2]) if kink else "-"
            print("%-12s %6d %10.3g %10.3g %10.3g %10.3g  %s" % (name, hw, v.min(), v.median(), v.max(), inv.max(),
                                                                 margin))
            if kink and (worst is None or abs(kink[0]) < worst[1]):
                worst = (name, abs(kink[0]))
        print("smallest ReLU margin: %.3g (%s)" % (worst[1], worst[0]))


if __name__ == "__main__":
    main()
