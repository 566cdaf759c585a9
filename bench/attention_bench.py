#!/usr/bin/python3
"""Attention fusion (impasto attention's feature step, docs/attention.md), impasto against PyTorch
on the same features, each side in its own child process: the time of one fusion (the content's
moments, the painting's keys and values, the attention, the overlapping patches averaged) and
each side's peak RSS (the child's own VmHWM, which exec starts afresh: wait4's ru_maxrss would also
count this harness's RSS at the fork) with the part the fusion adds to it (peak minus the RSS with
the inputs loaded, which each child reports). The encoder and decoder are not timed.

PyTorch runs the same formula two ways: `torch-whole` makes the whole score matrix (Q K^T / T,
softmax over the keys, times V), `torch-stream` the blocks impasto uses (256 content positions
against 1024 painting patches, running maximum and sum). Patches are torch.nn.functional.unfold /
fold (the averaging of overlapping patches: fold of the results over fold of ones).

Cases (--cases, comma list of the names):
    r41-512      relu4_1 of a 512 px photo and painting: (512, 64, 64) each, patch 1
    r41-512-p3   the same, 3x3 patches
    r31-512      relu3_1 of a 512 px photo and painting: (256, 128, 128) each, patch 1
    r41-1024     relu4_1 of a 1024 px photo, 512 px painting: (512, 128, 128) against (512, 64, 64),
                 the issue's example of the memory bound (a 16384 x 4096 score matrix, 256 MB)
The features are synthetic ReLU features (seeded; the time does not depend on the values).

    /usr/bin/python3 bench/attention_bench.py [--driver build/bench/bench_attention]
        [--cases r41-512,r41-512-p3,r31-512,r41-1024] [--runs 3] [--warmup 1] [--threads 2] [--json [FILE]]

See bench/README.md.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gatys_bench import add_run_args, run_child  # noqa: E402

CASES = {
    # name: (channels, content side, painting side, patch)
    "r41-512": (512, 64, 64, 1),
    "r41-512-p3": (512, 64, 64, 3),
    "r31-512": (256, 128, 128, 1),
    "r41-1024": (512, 128, 64, 1),
}
QUERY_BLOCK, KEY_BLOCK = 256, 1024  # ATTN_QUERY_BLOCK, ATTN_KEY_BLOCK (src/methods/attention.h)
EPS = 1e-5


def features(c, side, seed):
    """ReLU features (c, side, side): channels of different scales, some exact zeros."""
    rng = np.random.RandomState(seed)
    scale = rng.uniform(0.5, 3.0, size=(c, 1, 1))
    return np.maximum(rng.normal(0.3, 1.0, size=(c, side, side)) * scale, 0).astype(np.float32)


def rss_kib(field="VmRSS:"):
    """/proc/self/status's field in KiB: VmRSS now, VmHWM the peak since exec (wait4's ru_maxrss
    would also count this harness's RSS at the fork)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def torch_fuse(torch, F, fc, fs, n, t, stream):
    """fc (1, C, H, W), fs (1, C, SH, SW) -> the fused features (1, C, H, W), alpha 1."""
    def norm(f):
        v = f.flatten(2)
        m = v.mean(dim=2, keepdim=True)
        sd = (v.var(dim=2, keepdim=True) + EPS).sqrt()
        return ((v - m) / sd).view_as(f)
    h, w = fc.shape[2:]
    r = n // 2
    k = F.normalize(F.unfold(norm(fs), n)[0], dim=0)              # (d, nk) keys, unit length
    v = F.unfold(fs, n)[0]                                         # (d, nk) values
    q = F.normalize(F.unfold(norm(fc), n, padding=r)[0], dim=0)  # (d, np) queries, zeros off the map
    if not stream:
        p = torch.softmax(q.t() @ k / t, dim=1)                    # (np, nk): the whole matrix
        res = p @ v.t()                                            # (np, d)
    else:
        nq, nk = q.shape[1], k.shape[1]
        res = torch.empty(nq, q.shape[0])
        for i0 in range(0, nq, QUERY_BLOCK):
            qb = q[:, i0:i0 + QUERY_BLOCK].t()                     # (b, d)
            m = torch.full((qb.shape[0], 1), -float("inf"))
            l = torch.zeros(qb.shape[0], 1)
            acc = torch.zeros(qb.shape[0], v.shape[0])
            for j0 in range(0, nk, KEY_BLOCK):
                s = qb @ k[:, j0:j0 + KEY_BLOCK] / t               # (b, kb)
                mn = torch.maximum(m, s.max(dim=1, keepdim=True).values)
                e = torch.exp(s - mn)
                scale = torch.exp(m - mn)
                l = l * scale + e.sum(dim=1, keepdim=True)
                acc = acc * scale + e @ v[:, j0:j0 + KEY_BLOCK].t()
                m = mn
            res[i0:i0 + QUERY_BLOCK] = acc / l
    if n == 1:
        return res.t().reshape(1, -1, h, w)
    ones = torch.ones(1, 1, h, w)
    cnt = F.fold(F.unfold(ones, n, padding=r), (h, w), n, padding=r)
    return F.fold(res.t()[None], (h, w), n, padding=r) / cnt


