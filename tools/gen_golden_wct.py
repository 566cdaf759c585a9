#!/usr/bin/python3
"""Writes tests/data/wct_golden.safetensors: the whitening-colouring transform (Li et al. 2017,
"Universal Style Transfer via Feature Transforms", eqs. 2-3) in numpy float64, the lst-r31 relu3_1
encoder/decoder in PyTorch, and the whole two-level WCT method, for tests/test_wct.c.

    /usr/bin/python3 tools/gen_golden_wct.py [models/adain.safetensors] [models/lst-r31.safetensors] \
        [tests/data/wct_golden.safetensors]

The transform is the authors' Torch code's: per-channel means removed, covariance X X^T / (n - 1),
its eigendecomposition (numpy.linalg.eigh), eigenvalues below 1e-5 and their vectors dropped,
  whiten  W = E_c D_c^-1/2 E_c^T,   colour  K = E_s D_s^1/2 E_s^T,
  y = alpha (K W (f_c - m_c) + m_s) + (1 - alpha) f_c.
The lst-r31 networks are LinearStyleTransfer's encoder3 / decoder3 as penny4860's graphs run them:
zero padding 1 ('SAME'), max pooling 2x2 stride 2 without ceil mode ('VALID'), nearest x2 upsampling.
The AdaIN networks come from tools/gen_golden_adain.py (reflection padding, ceil-mode pooling).

Stored tensors (F32):
    wa_c (32,100) wa_s (32,80) wa_y (32,100)   full-rank features, alpha 0.7
    wb_c (32,20)  wb_s (32,24) wb_y (32,20)    fewer positions than channels (rank-deficient
                                                covariances: the 1e-5 cut decides), alpha 1
    lst_in (3,18,22)  lst_feat (256,4,5)  lst_out (3,16,20)   lst-r31 encoder and decoder
    content (3,40,44) style (3,36,33)           RGB 0..1 planes
    out (3,40,44)     impasto_wct(content, style), alpha 0.8, both levels, sizes kept
    mask (10,11)      gray 0 / 1: a diagonal split (region 0 top left, region 1 bottom right)
    style2 (3,30,34)  the second region's style
    out_mask (3,40,44)  impasto_wct_styles(content, [style, style2], mask), alpha 0.8, both levels:
                      each region whitened with its own positions' mean and covariance, coloured
                      with its style's; a feature position takes the mask level under the centre
                      of the pixels it stands for (relu4_1: 8 x 8, relu3_1: 4 x 4), the mask
                      stretched over the content
"""
import os
import sys
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_golden_adain import decoder, encoder, load, picture, read_safetensors, write_safetensors  # noqa: E402

torch.set_num_threads(1)

EIG_EPS = 1e-5


def wct(fc, fs, alpha):
    """fc (C, n), fs (C, ns) float64 -> (C, n)."""
    def factor(x, power):
        xc = x - x.mean(axis=1, keepdims=True)
        e, v = np.linalg.eigh(xc @ xc.T / (x.shape[1] - 1))
        keep = e >= EIG_EPS
        return (v[:, keep] * e[keep] ** power) @ v[:, keep].T
    w, k = factor(fc, -0.5), factor(fs, 0.5)
    mc, ms = fc.mean(axis=1, keepdims=True), fs.mean(axis=1, keepdims=True)
    return alpha * (k @ w @ (fc - mc) + ms) + (1 - alpha) * fc


def features(rng, c, n, rank):
    """Correlated features: a random mixing of `rank` sources plus per-channel offsets."""
    a = rng.normal(size=(c, rank)) * rng.uniform(0.2, 3.0, size=rank)
    return a @ rng.normal(size=(rank, n)) + rng.uniform(-2, 2, size=(c, 1))


def lst_encoder():
    zp = lambda i, o: nn.Conv2d(i, o, 3, padding=1)
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(3, 3, 1)), ("conv2", zp(3, 64)), ("r2", nn.ReLU()), ("conv3", zp(64, 64)),
        ("r3", nn.ReLU()), ("p1", nn.MaxPool2d(2, 2)), ("conv4", zp(64, 128)), ("r4", nn.ReLU()),
        ("conv5", zp(128, 128)), ("r5", nn.ReLU()), ("p2", nn.MaxPool2d(2, 2)), ("conv6", zp(128, 256)),
        ("r6", nn.ReLU())]))


def lst_decoder():
    zp = lambda i, o: nn.Conv2d(i, o, 3, padding=1)
    up = lambda: nn.Upsample(scale_factor=2, mode="nearest")
    return nn.Sequential(OrderedDict([
        ("conv7", zp(256, 128)), ("r7", nn.ReLU()), ("u1", up()), ("conv8", zp(128, 128)), ("r8", nn.ReLU()),
        ("conv9", zp(128, 64)), ("r9", nn.ReLU()), ("u2", up()), ("conv10", zp(64, 64)), ("r10", nn.ReLU()),
        ("conv11", zp(64, 3))]))


def level(enc, dec, x, s, alpha):
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a)[None])
    with torch.no_grad():
        fc, fs = enc(t(x))[0].numpy(), enc(t(s))[0].numpy()
        y = wct(fc.reshape(fc.shape[0], -1), fs.reshape(fs.shape[0], -1), alpha).reshape(fc.shape)
        return dec(t(y))[0].numpy()


