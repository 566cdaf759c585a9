#!/usr/bin/python3
"""Writes tests/data/dream_golden.safetensors: DeepDream's parts computed by PyTorch (float64) from
impasto's converted VGG-19 weights, for tests/test_dream.c.

    /usr/bin/python3 tools/gen_golden_dream.py [models/vgg19.safetensors] [tests/data/dream_golden.safetensors]

What DeepDream is here (src/methods/dream.c; the deepdream notebook of Mordvintsev, Olah & Tyka):
  * the objective of a layer list: L2, 0.5 * sum(a^2) over each entry's activations (one channel
    when the entry names one); with a guide, sum over positions i of max_j <a_i, y_j> with y the
    guide's features at that layer;
  * the octave pyramid: each octave the previous one resized by 1/scale (sizes rounded) with
    bilinear interpolation at pixel centres (F.interpolate, align_corners=False);
  * a step: roll by (dy, dx), gradient g, x += lr * g / (mean|g| + 1e-8), roll back, clip to
    0..255 minus the mean;
  * a whole dream: octaves from the smallest, the detail (picture minus photo) enlarged from one
    octave to the next, with fixed rolls.
Only the layers up to relu3_1 are used, on a 40x56 picture, so the file stays small (~60 KB) and
the test runs in a second. No weights are stored.

Stored tensors (F32): x (3, 40, 56) the preprocessed picture; guide (3, 24, 32) the guide in 0..1;
grad_l2, grad_guide (3, 40, 56) and obj_l2, obj_guide (1); octave0..2; step (3, 40, 56) and
obj_step (1); dream (3, 40, 56). The layer lists, rolls and sizes are in the metadata.
"""
import json
import math
import sys

import numpy as np
import torch
import torch.nn.functional as F

from safetensors_np import read_safetensors, write_safetensors

CONVS = ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1"]
POOL_AFTER = {"conv1_2", "conv2_2"}
MEAN_RGB = np.array([123.68, 116.779, 103.939])
H, W = 40, 56
GH, GW = 24, 32
SPEC_L2 = "relu2_1,relu3_1:7"
SPEC_GUIDE = "relu3_1,relu2_1:5"
OCTAVES, SCALE = 3, 1.4
STEP_SHIFT = (3, -5)
LR = 1.5
DREAM_OCTAVES, DREAM_ITERS = 2, 2
DREAM_SHIFTS = [(1, 2), (-3, 4), (5, -6), (0, 7)]


def picture(h, w, seed, phase):
    """A smooth colour field with a disc and a little deterministic texture, RGB in 0..1."""
    y, x = np.meshgrid(np.arange(h) / h, np.arange(w) / w, indexing="ij")
    r = 0.5 + 0.4 * np.sin(6.0 * x + 2.0 * y + phase)
    g = 0.5 + 0.4 * np.cos(5.0 * y - 3.0 * x * y + phase)
    b = np.where((x - 0.6) ** 2 + (y - 0.4) ** 2 < 0.08, 0.9, 0.15)
    rng = np.random.RandomState(seed)
    return np.clip(np.stack([r, g, b]) + 0.08 * rng.uniform(-1, 1, size=(3, h, w)), 0.0, 1.0)


def features(weights, x, wanted):
    """x (1, 3, h, w) float64 -> {relu name: (C, h, w)} up to relu3_1."""
    out = {}
    for name in CONVS:
        x = F.relu(F.conv2d(x, weights[name + ".weight"], weights[name + ".bias"], padding=1))
        relu = "relu" + name[4:]
        if relu in wanted:
            out[relu] = x[0]
        if name in POOL_AFTER:
            x = F.max_pool2d(x, 2, 2, ceil_mode=True)
    return out


def parse(spec):
    entries = []
    for item in spec.split(","):
        name, _, ch = item.partition(":")
        entries.append((name, int(ch) if ch else None))
    return entries


def objective(weights, x, spec, guide_feats=None):
    entries = parse(spec)
    f = features(weights, x, {n for n, _ in entries})
    total = 0
    for name, ch in entries:
        a = f[name] if ch is None else f[name][ch:ch + 1]
        if guide_feats is None:
            total = total + 0.5 * (a ** 2).sum()
        else:
            y = guide_feats[name] if ch is None else guide_feats[name][ch:ch + 1]
            dots = a.reshape(a.shape[0], -1).t() @ y.reshape(y.shape[0], -1)  # (positions, guide positions)
            total = total + dots.max(dim=1).values.sum()
    return total


def gradient(weights, x, spec, guide_feats=None):
    x = x.clone().requires_grad_(True)
    obj = objective(weights, x[None], spec, guide_feats)
    obj.backward()
    return x.grad.detach(), obj.item()


