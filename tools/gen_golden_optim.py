#!/usr/bin/env python3
"""Writes tests/data/optim_golden.bin: reference trajectories of torch.optim.LBFGS and
torch.optim.Adam (PyTorch, float64) for tests/test_optim.c.

Run from the repository root with /usr/bin/python3 (needs torch and numpy).

File layout, little-endian: a sequence of records, each
    name   16 bytes, ASCII, NUL-padded
    count  uint32
    data   float32[count]
Records (n = 8):
    quartic.A, quartic.b, quartic.c, quartic.x0   the test function
        f(x) = 1/2 x'Ax - b'x + c/4 sum x_i^4   (A symmetric positive definite, c scalar)
    lbfgs.fix.f, lbfgs.fix.x   fixed step: f at every evaluation, in order; final x
    lbfgs.sw.f, lbfgs.sw.x     strong Wolfe line search: the same
    lbfgs.h3.f, lbfgs.h3.x     fixed step with history_size=3 (the history wraps)
    lbfgs.sw005.f, .x          strong Wolfe with lr=0.05 (the search extrapolates)
    lbfgs.sw4.f, .x            strong Wolfe with lr=4 (the search zooms)
    rosen.x0                   start of the 2-D Rosenbrock function
    rosen.sw.f, rosen.sw.x     strong Wolfe on Rosenbrock: f at every evaluation; final x
    adam.x                     Adam: x after each of the first ADAM_STEPS steps (steps x n)
    adam.f                     Adam: f at each evaluation (before each step)
    ls.cases                   (K, 4): start x (2), lr, max_iter of each line-search case
    ls.<k>.f, ls.<k>.x         strong Wolfe on wiggly(x) = sum 1/4 x^4 - x^2 + 0.3 sin(6x)
                               from case k, max_eval=1000: f at every evaluation; final x.
                               The cubic fits from nearly equal f values are sensitive to the
                               rounding of x, so these runs round x and g to float32 at each
                               evaluation (x0 too), as impasto holds them; the optimiser's own
                               arithmetic stays float64.
Settings: LBFGS(lr=1, history_size=100 unless stated, max_iter=ITERS, tolerance_grad=-1,
tolerance_change=-1) so that only max_iter and max_eval (PyTorch's max_iter * 5 // 4 unless
stated) stop it (the line search keeps its own 1e-9);
Adam(lr=ADAM_LR), default betas and eps.
"""
import struct
import sys

import numpy as np
import torch

N = 8
ITERS = 15
ROSEN_ITERS = 11
ADAM_STEPS = 10
ADAM_LR = 0.05
# Single strong Wolfe searches (and pairs of them) on the non-convex "wiggly" function, from
# first guesses far too short (extrapolation) and far too long (zoom): (start, lr, max_iter).
LS_CASES = [(s, lr, 1) for s in ([0.3, -0.2], [1.7, 0.1], [-2.5, 2.2], [0.05, 0.9])
            for lr in (1 / 64, 32, 256)] + \
           [(s, 256, 2) for s in ([0.3, -0.2], [1.7, 0.1], [-2.5, 2.2], [0.05, 0.9])]


def record(name, data):
    data = np.asarray(data, dtype="<f4").ravel()
    return struct.pack("<16sI", name.encode("ascii"), data.size) + data.tobytes()


def quartic(A, b, c):
    def f(x):
        return 0.5 * x @ (A @ x) - b @ x + 0.25 * c * (x ** 4).sum()
    return f


def rosenbrock(x):
    return ((1 - x[:-1]) ** 2).sum() + 100 * ((x[1:] - x[:-1] ** 2) ** 2).sum()


def wiggly(x):
    return (0.25 * x ** 4 - x ** 2 + 0.3 * torch.sin(6 * x)).sum()


