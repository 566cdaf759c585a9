#!/usr/bin/python3
"""Times the adversarial networks of junyanz/pytorch-CycleGAN-and-pix2pix at batch 1: one CycleGAN
optimisation step, one pix2pix optimisation step and one CycleGAN generator forward pass, in PyTorch
(and in impasto once its driver exists), each measurement in its own child process so that its peak
RSS is its own.

  /usr/bin/python3 bench/gan_bench.py [--sizes 128,256] [--rows cyclegan,pix2pix,forward] [--runs 3]
      [--warmup 1] [--threads 2] [--driver build/bench/bench_gan] [--json [FILE]]

Rows (square --sizes; the networks are tools/gan_ref.py's rebuilds of the reference's, key for key,
initialised as its init_weights('normal', 0.02) does from torch seed 0):
  cyclegan  CycleGANModel.optimize_parameters with the reference's defaults: G_A, G_B resnet_9blocks
            (ngf 64, instance norm, no dropout), D_A, D_B basic (70x70 PatchGAN, ndf 64, n_layers 3,
            instance norm), gan_mode lsgan, lambda_A = lambda_B = 10, lambda_identity 0.5, Adam 2e-4
            (0.5, 0.999), ImagePool(50): the four generator passes of forward(), the two identity passes,
            the generators' backward and Adam step with D frozen, then both discriminators' real and fake
            passes, backward and Adam step.
  pix2pix   Pix2PixModel.optimize_parameters with its defaults: G unet_128 at 128 px, unet_256 at 256
            (ngf 64, batch norm, dropout 0.5 in the middle blocks as the reference's default has it), D
            basic on the 6-channel pair (ndf 64, batch norm), gan_mode vanilla, lambda_L1 100, no pool:
            G forward, D step (fake and real passes), G step through the updated D.
  forward   resnet_9blocks generator forward alone, eval mode, torch.no_grad (inference).
Inputs are deterministic synthetic pictures in [-1, 1] (the same every run). Every timed run is one
whole step (or forward pass); the steps repeat on the same batch, the weights moving on.

Each child runs --warmup untimed then --runs timed repetitions; printed are the median and minimum and
the child's peak RSS (ru_maxrss from wait4: the interpreter, libtorch and the weights included; Linux
counts in it the RSS of the parent at the fork, so this parent imports neither torch nor the weights and
stays near 35 MiB, which is the floor of every figure; the starting weights are written by a child too). PyTorch
runs under /usr/bin/python3 with torch.set_num_threads(--threads), OMP_NUM_THREADS and
OPENBLAS_NUM_THREADS set to it.

impasto (later): with --driver, the same measurements run through that program too, called as
  DRIVER --row ROW --size N --weights DIR --inputs DIR --runs R --warmup W --threads T
where DIR (made here, shared by both sides) holds the starting weights as safetensors with the
reference's state_dict keys (cyclegan: G_A, G_B, D_A, D_B; pix2pix: G, D; forward: G .safetensors)
and the inputs as raw little-endian float32 (1, 3, N, N): real_A.f32, real_B.f32. It prints one JSON
line {"impl": "impasto", "times": [s, ...], "losses": [...]}: losses per step, warm-up steps first, as this script's PyTorch
child reports them (cyclegan [loss_G, loss_D_A, loss_D_B], pix2pix [loss_G, loss_D], forward
[mean |y|]), so the two sides' first steps can be compared. Without --driver only PyTorch runs.
"""
import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
from gatys_bench import add_run_args, cpu_name, fmt_mib, run_child, torch_info  # noqa: E402

ROWS = ("cyclegan", "pix2pix", "forward")
LR, BETAS = 2e-4, (0.5, 0.999)