def torch_child(a):
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(a.threads)
    c, h, sh, n = a.c, a.h, a.sh, a.patch
    fc = torch.from_numpy(np.fromfile(a.content, dtype="<f4").reshape(1, c, h, h))
    fs = torch.from_numpy(np.fromfile(a.style, dtype="<f4").reshape(1, c, sh, sh))
    before = rss_kib()
    times, out = [], None
    with torch.no_grad():
        for r in range(a.warmup + a.runs):
            t0 = time.perf_counter()
            out = torch_fuse(torch, F, fc, fs, n, a.temperature, a.impl == "torch-stream")
            if r >= a.warmup:
                times.append(time.perf_counter() - t0)
    if a.out:
        out[0].numpy().astype("<f4").tofile(a.out)
    print(json.dumps({"times": times, "rss_before_kib": before, "peak_rss_kib": rss_kib("VmHWM:")}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--driver", default="build/bench/bench_attention", help="the C driver (make builds it)")
    ap.add_argument("--cases", default=",".join(CASES), help="comma list of " + ", ".join(CASES))
    ap.add_argument("--impls", default="impasto,torch-stream,torch-whole", help="which sides to run")
    ap.add_argument("--temperature", type=float, default=0.05)
    add_run_args(ap, runs=3, what="case and side", budget=False)
    ap.add_argument("--child", choices=["torch"], help=argparse.SUPPRESS)
    ap.add_argument("--impl", help=argparse.SUPPRESS)
    for k in ("content", "style", "out"):
        ap.add_argument("--" + k, help=argparse.SUPPRESS)
    for k in ("c", "h", "sh", "patch"):
        ap.add_argument("--" + k, type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return torch_child(a)

    # Idle OpenMP workers sleep (both sides): on a shared, loaded machine spinning ones take the
    # cores the other threads need (measured: 18.6 s spinning, 4-7 s sleeping, same run).
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), OPENBLAS_NUM_THREADS=str(a.threads),
               OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "passive"))
    cpu = "unknown CPU"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        cpu = next(l.split(":", 1)[1].strip() for l in out.splitlines() if l.startswith("Model name"))
    except (OSError, StopIteration):
        pass
    results = {"cpu": cpu, "threads": a.threads, "temperature": a.temperature,
               "omp_wait_policy": env["OMP_WAIT_POLICY"], "cases": []}
    with tempfile.TemporaryDirectory() as wd:
        for name in a.cases.split(","):
            c, h, sh, n = CASES[name]
            cp, sp = os.path.join(wd, "c.f32"), os.path.join(wd, "s.f32")
            features(c, h, 1).tofile(cp)
            features(c, sh, 2).tofile(sp)
            common = ["--runs", str(a.runs), "--warmup", str(a.warmup), "--threads", str(a.threads)]
            case = {"case": name, "content": [c, h, h], "painting": [c, sh, sh], "patch": n,
                    "score_matrix_mb": h * h * (sh - 2 * (n // 2)) ** 2 * 4 / 2 ** 20,
                    "loadavg_start": os.getloadavg(), "impls": {}}
            outs = {}
            for impl in a.impls.split(","):
                o = os.path.join(wd, impl + ".f32")
                if impl == "impasto":
                    cmd = [a.driver, "--content", cp, "--channels", str(c), "--height", str(h), "--width", str(h),
                           "--style", sp, "--style-height", str(sh), "--style-width", str(sh), "--patch", str(n),
                           "--temperature", str(a.temperature), "--out", o] + common
                else:
                    cmd = [sys.executable, os.path.abspath(__file__), "--child", "torch", "--impl", impl,
                           "--content", cp, "--style", sp, "--c", str(c), "--h", str(h), "--sh", str(sh),
                           "--patch", str(n), "--temperature", str(a.temperature), "--out", o] + common
                res, rss = run_child(cmd, env)
                t = res["times"]
                rss = res.get("peak_rss_kib", rss)  # the child's own peak, not wait4's (see rss_kib)
                case["impls"][impl] = {"times": t, "median_s": statistics.median(t), "peak_rss_kib": rss,
                                       "rss_before_kib": res["rss_before_kib"],
                                       "fusion_rss_kib": rss - res["rss_before_kib"]}
                outs[impl] = np.fromfile(o, dtype="<f4").astype(np.float64)
            ref = outs.get("torch-whole", outs.get("torch-stream"))
            if ref is not None and "impasto" in outs:
                case["rel_diff_vs_torch"] = float(np.linalg.norm(outs["impasto"] - ref) / np.linalg.norm(ref))
            case["loadavg_end"] = os.getloadavg()
            results["cases"].append(case)
            print_case(case, file=sys.stderr if a.json == "-" else sys.stdout)
    if a.json:
        text = json.dumps(results, indent=1)
        if a.json == "-":
            print(text)
        else:
            with open(a.json, "w") as f:
                f.write(text + "\n")
    else:
        print("%s, %d threads, OMP_WAIT_POLICY=%s" % (cpu, a.threads, env["OMP_WAIT_POLICY"]))


def print_case(case, file):
    c, h, _ = case["content"]
    print("== %s: content (%d, %d, %d), painting (%d, %d, %d), patch %d; the score matrix would be %.0f MB; "
          "load %.1f .. %.1f" % (case["case"], c, h, h, *case["painting"], case["patch"], case["score_matrix_mb"],
                                 case["loadavg_start"][0], case["loadavg_end"][0]), file=file)
    base = case["impls"].get("impasto", {}).get("median_s")
    for impl, r in case["impls"].items():
        ratio = " (%.2fx impasto's time)" % (r["median_s"] / base) if base and impl != "impasto" else ""
        print("  %-13s median %7.3f s%s   peak RSS %6.0f MB, of which the fusion %6.0f MB" % (
            impl, r["median_s"], ratio, r["peak_rss_kib"] / 1024, r["fusion_rss_kib"] / 1024), file=file)
    if "rel_diff_vs_torch" in case:
        print("  impasto vs PyTorch: relative difference %.2e" % case["rel_diff_vs_torch"], file=file)


if __name__ == "__main__":
    main()
