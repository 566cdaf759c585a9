#!/usr/bin/env python3
"""Writes tests/data/loss_golden.bin: neural-style's content, style and total-variation losses
and their gradients computed by PyTorch autograd in float64, for tests/test_loss.c.

Run from the repository root with /usr/bin/python3 (needs torch and numpy).

The losses, written from their definitions (not from impasto's code):
    content = wc * mean((x - xt)^2)                                 (MSECriterion, mean)
    gram    = F F^T / (C*H*W),  F = x viewed as (C, H*W)
    style   = ws * mean((gram - T)^2)                               (mean over C*C)
    tv      = wt/2 * sum((x[:, :-1, :-1] - x[:, :-1, 1:])^2 + (x[:, :-1, :-1] - x[:, 1:, :-1])^2)

File layout, little-endian: a sequence of records, each
    name   16 bytes, ASCII, NUL-padded
    count  uint32
    data   float32[count]
Records: shape [C, H, W]; weights [wc, ws, wt]; x (C,H,W); content.t (C,H,W); style.t (C,C);
gram (C,C) of x; loss [content, style, tv]; content.dx, style.dx, tv.dx (C,H,W) each.
"""
import struct
import sys

import numpy as np
import torch

C, H, W = 5, 6, 7
WEIGHTS = (5.0, 100.0, 0.3)


def record(name, data):
    data = np.asarray(data, dtype="<f4").ravel()
    return struct.pack("<16sI", name.encode("ascii"), data.size) + data.tobytes()


def f32(t):
    """Rounds to float32 and back, so the reference uses exactly the stored inputs."""
    return t.float().double()


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/loss_golden.bin"
    torch.manual_seed(7)
    wc, ws, wt = WEIGHTS
    x = f32(torch.rand(C, H, W) * 2.0)
    xt = f32(torch.rand(C, H, W) * 2.0)
    other = torch.rand(C, 9 * 11, dtype=torch.float64) * 2.0
    T = f32(other @ other.T / other.numel())

    x.requires_grad_(True)
    F = x.reshape(C, H * W)
    gram = F @ F.T / x.numel()
    content = wc * ((x - xt) ** 2).mean()
    style = ws * ((gram - T) ** 2).mean()
    tv = wt / 2 * (((x[:, :-1, :-1] - x[:, :-1, 1:]) ** 2).sum() +
                   ((x[:, :-1, :-1] - x[:, 1:, :-1]) ** 2).sum())
    grads = [torch.autograd.grad(v, x, retain_graph=True)[0] for v in (content, style, tv)]

    blob = b"".join([
        record("shape", [C, H, W]), record("weights", WEIGHTS), record("x", x.detach()),
        record("content.t", xt), record("style.t", T), record("gram", gram.detach()),
        record("loss", [content.item(), style.item(), tv.item()]),
        record("content.dx", grads[0]), record("style.dx", grads[1]), record("tv.dx", grads[2]),
    ])
    with open(out, "wb") as fh:
        fh.write(blob)
    print(f"{out}: {len(blob)} bytes; losses {content.item():.6g} {style.item():.6g} {tv.item():.6g}")


if __name__ == "__main__":
    main()