def build(row, size):
    """{name: network} of a row, weights from torch seed 0 as the reference initialises them."""
    import torch
    from gan_ref import NLayerDiscriminator, ResnetGenerator, UnetGenerator, init_normal
    torch.manual_seed(0)
    if row == "cyclegan":
        nets = {"G_A": ResnetGenerator(3, 3, 64, "instance", False, 9),
                "G_B": ResnetGenerator(3, 3, 64, "instance", False, 9),
                "D_A": NLayerDiscriminator(3, 64, 3, "instance"), "D_B": NLayerDiscriminator(3, 64, 3, "instance")}
    elif row == "pix2pix":
        downs = 8 if size % 256 == 0 else 7  # unet_256, else unet_128
        nets = {"G": UnetGenerator(3, 3, downs, 64, "batch", True), "D": NLayerDiscriminator(6, 64, 3, "batch")}
    else:
        nets = {"G": ResnetGenerator(3, 3, 64, "instance", False, 9)}
    for n in nets.values():
        init_normal(n)
    return nets


def picture(size, seed):
    y, x = np.meshgrid(np.arange(size) / size, np.arange(size) / size, indexing="ij")
    rng = np.random.RandomState(seed)
    planes = [0.8 * np.sin(rng.uniform(2, 9) * x + rng.uniform(2, 9) * y + rng.uniform(0, 6.3)) for _ in range(3)]
    img = np.stack(planes) + 0.1 * rng.uniform(-1, 1, size=(3, size, size))
    return np.clip(img, -1, 1)[None].astype("<f4")


def prepare(workdir, row, size, weights):
    """The inputs (always) and, for a driver, the starting weights, in workdir/<row>-<size>/."""
    d = os.path.join(workdir, "%s-%d" % (row, size))
    os.makedirs(d)
    picture(size, 1).tofile(os.path.join(d, "real_A.f32"))
    picture(size, 2).tofile(os.path.join(d, "real_B.f32"))
    if weights:  # in a child, so that this process never holds libtorch (a forked child's peak RSS counts it)
        run_child([sys.executable, os.path.abspath(__file__), "--child", "weights", "--row", row, "--size", str(size),
                   "--inputs", d], dict(os.environ, OMP_NUM_THREADS="1"))
    return d


def weights_child(a):
    import torch
    from safetensors_np import write_safetensors
    torch.set_num_threads(1)
    for name, net in build(a.row, a.size).items():
        write_safetensors(os.path.join(a.inputs, name + ".safetensors"),
                          [(k, v.numpy()) for k, v in net.state_dict().items() if v.is_floating_point()],
                          {"row": a.row, "size": str(a.size), "net": name})
    print(json.dumps({"wrote": a.inputs}))


# ---- the PyTorch side (a child process per measurement) -----------------------------------------