def resize(x, h, w):
    return F.interpolate(x[None], size=(h, w), mode="bilinear", align_corners=False)[0]


def octave_sizes(h, w, n, scale):
    sizes = [(h, w)]
    for _ in range(n - 1):
        ph, pw = sizes[-1]
        sizes.append((max(1, int(math.floor(ph / scale + 0.5))), max(1, int(math.floor(pw / scale + 0.5)))))
    return sizes


LO = torch.tensor(-MEAN_RGB).view(3, 1, 1)
HI = torch.tensor(255.0 - MEAN_RGB).view(3, 1, 1)


def step(weights, x, spec, dy, dx, lr):
    rolled = torch.roll(x, shifts=(dy, dx), dims=(1, 2))
    g, obj = gradient(weights, rolled, spec)
    rolled = rolled + lr * g / (g.abs().mean() + 1e-8)
    back = torch.roll(rolled, shifts=(-dy, -dx), dims=(1, 2))
    return torch.maximum(torch.minimum(back, HI), LO), obj


def dream(weights, x, spec, octaves, scale, iters, shifts, lr):
    sizes = octave_sizes(x.shape[1], x.shape[2], octaves, scale)
    bases = [x]
    for h, w in sizes[1:]:
        bases.append(resize(bases[-1], h, w))
    detail = torch.zeros_like(bases[-1])
    s = 0
    cur = None
    for k in range(octaves - 1, -1, -1):
        if k < octaves - 1:
            detail = resize(detail, *sizes[k])
        cur = bases[k] + detail
        for _ in range(iters):
            cur, _ = step(weights, cur, spec, shifts[s][0], shifts[s][1], lr)
            s += 1
        detail = cur - bases[k]
    return cur


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "models/vgg19.safetensors"
    dst = sys.argv[2] if len(sys.argv) > 2 else "tests/data/dream_golden.safetensors"
    names = [n + s for n in CONVS for s in (".weight", ".bias")]
    raw, meta = read_safetensors(src, names)
    weights = {k: torch.from_numpy(v).double() for k, v in raw.items()}

    img = picture(H, W, 1234, 0.0)
    x = torch.from_numpy(img * 255.0 - MEAN_RGB[:, None, None])
    guide_img = picture(GH, GW, 99, 1.7)[:, ::-1].copy()
    gx = torch.from_numpy(guide_img * 255.0 - MEAN_RGB[:, None, None])
    guide_feats = features(weights, gx[None], {n for n, _ in parse(SPEC_GUIDE)})

    grad_l2, obj_l2 = gradient(weights, x, SPEC_L2)
    grad_guide, obj_guide = gradient(weights, x, SPEC_GUIDE, guide_feats)
    sizes = octave_sizes(H, W, OCTAVES, SCALE)
    octs = [x]
    for h, w in sizes[1:]:
        octs.append(resize(octs[-1], h, w))
    stepped, obj_step = step(weights, x, SPEC_L2, STEP_SHIFT[0], STEP_SHIFT[1], LR)
    dreamt = dream(weights, x, SPEC_L2, DREAM_OCTAVES, SCALE, DREAM_ITERS, DREAM_SHIFTS, LR)

    print("obj_l2 %.9g  obj_guide %.9g  obj_step %.9g" % (obj_l2, obj_guide, obj_step))
    print("max|grad_l2| %.4g  max|grad_guide| %.4g  max|step - x| %.4g  max|dream - x| %.4g" % (
        grad_l2.abs().max(), grad_guide.abs().max(), (stepped - x).abs().max(), (dreamt - x).abs().max()))
    print("octave sizes", sizes)

    def a(t):
        return t.detach().numpy().astype(np.float64)

    tensors = [("x", a(x)), ("guide", guide_img), ("grad_l2", a(grad_l2)), ("obj_l2", np.array([obj_l2])),
               ("grad_guide", a(grad_guide)), ("obj_guide", np.array([obj_guide]))]
    tensors += [("octave%d" % i, a(o)) for i, o in enumerate(octs)]
    tensors += [("step", a(stepped)), ("obj_step", np.array([obj_step])), ("dream", a(dreamt))]
    write_safetensors(dst, tensors, {
        "generator": "tools/gen_golden_dream.py",
        "weights": meta.get("source", ""),
        "spec_l2": SPEC_L2,
        "spec_guide": SPEC_GUIDE,
        "octaves": "%d %g" % (OCTAVES, SCALE),
        "step_shift": "%d %d" % STEP_SHIFT,
        "learning_rate": "%g" % LR,
        "dream": json.dumps({"octaves": DREAM_OCTAVES, "iterations": DREAM_ITERS, "shifts": DREAM_SHIFTS}),
        "reference": "float64 PyTorch from the float32 weights",
    })


if __name__ == "__main__":
    main()