def region_map(mask, h, w, scale, fh, fw):
    """Each feature position's region: the rank of the mask level under the centre of its pixels."""
    levels = np.rint(np.clip(mask, 0, 1) * 255).astype(int)
    rank = {l: i for i, l in enumerate(np.unique(levels))}
    mh, mw = mask.shape
    reg = np.zeros((fh, fw), dtype=int)
    for fy in range(fh):
        for fx in range(fw):
            py, px = min(scale * fy + scale // 2, h - 1), min(scale * fx + scale // 2, w - 1)
            reg[fy, fx] = rank[levels[int((py + 0.5) * mh / h), int((px + 0.5) * mw / w)]]
    return reg


def level_masked(enc, dec, x, styles, mask, h, w, scale, alpha):
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a)[None])
    with torch.no_grad():
        fc = enc(t(x))[0].numpy()
        reg = region_map(mask, h, w, scale, fc.shape[1], fc.shape[2])
        y = fc.copy()
        for r, s in enumerate(styles):
            fs = enc(t(s))[0].numpy()
            assert (reg == r).sum() >= 2
            y[:, reg == r] = wct(fc[:, reg == r], fs.reshape(fs.shape[0], -1), alpha)
        return dec(t(y))[0].numpy()


def method_masked(adain_w, lst_w, c, styles, mask, alpha):
    e4, d4 = load(encoder(), adain_w, "encoder", torch.float64), load(decoder(), adain_w, "decoder", torch.float64)
    e3, d3 = load(lst_encoder(), lst_w, "encoder", torch.float64), load(lst_decoder(), lst_w, "decoder", torch.float64)
    h, w = c.shape[1:]
    x1 = np.clip(level_masked(e4, d4, c, styles, mask, h, w, 8, alpha)[:, :h, :w], 0, 1)
    xp = np.pad(x1, ((0, 0), (0, -h % 4), (0, -w % 4)), mode="edge")
    return np.clip(level_masked(e3, d3, xp, styles, mask, h, w, 4, alpha)[:, :h, :w], 0, 1)


def method(adain_w, lst_w, c, s, alpha):
    e4, d4 = load(encoder(), adain_w, "encoder", torch.float64), load(decoder(), adain_w, "decoder", torch.float64)
    e3, d3 = load(lst_encoder(), lst_w, "encoder", torch.float64), load(lst_decoder(), lst_w, "decoder", torch.float64)
    h, w = c.shape[1:]
    x1 = np.clip(level(e4, d4, c, s, alpha)[:, :h, :w], 0, 1)
    xp = np.pad(x1, ((0, 0), (0, -h % 4), (0, -w % 4)), mode="edge")
    return np.clip(level(e3, d3, xp, s, alpha)[:, :h, :w], 0, 1)


def main():
    adain_src = sys.argv[1] if len(sys.argv) > 1 else "models/adain.safetensors"
    lst_src = sys.argv[2] if len(sys.argv) > 2 else "models/lst-r31.safetensors"
    dst = sys.argv[3] if len(sys.argv) > 3 else "tests/data/wct_golden.safetensors"
    adain_w, am = read_safetensors(adain_src)
    lst_w, lm = read_safetensors(lst_src)
    assert am.get("kind") == "adain" and lm.get("kind") == "lst-r31", (am, lm)
    rng = np.random.RandomState(7)
    wa_c, wa_s = features(rng, 32, 100, 32), features(rng, 32, 80, 32)
    wb_c, wb_s = features(rng, 32, 20, 32), features(rng, 32, 24, 32)
    # The float32 inputs the C side will see, so the reference transforms exactly those values.
    f32 = lambda a: a.astype(np.float32).astype(np.float64)
    wa_c, wa_s, wb_c, wb_s = f32(wa_c), f32(wa_s), f32(wb_c), f32(wb_s)
    wa_y, wb_y = wct(wa_c, wa_s, 0.7), wct(wb_c, wb_s, 1.0)

    e3, d3 = load(lst_encoder(), lst_w, "encoder", torch.float64), load(lst_decoder(), lst_w, "decoder", torch.float64)
    lst_in = f32(picture(18, 22, 4))
    with torch.no_grad():
        lst_feat = e3(torch.from_numpy(lst_in[None]))
        lst_out = d3(lst_feat)[0].numpy()
        lst_feat = lst_feat[0].numpy()

    content, style = f32(picture(40, 44, 5)), f32(picture(36, 33, 6))
    out = method(adain_w, lst_w, content, style, 0.8)
    style2 = f32(picture(30, 34, 8))
    yy, xx = np.meshgrid(np.arange(10) / 10, np.arange(11) / 11, indexing="ij")
    mask = (xx + yy > 0.9).astype(np.float64)
    out_mask = method_masked(adain_w, lst_w, content, [style, style2], mask, 0.8)
    print("masked: out range %.3f..%.3f, max |out_mask - out| %.3f" % (out_mask.min(), out_mask.max(),
                                                                      np.abs(out_mask - out).max()))
    print("wa: max|y| %.4g   wb: max|y| %.4g   lst_feat max %.4g   lst_out max %.4g   out range %.3f..%.3f" % (
        np.abs(wa_y).max(), np.abs(wb_y).max(), lst_feat.max(), np.abs(lst_out).max(), out.min(), out.max()))
    tensors = [("wa_c", wa_c), ("wa_s", wa_s), ("wa_y", wa_y), ("wb_c", wb_c), ("wb_s", wb_s), ("wb_y", wb_y),
               ("lst_in", lst_in), ("lst_feat", lst_feat), ("lst_out", lst_out),
               ("content", content), ("style", style), ("out", out),
               ("mask", mask), ("style2", style2), ("out_mask", out_mask)]
    write_safetensors(dst, tensors, {
        "generator": "tools/gen_golden_wct.py",
        "transform": "WCT (Li et al. 2017) in numpy float64, eigenvalues < 1e-5 dropped",
        "networks": "pytorch-AdaIN vgg/decoder (relu4_1) and LinearStyleTransfer encoder3/decoder3 (relu3_1), "
                    "float64 from impasto's converted float32 weights",
    })
    print("wrote", dst)


if __name__ == "__main__":
    main()