def torch_child(a):
    import itertools
    import random

    import torch
    import torch.nn as nn
    from gan_ref import ImagePool
    torch.set_num_threads(a.threads)
    nets = build(a.row, a.size)
    if a.weights:  # the driver's starting weights (the same values: same seed), read back to be sure
        from safetensors_np import read_safetensors
        for name, net in nets.items():
            t, _ = read_safetensors(os.path.join(a.inputs, name + ".safetensors"))
            net.load_state_dict({k: torch.from_numpy(v) for k, v in t.items()}, strict=False)
    shape = (1, 3, a.size, a.size)
    A = torch.from_numpy(np.fromfile(os.path.join(a.inputs, "real_A.f32"), "<f4").reshape(shape))
    B = torch.from_numpy(np.fromfile(os.path.join(a.inputs, "real_B.f32"), "<f4").reshape(shape))
    mse, bce, l1 = nn.MSELoss(), nn.BCEWithLogitsLoss(), nn.L1Loss()

    if a.row == "cyclegan":
        G_A, G_B, D_A, D_B = (nets[k].train() for k in ("G_A", "G_B", "D_A", "D_B"))
        opt_G = torch.optim.Adam(itertools.chain(G_A.parameters(), G_B.parameters()), lr=LR, betas=BETAS)
        opt_D = torch.optim.Adam(itertools.chain(D_A.parameters(), D_B.parameters()), lr=LR, betas=BETAS)
        pool_A, pool_B = ImagePool(50, random.Random(0)), ImagePool(50, random.Random(1))
        Ds = list(D_A.parameters()) + list(D_B.parameters())

        def gan(pred, real):
            return mse(pred, torch.full_like(pred, 1.0 if real else 0.0))

        def step():
            fake_B = G_A(A)
            rec_A = G_B(fake_B)
            fake_A = G_B(B)
            rec_B = G_A(fake_A)
            for p in Ds:
                p.requires_grad_(False)
            opt_G.zero_grad()
            loss_G = (l1(G_A(B), B) * 5.0 + l1(G_B(A), A) * 5.0 + gan(D_A(fake_B), True) + gan(D_B(fake_A), True) +
                      l1(rec_A, A) * 10.0 + l1(rec_B, B) * 10.0)
            loss_G.backward()
            opt_G.step()
            for p in Ds:
                p.requires_grad_(True)
            opt_D.zero_grad()
            out = [float(loss_G)]
            for D, real, fake, pool in ((D_A, B, fake_B, pool_B), (D_B, A, fake_A, pool_A)):
                loss = (gan(D(real), True) + gan(D(pool.query(fake)), False)) * 0.5
                loss.backward()
                out.append(float(loss))
            opt_D.step()
            return out
    elif a.row == "pix2pix":
        G, D = nets["G"].train(), nets["D"].train()
        opt_G = torch.optim.Adam(G.parameters(), lr=LR, betas=BETAS)
        opt_D = torch.optim.Adam(D.parameters(), lr=LR, betas=BETAS)
        torch.manual_seed(1)  # the dropout masks

        def gan(pred, real):
            return bce(pred, torch.full_like(pred, 1.0 if real else 0.0))

        def step():
            fake_B = G(A)
            for p in D.parameters():
                p.requires_grad_(True)
            opt_D.zero_grad()
            loss_D = (gan(D(torch.cat((A, fake_B), 1).detach()), False) + gan(D(torch.cat((A, B), 1)), True)) * 0.5
            loss_D.backward()
            opt_D.step()
            for p in D.parameters():
                p.requires_grad_(False)
            opt_G.zero_grad()
            loss_G = gan(D(torch.cat((A, fake_B), 1)), True) + l1(fake_B, B) * 100.0
            loss_G.backward()
            opt_G.step()
            return [float(loss_G), float(loss_D)]
    else:
        G = nets["G"].eval()

        def step():
            with torch.no_grad():
                return [float(G(A).abs().mean())]

    times, losses = [], []
    for r in range(-a.warmup, a.runs):
        t0 = time.perf_counter()
        lo = step()
        t = time.perf_counter() - t0
        losses.append(lo)
        if r >= 0:
            times.append(t)
    params = sum(p.numel() for n in nets.values() for p in n.parameters())
    print(json.dumps({"impl": "torch", "version": torch.__version__, "row": a.row, "size": a.size,
                      "threads": a.threads, "params": params, "times": times, "losses": losses}))