def run_lbfgs(fn, x0, iters, line_search, history=100, lr=1, max_eval=None, as_float32=False):
    """as_float32: round x and the gradient to float32 at every evaluation (as impasto holds
    them), leaving the optimiser's own arithmetic in float64."""
    if as_float32:
        x0 = np.asarray(x0, dtype=np.float32).astype(np.float64)
    x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([x], lr=lr, max_iter=iters, max_eval=max_eval, history_size=history, tolerance_grad=-1,
                            tolerance_change=-1, line_search_fn=line_search)
    fs = []

    def closure():
        opt.zero_grad()
        if as_float32:
            x.data.copy_(x.data.float().double())
        loss = fn(x)
        loss.backward()
        if as_float32:
            x.grad.data.copy_(x.grad.float().double())
        fs.append(loss.item())
        return loss

    opt.step(closure)
    return np.array(fs), x.detach().numpy().copy()


def run_adam(fn, x0):
    x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([x], lr=ADAM_LR)
    xs, fs = [], []
    for _ in range(ADAM_STEPS):
        opt.zero_grad()
        loss = fn(x)
        loss.backward()
        fs.append(loss.item())
        opt.step()
        xs.append(x.detach().numpy().copy())
    return np.array(fs), np.array(xs)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/optim_golden.bin"
    rng = np.random.default_rng(1234)
    q, _ = np.linalg.qr(rng.standard_normal((N, N)))
    A = (q * np.linspace(1.0, 10.0, N)) @ q.T
    A = 0.5 * (A + A.T)
    # The file stores float32; the reference uses exactly those values, widened.
    A = A.astype(np.float32).astype(np.float64)
    b = rng.standard_normal(N).astype(np.float32).astype(np.float64)
    c = np.float32(0.5).astype(np.float64)
    x0 = rng.standard_normal(N).astype(np.float32).astype(np.float64)
    fq = quartic(torch.tensor(A), torch.tensor(b), float(c))

    fix_f, fix_x = run_lbfgs(fq, x0, ITERS, None)
    sw_f, sw_x = run_lbfgs(fq, x0, ITERS, "strong_wolfe")
    h3_f, h3_x = run_lbfgs(fq, x0, ITERS, None, history=3)
    # a short first guess makes the search extrapolate, a long one makes it zoom
    short_f, short_x = run_lbfgs(fq, x0, ITERS, "strong_wolfe", lr=0.05)
    long_f, long_x = run_lbfgs(fq, x0, ITERS, "strong_wolfe", lr=4)
    r0 = np.array([-1.2, 1.0])
    rs_f, rs_x = run_lbfgs(rosenbrock, r0, ROSEN_ITERS, "strong_wolfe")
    ad_f, ad_x = run_adam(fq, x0)
    cases, ls_records = [], []
    for k, (start, lr, iters) in enumerate(LS_CASES):
        fs, xs = run_lbfgs(wiggly, np.array(start), iters, "strong_wolfe", lr=lr, max_eval=1000,
                           as_float32=True)
        cases.append([start[0], start[1], lr, iters])
        ls_records += [record(f"ls.{k}.f", fs), record(f"ls.{k}.x", xs)]

    blob = b"".join([
        record("quartic.A", A), record("quartic.b", b), record("quartic.c", [c]),
        record("quartic.x0", x0),
        record("lbfgs.fix.f", fix_f), record("lbfgs.fix.x", fix_x),
        record("lbfgs.sw.f", sw_f), record("lbfgs.sw.x", sw_x),
        record("lbfgs.h3.f", h3_f), record("lbfgs.h3.x", h3_x),
        record("lbfgs.sw005.f", short_f), record("lbfgs.sw005.x", short_x),
        record("lbfgs.sw4.f", long_f), record("lbfgs.sw4.x", long_x),
        record("rosen.x0", r0), record("rosen.sw.f", rs_f), record("rosen.sw.x", rs_x),
        record("adam.x", ad_x), record("adam.f", ad_f), record("ls.cases", cases),
    ] + ls_records)
    with open(out, "wb") as fh:
        fh.write(blob)
    print(f"{out}: {len(blob)} bytes; evaluations: fixed {len(fix_f)}, wolfe {len(sw_f)}, "
          f"lr 0.05 {len(short_f)}, lr 4 {len(long_f)}, rosenbrock {len(rs_f)}")


if __name__ == "__main__":
    main()
