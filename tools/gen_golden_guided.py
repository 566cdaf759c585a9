#!/usr/bin/python3
"""Writes tests/data/guided_golden.safetensors: the guided style loss of src/loss/guided.c (Gatys et al.
2017, guided Gram matrices) and its gradient, by PyTorch autograd in float64 straight from the formula,
for tests/test_gatys_mask.c.

    /usr/bin/python3 tools/gen_golden_guided.py [tests/data/guided_golden.safetensors]

  f (C, n) features, m (R, n) each region's weight at each position (soft: any value >= 0), T (R, C, C)
  M_r = sum_p m_r(p)^2,  G_r = (f * m_r)(f * m_r)^T / (C M_r)
  L = w sum_r (M_r / n) sum((G_r - T_r)^2) / C^2          (a region with M_r = 0 adds nothing)

Stored tensors (F32): f (6, 35), m (3, 35) (region 2 is all zero but for two positions; and a case where
region 1 is all zero), targets (3, 6, 6), weight (1), then per case the loss (1) and dL/df (6, 35):
    loss_soft, grad_soft     soft masks, every region present
    loss_empty, grad_empty   the same with region 1 zero everywhere (no term, no gradient)
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_np import write_safetensors  # noqa: E402


def guided_loss(f, m, t, w):
    c, n = f.shape
    loss = torch.zeros((), dtype=torch.float64)
    for r in range(m.shape[0]):
        mass = (m[r] ** 2).sum()
        if mass.item() <= 0:
            continue
        fm = f * m[r][None, :]
        g = fm @ fm.T / (c * mass)
        loss = loss + w * (mass / n) * ((g - t[r]) ** 2).sum() / (c * c)
    return loss


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/guided_golden.safetensors"
    rng = np.random.default_rng(20)
    c, n, R = 6, 35, 3
    f = np.maximum(rng.normal(0.3, 1.0, (c, n)), 0).astype(np.float32)  # ReLU-like features
    m = rng.uniform(0, 1, (R, n)).astype(np.float32)
    m[2] = 0
    m[2, 4], m[2, 30] = 0.5, 1.0
    t = np.stack([(lambda a: a @ a.T / (c * n))(np.maximum(rng.normal(0.2, 1.0, (c, n)), 0))
                  for _ in range(R)]).astype(np.float32)
    w = np.float32(3.5)
    tensors = [("f", f), ("m", m), ("targets", t), ("weight", np.array([w]))]
    for name, mm in (("soft", m), ("empty", np.where(np.arange(R)[:, None] == 1, 0, m).astype(np.float32))):
        ft = torch.tensor(f, dtype=torch.float64, requires_grad=True)
        loss = guided_loss(ft, torch.tensor(mm, dtype=torch.float64), torch.tensor(t, dtype=torch.float64),
                           float(w))
        loss.backward()
        tensors += [("loss_" + name, np.array([loss.item()])), ("grad_" + name, ft.grad.numpy())]
        if name == "empty":
            tensors.append(("m_empty", mm))
    write_safetensors(out, tensors, {"generator": "tools/gen_golden_guided.py", "torch": torch.__version__})


if __name__ == "__main__":
    main()
