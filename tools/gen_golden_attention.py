#!/usr/bin/python3
"""Writes tests/data/attention_golden.safetensors: impasto attention's feature fusion in numpy
float64, straight from its formula (include/impasto.h, docs/attention.md), for tests/test_attention.c.

    /usr/bin/python3 tools/gen_golden_attention.py [tests/data/attention_golden.safetensors]

  c^ = (f_c - mean_c) / sd_c, s^_k likewise with painting k's own moments; sd = sqrt(unbiased var + 1e-5)
  K_j = an N x N patch of some s^_k lying wholly inside its map, made unit length; V_j the same patch of f_k
  Q_i = the N x N patch of c^ centred on i, zeros off the map, unit length
  R_i = sum_j softmax_j(<Q_i, K_j> / T + ln w_k(j)) V_j          (hard: V of the arg max)
  fused(p) = mean of R_i's entries at p over the patches i covering p;  out = alpha fused + (1 - alpha) f_c
The whole score matrix at once (nothing streamed): the reference the blocked C code must equal.

Stored tensors (F32): content (8,6,7), style0 (8,5,5), style1 (8,4,6), region (6,7) (0/1 as floats),
and one output (8,6,7) per case:
    out_p1   patch 1, T 0.1, weights 0.3 / 0.7, alpha 0.8
    out_p3   patch 3, T 0.05, equal weights, alpha 1
    out_hard patch 3, hard, alpha 1
    out_mask patch 1, T 0.2, region 0 attends over style0 alone, region 1 over style1, alpha 1
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_np import write_safetensors  # noqa: E402

EPS = 1e-5


def normalise(f):
    c = f.reshape(f.shape[0], -1)
    mean = c.mean(axis=1)
    sd = np.sqrt(c.var(axis=1, ddof=1) + EPS)
    return (f - mean[:, None, None]) / sd[:, None, None]


def patches(f, n, valid):
    """f (C, H, W) -> (C n n, P): every patch wholly inside (valid) or centred on every position (zero padded),
    row order (channel, dy, dx), columns in raster order of the centres."""
    c, h, w = f.shape
    r = n // 2
    if valid:
        centres = [(y, x) for y in range(r, h - r) for x in range(r, w - r)]
    else:
        centres = [(y, x) for y in range(h) for x in range(w)]
    pad = np.zeros((c, h + 2 * r, w + 2 * r))
    pad[:, r:r + h, r:r + w] = f
    cols = [pad[:, y:y + n, x:x + n].reshape(-1) for (y, x) in centres]
    return np.stack(cols, axis=1), centres


def unit(m):
    norm = np.sqrt((m * m).sum(axis=0))
    return m / np.where(norm > 0, norm, 1)


def fuse(content, styles, n, t, hard, alpha, weights=None, region=None):
    c, h, w = content.shape
    r = n // 2
    q, qc = patches(normalise(content), n, False)
    q = unit(q)
    keys, vals, bias, which = [], [], [], []
    wsum = sum(weights) if weights else 1
    for k, s in enumerate(styles):
        kk, _ = patches(normalise(s), n, True)
        vv, _ = patches(s, n, True)
        keys.append(unit(kk))
        vals.append(vv)
        bias.append(np.full(kk.shape[1], np.log(weights[k] / wsum) if weights else 0.0))
        which.append(np.full(kk.shape[1], k))
    K, V = np.concatenate(keys, axis=1), np.concatenate(vals, axis=1)
    B, S = np.concatenate(bias), np.concatenate(which)
    acc = np.zeros((c, h, w))
    cnt = np.zeros((h, w))
    for i, (y, x) in enumerate(qc):
        score = q[:, i] @ K / t + B
        if region is not None:
            score = np.where(S == region[y, x], score, -np.inf)
        if hard:
            p = np.zeros_like(score)
            p[np.argmax(score)] = 1
        else:
            p = np.exp(score - score.max())
            p /= p.sum()
        patch = (V @ p).reshape(c, n, n)
        for dy in range(n):
            for dx in range(n):
                yy, xx = y + dy - r, x + dx - r
                if 0 <= yy < h and 0 <= xx < w:
                    acc[:, yy, xx] += patch[:, dy, dx]
                    cnt[yy, xx] += 1
    return alpha * acc / cnt + (1 - alpha) * content


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/attention_golden.safetensors"
    rng = np.random.default_rng(18)
    # ReLU features: non-negative, some exact zeros, channels of different scales.
    relu = lambda a: np.maximum(a, 0)
    scale = rng.uniform(0.5, 3.0, size=(8, 1, 1))
    content = relu(rng.normal(0.3, 1.0, size=(8, 6, 7)) * scale).astype(np.float32).astype(np.float64)
    s0 = relu(rng.normal(0.5, 1.0, size=(8, 5, 5)) * scale).astype(np.float32).astype(np.float64)
    s1 = relu(rng.normal(0.1, 1.5, size=(8, 4, 6))).astype(np.float32).astype(np.float64)
    region = np.zeros((6, 7), dtype=np.int64)
    region[:, 4:] = 1
    region[0, :] = 1
    tensors = [("content", content), ("style0", s0), ("style1", s1), ("region", region.astype(np.float64)),
               ("out_p1", fuse(content, [s0, s1], 1, 0.1, False, 0.8, weights=[0.3, 0.7])),
               ("out_p3", fuse(content, [s0, s1], 3, 0.05, False, 1.0)),
               ("out_hard", fuse(content, [s0, s1], 3, 1.0, True, 1.0)),
               ("out_mask", fuse(content, [s0, s1], 1, 0.2, False, 1.0, region=region))]
    write_safetensors(out, tensors, {"generator": "tools/gen_golden_attention.py"})
    print(out)


if __name__ == "__main__":
    main()
