#!/usr/bin/python3
"""A reference run of neural-style's method in PyTorch, on impasto's converted VGG-19.

jcjohnson/neural-style is Lua/Torch7; this is the same algorithm (as ProGamerGov's neural-style-pt ports
it) with the losses normalised as neural-style does, used to compare impasto's loss curve and picture
with the reference implementation's on the same inputs:

    build/impasto transfer -c C -s S --image-size 512 --num-iterations 0 --init image -o /tmp/c.png
    build/impasto transfer -c S -s S --image-size 512 --num-iterations 0 --init image -o /tmp/s.png
    /usr/bin/python3 tools/neural_style_ref.py --content /tmp/c.png --style /tmp/s.png \
        --model models/vgg19.safetensors --iterations 500 --log ref-loss.tsv --output ref.png

(The two zero-iteration runs give the content and style exactly as impasto resizes them, so both sides
start from the same pixels.) Needs python3-torch, python3-numpy and python3-pil (Debian).
"""
import argparse
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from safetensors_np import read_safetensors  # noqa: E402

MEAN = torch.tensor([123.68, 116.779, 103.939]).view(1, 3, 1, 1)
CFG = [(1, 2), (2, 2), (3, 4), (4, 4), (5, 4)]
CHANNELS = [64, 128, 256, 512, 512]


def load_safetensors(path):
    weights, _ = read_safetensors(path)
    return {name: torch.from_numpy(a) for name, a in weights.items()}


def build_layers(weights, pooling):
    """VGG-19 as (name, module) in order; 3x3 pad 1 convs, ReLU, 2x2 pools in ceil mode (loadcaffe)."""
    layers, cin = [], 3
    for (block, n), c in zip(CFG, CHANNELS):
        for i in range(1, n + 1):
            conv = nn.Conv2d(cin, c, 3, padding=1)
            conv.weight.data = weights[f"conv{block}_{i}.weight"]
            conv.bias.data = weights[f"conv{block}_{i}.bias"]
            layers += [(f"conv{block}_{i}", conv), (f"relu{block}_{i}", nn.ReLU())]
            cin = c
        pool = nn.MaxPool2d(2, 2, ceil_mode=True) if pooling == "max" else nn.AvgPool2d(2, 2, ceil_mode=True)
        layers.append((f"pool{block}", pool))
    for _, m in layers:
        for p in m.parameters():
            p.requires_grad_(False)
    return layers


def features(layers, x, wanted):
    out, last = {}, max(i for i, (n, _) in enumerate(layers) if n in wanted)
    for i, (name, m) in enumerate(layers[: last + 1]):
        x = m(x)
        if name in wanted:
            out[name] = x
    return out


def gram(f):
    _, c, h, w = f.shape
    f = f.view(c, h * w)
    return (f @ f.t()) / (c * h * w)


def load_image(path):
    a = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(a).permute(2, 0, 1).unsqueeze(0) * 255.0 - MEAN


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--content", required=True)
    ap.add_argument("--style", required=True)
    ap.add_argument("--model", default="models/vgg19.safetensors")
    ap.add_argument("--iterations", type=int, default=500)
    ap.add_argument("--content-weight", type=float, default=5.0)
    ap.add_argument("--style-weight", type=float, default=100.0)
    ap.add_argument("--tv-weight", type=float, default=1e-3)
    ap.add_argument("--init", default="random")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pooling", default="max")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--log", default=None, help="TSV of evaluation, loss, content, style, tv, seconds")
    ap.add_argument("--output", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    layers = build_layers(load_safetensors(args.model), args.pooling)
    content_layers = ["relu4_2"]
    style_layers = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
    content = load_image(args.content)
    style = load_image(args.style)
    with torch.no_grad():
        ctarget = {k: v.clone() for k, v in features(layers, content, set(content_layers)).items()}
        starget = {k: gram(v) for k, v in features(layers, style, set(style_layers)).items()}

    if args.init == "random":
        img = torch.randn(content.shape) * 0.001
    else:
        img = content.clone()
    img.requires_grad_(True)
    opt = torch.optim.LBFGS([img], lr=1, max_iter=args.iterations, history_size=100,
                            tolerance_grad=-1, tolerance_change=-1)
    log = open(args.log, "w") if args.log else None
    if log:
        log.write("evaluation\tloss\tcontent\tstyle\ttv\tseconds\n")
    t0, count = time.time(), [0]

    def closure():
        opt.zero_grad()
        f = features(layers, img, set(content_layers + style_layers))
        cl = sum(args.content_weight * F.mse_loss(f[k], ctarget[k]) for k in content_layers)
        sl = sum(args.style_weight * F.mse_loss(gram(f[k]), starget[k]) for k in style_layers)
        # neural-style's TVLoss gradient is that of weight/2 * sum of squared neighbour differences
        # over the (H-1, W-1) corner.
        x = img[0]
        dx = x[:, :-1, :-1] - x[:, :-1, 1:]
        dy = x[:, :-1, :-1] - x[:, 1:, :-1]
        tv = args.tv_weight * 0.5 * (dx.pow(2).sum() + dy.pow(2).sum())
        loss = cl + sl + tv
        loss.backward()
        count[0] += 1
        if log:
            log.write(f"{count[0]}\t{loss.item():.8g}\t{cl.item():.8g}\t{sl.item():.8g}\t{tv.item():.8g}\t{time.time() - t0:.2f}\n")
            log.flush()
        if count[0] % 50 == 0:
            print(f"evaluation {count[0]}: loss {loss.item():.6g} ({time.time() - t0:.0f}s)", file=sys.stderr)
        return loss

    opt.step(closure)
    if args.output:
        with torch.no_grad():
            out = ((img + MEAN) / 255.0).clamp(0, 1)[0].permute(1, 2, 0).numpy()
        Image.fromarray((out * 255.0 + 0.5).astype(np.uint8)).save(args.output)


if __name__ == "__main__":
    main()
