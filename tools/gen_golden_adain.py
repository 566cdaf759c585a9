#!/usr/bin/python3
"""Writes tests/data/adain_golden.safetensors: the AdaIN encoder, AdaIN step and decoder computed by
PyTorch from impasto's converted weights, for tests/test_adain.c.

    /usr/bin/python3 tools/gen_golden_adain.py [models/adain.safetensors] [tests/data/adain_golden.safetensors]

The weights file is made by `make models` (impasto convert adain ...), read here with json and numpy
only. The networks are built as naoto0804/pytorch-AdaIN's net.py builds `vgg` (cut after relu4_1)
and `decoder`, from the same state-dict names (encoder.N / decoder.N are its Sequential indices):
reflection padding 1 before each 3x3 convolution, max pooling 2x2 stride 2 in ceil mode, nearest x2
upsampling in the decoder. The AdaIN step is its function.py adaptive_instance_normalization:
per-channel mean, and std = sqrt(unbiased variance + 1e-5), for content and style alike. Several
styles are interpolated as its test.py style_transfer does: sum_k w_k AdaIN(f_c, f_k), then
alpha * t + (1 - alpha) * f_c.

Inputs are deterministic RGB pictures in 0..1 whose odd sizes make ceil mode matter: content 3x19x21
(relu4_1 3x3), style 3x16x13 (2x2), style2 3x12x18 (2x3). The reference is computed in float64 from
the float32 weights; the script prints how far PyTorch's own float32 run lands from it.

Stored tensors (F32):
    content (3,19,21)  style (3,16,13)  style2 (3,12,18)      inputs, RGB 0..1 planes
    feat_c (512,3,3)   feat_s (512,2,2)                       encoder outputs (relu4_1)
    t (512,3,3)                                               AdaIN(feat_c, feat_s), alpha 1
    out (3,24,24)                                             decoder(t), unclamped
    out_mix (3,19,21)  0.25 / 0.75 of style / style2, alpha 0.6, decoded, clamped to 0..1 and
                       cropped to the content's size (what impasto_adain returns)
"""
import sys

import numpy as np
import torch
import torch.nn as nn

from safetensors_np import read_safetensors, write_safetensors  # noqa: E402,F401 (re-exported)

torch.set_num_threads(1)

EPS = 1e-5


def conv(i, o, k=3):
    return nn.Conv2d(i, o, (k, k))


def pad():
    return nn.ReflectionPad2d((1, 1, 1, 1))


def encoder():
    """pytorch-AdaIN's vgg up to relu4_1 (Sequential indices 0..30)."""
    pool = lambda: nn.MaxPool2d((2, 2), (2, 2), (0, 0), ceil_mode=True)
    return nn.Sequential(
        conv(3, 3, 1), pad(), conv(3, 64), nn.ReLU(), pad(), conv(64, 64), nn.ReLU(), pool(),
        pad(), conv(64, 128), nn.ReLU(), pad(), conv(128, 128), nn.ReLU(), pool(),
        pad(), conv(128, 256), nn.ReLU(), pad(), conv(256, 256), nn.ReLU(), pad(), conv(256, 256), nn.ReLU(),
        pad(), conv(256, 256), nn.ReLU(), pool(),
        pad(), conv(256, 512), nn.ReLU())


def decoder():
    """pytorch-AdaIN's decoder (Sequential indices 0..28)."""
    up = lambda: nn.Upsample(scale_factor=2, mode="nearest")
    return nn.Sequential(
        pad(), conv(512, 256), nn.ReLU(), up(),
        pad(), conv(256, 256), nn.ReLU(), pad(), conv(256, 256), nn.ReLU(), pad(), conv(256, 256), nn.ReLU(),
        pad(), conv(256, 128), nn.ReLU(), up(),
        pad(), conv(128, 128), nn.ReLU(), pad(), conv(128, 64), nn.ReLU(), up(),
        pad(), conv(64, 64), nn.ReLU(), pad(), conv(64, 3))


def load(net, weights, prefix, dtype):
    sd = {k[len(prefix) + 1:]: torch.from_numpy(v) for k, v in weights.items() if k.startswith(prefix + ".")}
    net.load_state_dict(sd)
    return net.to(dtype).eval()


def mean_std(f):
    n, c = f.shape[:2]
    v = f.reshape(n, c, -1)
    return v.mean(dim=2).reshape(n, c, 1, 1), (v.var(dim=2) + EPS).sqrt().reshape(n, c, 1, 1)


def adain(fc, fs):
    mc, sc = mean_std(fc)
    ms, ss = mean_std(fs)
    return (fc - mc) / sc * ss + ms


def picture(h, w, seed):
    y, x = np.meshgrid(np.arange(h) / h, np.arange(w) / w, indexing="ij")
    rng = np.random.RandomState(seed)
    f = rng.uniform(2, 7, size=3)
    r = 0.5 + 0.4 * np.sin(f[0] * x + 2.0 * y)
    g = 0.5 + 0.4 * np.cos(f[1] * y - 3.0 * x * y)
    b = np.where((x - 0.6) ** 2 + (y - 0.4) ** 2 < 0.08, 0.9, 0.15) * (0.5 + 0.5 * np.sin(f[2] * x))
    return np.clip(np.stack([r, g, b]) + 0.05 * rng.uniform(-1, 1, size=(3, h, w)), 0.0, 1.0)


def run(weights, c, s, s2, dtype):
    enc, dec = load(encoder(), weights, "encoder", dtype), load(decoder(), weights, "decoder", dtype)
    with torch.no_grad():
        t = lambda a: torch.from_numpy(a[None]).to(dtype)
        fc, fs, fs2 = enc(t(c)), enc(t(s)), enc(t(s2))
        ada = adain(fc, fs)
        out = dec(ada)
        mix = 0.25 * adain(fc, fs) + 0.75 * adain(fc, fs2)
        mix = 0.6 * mix + 0.4 * fc
        out_mix = dec(mix).clamp(0, 1)[:, :, :c.shape[1], :c.shape[2]]
    r = {"feat_c": fc, "feat_s": fs, "t": ada, "out": out, "out_mix": out_mix}
    return {k: v[0].numpy().astype(np.float64) for k, v in r.items()}


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "models/adain.safetensors"
    dst = sys.argv[2] if len(sys.argv) > 2 else "tests/data/adain_golden.safetensors"
    weights, meta = read_safetensors(src)
    assert meta.get("kind") == "adain", meta
    c, s, s2 = picture(19, 21, 1), picture(16, 13, 2), picture(12, 18, 3)
    ref = run(weights, c, s, s2, torch.float64)
    f32 = run(weights, c.astype(np.float32), s.astype(np.float32), s2.astype(np.float32), torch.float32)
    print("tensor     shape            max|ref|   max|f32-ref|/max|ref|")
    for k in ref:
        print("%-10s %-16s %10.4g %12.3g" % (k, ref[k].shape, np.abs(ref[k]).max(),
                                            np.abs(f32[k] - ref[k]).max() / np.abs(ref[k]).max()))
    tensors = [("content", c), ("style", s), ("style2", s2)] + [(k, ref[k]) for k in ref]
    write_safetensors(dst, tensors, {
        "generator": "tools/gen_golden_adain.py",
        "network": "pytorch-AdaIN vgg (to relu4_1) and decoder, eps 1e-5 with the unbiased variance",
        "weights": meta.get("source", ""),
        "reference": "float64 forward from the float32 weights",
    })
    print("wrote", dst)


if __name__ == "__main__":
    main()