# ---- the parent ---------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="128,256", help="square image sides, comma-separated")
    ap.add_argument("--rows", default=",".join(ROWS), help="any of " + ", ".join(ROWS))
    ap.add_argument("--driver", help="impasto's driver (not built yet); without it only PyTorch runs")
    add_run_args(ap, runs=3, what="measurement (steps or forward passes)", budget=False)
    ap.add_argument("--child", choices=["torch", "weights"], help=argparse.SUPPRESS)
    for k in ("row", "inputs"):
        ap.add_argument("--" + k, help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--weights", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        (torch_child if a.child == "torch" else weights_child)(a)
        return
    try:
        sizes = [int(s) for s in a.sizes.split(",")]
    except ValueError:
        ap.error("--sizes: integers, comma-separated")
    rows = a.rows.split(",")
    if (set(rows) - set(ROWS) or any(s < 32 or s % 4 for s in sizes) or a.runs < 1 or a.warmup < 0
            or a.threads < 1):
        ap.error("bad --rows/--sizes (multiples of 4, >= 32)/--runs/--warmup/--threads")
    if "pix2pix" in rows and any(s % 256 and s % 128 for s in sizes):
        ap.error("pix2pix: --sizes must be multiples of 128 (unet_128) or 256 (unet_256)")
    impls = ["torch"]
    if a.driver:
        if not os.access(a.driver, os.X_OK):
            sys.exit("gan_bench: %s not found or not executable" % a.driver)
        impls.insert(0, "impasto")

    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(a.threads)
    env["OPENBLAS_NUM_THREADS"] = str(a.threads)
    meta = {"cpu": cpu_name(), "nproc": os.cpu_count(), "threads": a.threads, "sizes": sizes, "rows": rows,
            "runs": a.runs, "warmup": a.warmup, "batch": 1, "torch": torch_info(),
            "loadavg_start": "%.2f %.2f %.2f" % os.getloadavg(), "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    workdir = tempfile.mkdtemp(prefix="impasto-ganbench-")
    res = []
    try:
        for size in sizes:
            for row in [r for r in ROWS if r in rows]:
                d = prepare(workdir, row, size, bool(a.driver))
                for impl in impls:
                    print("running %s %d %s..." % (row, size, impl), file=sys.stderr, flush=True)
                    common = ["--row", row, "--size", str(size), "--runs", str(a.runs), "--warmup", str(a.warmup),
                              "--threads", str(a.threads)]
                    if impl == "impasto":
                        cmd = [a.driver] + common + ["--weights", d, "--inputs", d]
                    else:
                        cmd = [sys.executable, os.path.abspath(__file__), "--child", "torch", "--inputs", d] + common
                        if a.driver:
                            cmd.append("--weights")
                    r, rss = run_child(cmd, env)
                    r.update({"impl": impl, "row": row, "size": size, "median_s": statistics.median(r["times"]),
                              "min_s": min(r["times"]), "peak_rss_kib": rss})
                    res.append(r)
                shutil.rmtree(d, ignore_errors=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    meta["loadavg_end"] = "%.2f %.2f %.2f" % os.getloadavg()
    ratios = {}
    for r in res:
        if r["impl"] == "impasto":
            t = [q for q in res if q["impl"] == "torch" and q["row"] == r["row"] and q["size"] == r["size"]][0]
            key = "%s-%d" % (r["row"], r["size"])
            first_i, first_t = r["losses"][0], t["losses"][0]  # step 1 on both sides, warm-up or not
            ratios[key] = {"ratio": r["median_s"] / t["median_s"],
                           "first_losses_rel_diff": [abs(x - y) / max(abs(y), 1e-30) for x, y in zip(first_i, first_t)]}
    summary = {"meta": meta, "results": res, "ratios": ratios}
    if a.json == "-":
        json.dump(summary, sys.stdout, indent=1)
        print()
        return
    tv = meta["torch"]
    print("impasto GAN bench: batch 1; cpu %s, %d threads; PyTorch %s; %d warm-up + %d timed runs each"
          % (meta["cpu"], a.threads, tv["version"] if tv else "-", a.warmup, a.runs))
    print("  load average %s at start, %s at end" % (meta["loadavg_start"], meta["loadavg_end"]))
    print()
    print("%-9s %5s %-8s %9s %9s %9s  %-22s %s" % ("row", "size", "impl", "median s", "min s", "peak RSS",
                                                   "network", "run times"))
    for r in res:
        net = {"cyclegan": "resnet_9blocks+basic D", "forward": "resnet_9blocks",
               "pix2pix": "unet_%d+basic D" % (128 if r["size"] % 256 else 256)}[r["row"]]
        print("%-9s %5d %-8s %9.3f %9.3f %9s  %-22s %s" % (r["row"], r["size"], r["impl"], r["median_s"], r["min_s"],
                                                           fmt_mib(r["peak_rss_kib"]), net,
                                                           " ".join("%.2f" % t for t in r["times"])))
    for key, v in ratios.items():
        print("%s: impasto / PyTorch %.2f; first step's losses relative difference %s"
              % (key, v["ratio"], ", ".join("%.1e" % x for x in v["first_losses_rel_diff"])))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(summary, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
