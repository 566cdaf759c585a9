#!/usr/bin/python3
"""Times one Gatys iteration (and a VGG-19 forward pass) in impasto and in PyTorch, same run.

One iteration is what neural-style's optimiser pays per evaluation: VGG-19 forward to relu5_1,
content loss at relu4_2, Gram style losses at relu1_1..relu5_1, backward to the image, total
variation. Both sides get identical float32 tensors written here (content, style, starting
image), load the same weights (models/vgg19.safetensors) and compute their targets untimed.
Each (implementation, size, row) runs in its own child process so its peak RSS is its own.

  /usr/bin/python3 bench/gatys_bench.py --driver build/bench/bench_gatys \
      --model models/vgg19.safetensors [--sizes 256,512] [--runs 5] [--json [FILE]] \
      [--layer-sizes 256,512,1024]

--layer-sizes adds a table per size of each convolution to conv5_1 on its own, forward (conv +
ReLU) and backward-data (ReLU backward + input gradient), impasto against PyTorch.

See bench/README.md for what is measured and how FLOPs are counted.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from safetensors_np import read_safetensors  # noqa: E402

# Caffe's ImageNet mean (RGB), as neural-style subtracts it.
MEAN_RGB = (123.68, 116.779, 103.939)
CONTENT_WEIGHT, STYLE_WEIGHT, TV_WEIGHT = 5.0, 100.0, 1e-3
CONTENT_LAYER = "relu4_2"
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
LAST_LAYER = "relu5_1"
MIN_RUNS = 3  # timed runs made even when --budget is used up (as bench_gatys.c)

# VGG-19 up to relu5_1: (name, in channels, out channels) for a 3x3 pad-1 convolution followed
# by its ReLU, or a 2x2 stride-2 ceil-mode max pool as None.
VGG19_TO_RELU5_1 = [
    ("1_1", 3, 64), ("1_2", 64, 64), None,
    ("2_1", 64, 128), ("2_2", 128, 128), None,
    ("3_1", 128, 256), ("3_2", 256, 256), ("3_3", 256, 256), ("3_4", 256, 256), None,
    ("4_1", 256, 512), ("4_2", 512, 512), ("4_3", 512, 512), ("4_4", 512, 512), None,
    ("5_1", 512, 512),
]

DEFAULT_CONTENT = "images/content/tubingen.jpg"
DEFAULT_STYLE = "images/style/starry_night.jpg"


def conv_flops(h, w):
    """Direct-convolution FLOPs of one forward pass to relu5_1: 2*OC*IC*9*OH*OW per conv."""
    total = 0
    for layer in VGG19_TO_RELU5_1:
        if layer is None:
            h, w = -(-h // 2), -(-w // 2)
        else:
            _, ic, oc = layer
            total += 2 * oc * ic * 9 * h * w
    return total


# ---- inputs -------------------------------------------------------------------------------

def load_image(path, size):
    """RGB image centre-cropped to a square, resized to size x size, Caffe-preprocessed:
    float32 (3, size, size). None if Pillow or the file is missing."""
    try:
        from PIL import Image
        im = Image.open(path).convert("RGB")
    except (ImportError, OSError):
        return None
    w, h = im.size
    s = min(w, h)
    im = im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
    im = im.resize((size, size), Image.BICUBIC)
    a = np.asarray(im, dtype=np.float32) - np.array(MEAN_RGB, dtype=np.float32)
    return np.ascontiguousarray(a.transpose(2, 0, 1))


def synthetic_image(size, seed):
    """A deterministic stand-in when the shared images are absent: smooth colour waves plus
    noise, on the Caffe scale. float32 (3, size, size)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    chans = []
    for c in range(3):
        f = rng.uniform(2, 9, size=2)
        chans.append(100 * np.sin(2 * np.pi * (f[0] * xx + f[1] * yy) + c))
    a = np.stack(chans) + rng.normal(0, 20, size=(3, size, size))
    return a.astype(np.float32)


def prepare_inputs(workdir, size, shared):
    """Writes content, style and the starting image (x = content + noise, so the content loss
    is not zero) as raw float32 (3, size, size). Returns (paths, description)."""
    content = load_image(os.path.join(shared, DEFAULT_CONTENT), size)
    style = load_image(os.path.join(shared, DEFAULT_STYLE), size)
    desc = "tubingen.jpg / starry_night.jpg"
    if content is None or style is None:
        content, style = synthetic_image(size, 1), synthetic_image(size, 2)
        desc = "synthetic (shared images not found)"
    init = content + np.random.default_rng(0).normal(0, 8, size=content.shape).astype(np.float32)
    paths = {}
    for name, arr in (("content", content), ("style", style), ("init", init)):
        paths[name] = os.path.join(workdir, "%s_%d.f32" % (name, size))
        arr.astype("<f4").tofile(paths[name])
    return paths, desc


# ---- the PyTorch side (runs in a child process) ---------------------------------------------

def torch_child(a):
    import torch
    import torch.nn as nn
    torch.set_num_threads(a.threads)
    names = []
    for layer in VGG19_TO_RELU5_1:
        if layer:
            names += ["conv%s.weight" % layer[0], "conv%s.bias" % layer[0]]
    wts, _ = read_safetensors(a.model, names)
    layers = []  # (output name, module)
    for layer in VGG19_TO_RELU5_1:
        if layer is None:
            layers.append(("pool", nn.MaxPool2d(2, 2, ceil_mode=True)))
            continue
        tag, ic, oc = layer
        conv = nn.Conv2d(ic, oc, 3, padding=1)
        with torch.no_grad():
            conv.weight.copy_(torch.from_numpy(wts["conv%s.weight" % tag].copy()))
            conv.bias.copy_(torch.from_numpy(wts["conv%s.bias" % tag].copy()))
        conv.weight.requires_grad_(False)
        conv.bias.requires_grad_(False)
        layers += [("conv" + tag, conv), ("relu" + tag, nn.ReLU(inplace=False))]

    def features(x, wanted):
        out = {}
        for name, mod in layers:
            x = mod(x)
            if name in wanted:
                out[name] = x
        return out

    def gram(f):
        _, c, h, w = f.shape
        m = f.reshape(c, h * w)
        return m @ m.t() / (c * h * w)

    def load(path):
        return torch.from_numpy(np.fromfile(path, dtype="<f4").reshape(1, 3, a.h, a.w))

    def out_of_budget(times):
        return a.budget > 0 and len(times) >= MIN_RUNS and sum(times) > a.budget

    x = load(a.init)
    times = []
    result = {"impl": "torch", "mode": a.mode, "h": a.h, "w": a.w, "threads": a.threads}
    if a.mode == "layers":
        result["layers"] = torch_layers(a, layers, x, out_of_budget)
        print(json.dumps(result))
        return
    if a.mode == "gatys":
        with torch.no_grad():
            content_t = features(load(a.content), {CONTENT_LAYER})[CONTENT_LAYER].clone()
            fs = features(load(a.style), set(STYLE_LAYERS))
            style_t = {k: gram(v) for k, v in fs.items()}
        x.requires_grad_(True)
        wanted = set(STYLE_LAYERS) | {CONTENT_LAYER}
        for r in range(-a.warmup, a.runs):
            if out_of_budget(times):
                break
            x.grad = None
            t0 = time.perf_counter()
            fs = features(x, wanted)
            lc = CONTENT_WEIGHT * torch.mean((fs[CONTENT_LAYER] - content_t) ** 2)
            ls = sum(STYLE_WEIGHT * torch.mean((gram(fs[k]) - style_t[k]) ** 2) for k in STYLE_LAYERS)
            dx = x[:, :, :-1, :-1] - x[:, :, :-1, 1:]
            dy = x[:, :, :-1, :-1] - x[:, :, 1:, :-1]
            lt = TV_WEIGHT / 2 * (dx.pow(2).sum() + dy.pow(2).sum())
            loss = lc + ls + lt
            loss.backward()
            t = time.perf_counter() - t0
            if r >= 0:
                times.append(t)
        result.update(loss=loss.item(), content=lc.item(), style=ls.item(), tv=lt.item())
        out = x.grad
    else:
        with torch.no_grad():
            for r in range(-a.warmup, a.runs):
                if out_of_budget(times):
                    break
                t0 = time.perf_counter()
                out = features(x, {LAST_LAYER})[LAST_LAYER]
                t = time.perf_counter() - t0
                if r >= 0:
                    times.append(t)
    if a.out:
        out.detach().numpy().astype("<f4").tofile(a.out)
    result["times"] = times
    print(json.dumps(result))


def torch_layers(a, layers, x, out_of_budget):
    """Each convolution on its own, on the activations of a forward pass of x: forward (conv +
    ReLU, no_grad) and backward-data (autograd.grad of the ReLU output to the conv input, the
    graph kept so only the backward runs), as bench_gatys --mode layers times impasto's."""
    import torch
    gen = torch.Generator().manual_seed(12345)
    res = []
    with torch.no_grad():
        inputs = {}
        for name, mod in layers:
            if name.startswith("conv"):
                inputs[name] = x
            x = mod(x)
    mods = dict(layers)
    for name, mod in layers:
        if not name.startswith("conv"):
            continue
        relu = mods["relu" + name[4:]]
        xin = inputs[name]
        entry = {"name": name}
        with torch.no_grad():
            t = []
            for r in range(-a.warmup, a.runs):
                if out_of_budget(t):
                    break
                t0 = time.perf_counter()
                relu(mod(xin))
                if r >= 0:
                    t.append(time.perf_counter() - t0)
        entry["fwd_times"] = t
        xg = xin.detach().requires_grad_(True)
        y = relu(mod(xg))
        dy = torch.rand(y.shape, generator=gen) - 0.5
        t = []
        for r in range(-a.warmup, a.runs):
            if out_of_budget(t):
                break
            t0 = time.perf_counter()
            torch.autograd.grad(y, xg, dy, retain_graph=True)
            if r >= 0:
                t.append(time.perf_counter() - t0)
        entry["bwd_times"] = t
        res.append(entry)
    return res


# ---- the parent: run children, compare, report ----------------------------------------------

def run_layers(a, size, paths, impls, env):
    """The per-layer measurement at one size: both sides' children in layers mode, merged."""
    budget = str(a.budget / 13 if a.budget else 0)
    out = {"size": size, "h": size, "w": size, "layers": []}
    res = {}
    for impl in impls:
        if impl == "impasto":
            cmd = [a.driver, "--model", a.model, "--mode", "layers", "--height", str(size), "--width", str(size),
                   "--init", paths["init"], "--runs", str(a.runs), "--warmup", str(a.warmup),
                   "--threads", str(a.threads), "--budget", budget]
        else:
            cmd = [sys.executable, os.path.abspath(__file__), "--child", "torch", "--model", a.model,
                   "--mode", "layers", "--h", str(size), "--w", str(size), "--init", paths["init"],
                   "--runs", str(a.runs), "--warmup", str(a.warmup), "--threads", str(a.threads),
                   "--budget", budget]
        print("running %s layers %d..." % (impl, size), file=sys.stderr, flush=True)
        res[impl], _ = run_child(cmd, env)
    names = [l["name"] for l in res[impls[0]]["layers"]]
    h = w = size
    shapes = {}
    for layer in VGG19_TO_RELU5_1:
        if layer is None:
            h, w = -(-h // 2), -(-w // 2)
        else:
            shapes["conv" + layer[0]] = (layer[1], layer[2], h, w)
    for name in names:
        c, oc, lh, lw = shapes[name]
        L = {"name": name, "c": c, "oc": oc, "h": lh, "w": lw, "gflop": layer_flops(c, oc, lh, lw) / 1e9}
        for impl in impls:
            e = next(x for x in res[impl]["layers"] if x["name"] == name)
            for k in ("fwd", "bwd"):
                L["%s_%s_ms" % (impl, k)] = 1e3 * statistics.median(e[k + "_times"])
                L["%s_%s_times" % (impl, k)] = e[k + "_times"]
            if impl == "impasto":
                L["algo"] = e["algo"]
                for k in ("fwd_rel_l2", "bwd_rel_l2", "fwd_im2col_s", "bwd_im2col_s", "fwd_kept", "bwd_kept"):
                    L[k] = e[k]
        out["layers"].append(L)
    return out


def run_child(cmd, env):
    """Runs one child (of this or another bench script); returns (its last JSON line as a dict, its
    peak RSS in KiB from wait4, so each side's is its own); exits naming the script on failure."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env)
    out = p.stdout.read()
    p.stdout.close()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit("%s: %s exited with %d" % (os.path.basename(sys.argv[0]), " ".join(cmd), p.returncode))
    lines = [l for l in out.decode().splitlines() if l.startswith("{")]
    if not lines:
        sys.exit("%s: no result from %s" % (os.path.basename(sys.argv[0]), " ".join(cmd)))
    return json.loads(lines[-1]), ru.ru_maxrss


def rel_err(a, b):
    a = np.fromfile(a, dtype="<f4").astype(np.float64)
    b = np.fromfile(b, dtype="<f4").astype(np.float64)
    if a.shape != b.shape:
        return float("nan")
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def summarise(res, rss, flop):
    t = res["times"]
    med = statistics.median(t)
    d = {"times": t, "median_s": med, "min_s": min(t), "gflop_per_s": flop / med / 1e9,
         "peak_rss_kib": rss}
    for k in ("plan_bytes", "loss", "content", "style", "tv"):
        if k in res:
            d[k] = res[k]
    return d


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def torch_info():
    try:
        out = subprocess.run([sys.executable, "-c",
                              "import torch; print(torch.__version__, torch.backends.mkldnn.is_available())"],
                             capture_output=True, text=True, timeout=120).stdout.split()
        return {"version": out[0], "mkldnn": out[1] == "True"}
    except (OSError, IndexError, subprocess.SubprocessError):
        return None


def fmt_mib(kib):
    return "%.0f MiB" % (kib / 1024)


def print_table(meta, rows):
    core = meta["openblas_coretype"] or "(unset)"
    print("impasto bench: one Gatys iteration and a VGG-19 forward pass, impasto vs PyTorch")
    print("  cpu %s, %d threads, OPENBLAS_CORETYPE=%s, load average %s at start, %s at end"
          % (meta["cpu"], meta["threads"], core, meta["loadavg_start"], meta["loadavg_end"]))
    tv = meta["torch"]
    print("  PyTorch %s (oneDNN %s); %d warm-up + %d timed runs each%s; inputs %s"
          % (tv["version"] if tv else "?", "on" if tv and tv["mkldnn"] else "off",
             meta["warmup"], meta["runs"],
             " (at least %d, up to %gs)" % (MIN_RUNS, meta["budget_s"]) if meta["budget_s"] else "",
             meta["inputs"]))
    if meta["omp_wait_policy"]:
        print("  OMP_WAIT_POLICY=%s" % meta["omp_wait_policy"])
    print()
    hdr = ("%-8s %-9s %6s | %8s %8s %7s %8s %8s | %8s %8s %7s %8s | %6s"
           % ("row", "size", "GFLOP", "median s", "min s", "GFLOP/s", "peak RSS", "plan",
              "median s", "min s", "GFLOP/s", "peak RSS", "ratio"))
    print("%-26s | %-52s | %-37s |" % ("", "impasto", "PyTorch"))
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        i, t = r.get("impasto"), r.get("torch")
        cells = ["%-8s %-9s %6.1f" % (r["row"], "%dx%d" % (r["h"], r["w"]), r["gflop"])]
        if i:
            cells.append("%8.3f %8.3f %7.1f %8s %8s" % (i["median_s"], i["min_s"], i["gflop_per_s"],
                                                       fmt_mib(i["peak_rss_kib"]),
                                                       "%.0f MiB" % (i["plan_bytes"] / 2**20)))
        else:
            cells.append("%52s" % "-")
        if t:
            cells.append("%8.3f %8.3f %7.1f %8s" % (t["median_s"], t["min_s"], t["gflop_per_s"],
                                                    fmt_mib(t["peak_rss_kib"])))
        else:
            cells.append("%37s" % "-")
        cells.append("%6.2f" % r["ratio"] if r.get("ratio") else "%6s" % "-")
        print(" | ".join(cells))
    print()
    print("ratio = impasto median / PyTorch median (< 1: impasto is faster). GFLOP counts the direct")
    print("convolutions only (2*OC*IC*9*OH*OW per conv to relu5_1; gatys adds the same again for the")
    print("backward-data pass, no weight gradients). peak RSS is each child process's own (PyTorch's")
    print("includes the interpreter and libtorch); plan = vgg19_plan_bytes.")
    c = meta.get("gemm_ceiling")
    if c:
        print("fp32 GEMM ceiling measured here (2048^3 on %d threads, bench_gemm ceiling): OpenBLAS %.0f GFLOP/s,"
              % (c["threads"], c["openblas_gflops"]))
        print("  impasto's %s kernel %.0f GFLOP/s." % (c["auto_path"], c["auto_gflops"]))
    checks = [r for r in rows if "check" in r]
    if checks:
        print("agreement impasto vs PyTorch (relative L2 of the gradient / relu5_1 features; loss):")
        for r in checks:
            c = r["check"]
            s = "  %-8s %-9s output %.2e" % (r["row"], "%dx%d" % (r["h"], r["w"]), c["output_rel_err"])
            if "loss_rel_diff" in c:
                s += ", loss %.2e (impasto %.6g, PyTorch %.6g)" % (
                    c["loss_rel_diff"], r["impasto"]["loss"], r["torch"]["loss"])
            print(s)
    sys.stdout.flush()


def layer_flops(c, oc, h, w):
    """Direct-convolution FLOPs of one 3x3 layer (the same for its backward-data)."""
    return 2 * oc * c * 9 * h * w


def print_layers(meta, lrows):
    """One table per size: each convolution's forward and backward-data, both sides."""
    for lr in lrows:
        print()
        print("per layer at %dx%d (median ms; GFLOP/s as direct convolution, 2*OC*IC*9*H*W; ratio = impasto / PyTorch;"
              % (lr["h"], lr["w"]))
        print("  algo: impasto's, forward/backward-data; err = impasto's relative L2 against its own im2col + GEMM")
        hdr = ("%-8s %-15s %-11s %6s | %8s %7s %8s %7s %6s %8s | %8s %7s %8s %7s %6s %8s"
               % ("layer", "C->OC HxW", "algo", "GFLOP", "fwd ms", "GF/s", "torch ms", "GF/s", "ratio", "err",
                  "bwd ms", "GF/s", "torch ms", "GF/s", "ratio", "err"))
        print(hdr)
        print("-" * len(hdr))
        tot = {"fwd": [0, 0], "bwd": [0, 0], "flop": 0}
        for L in lr["layers"]:
            cells = ["%-8s %-15s %-11s %6.2f" % (L["name"], "%d->%d %dx%d" % (L["c"], L["oc"], L["h"], L["w"]),
                                                 L.get("algo", "-"), L["gflop"])]
            tot["flop"] += L["gflop"]
            for k in ("fwd", "bwd"):
                i, t = L.get("impasto_" + k + "_ms"), L.get("torch_" + k + "_ms")
                if i is not None:
                    tot[k][0] += i
                if t is not None:
                    tot[k][1] += t
                cells.append("%8s %7s %8s %7s %6s %8s" % (
                    "%.2f" % i if i is not None else "-", "%.0f" % (L["gflop"] / i * 1e3) if i else "-",
                    "%.2f" % t if t is not None else "-", "%.0f" % (L["gflop"] / t * 1e3) if t else "-",
                    "%.2f" % (i / t) if i and t else "-", "%.1e" % L[k + "_rel_l2"] if k + "_rel_l2" in L else "-"))
            print(" | ".join(cells))
        cells = ["%-8s %-15s %-11s %6.2f" % ("sum", "", "", tot["flop"])]
        for k in ("fwd", "bwd"):
            i, t = tot[k]
            cells.append("%8.1f %7.0f %8s %7s %6s %8s" % (i, tot["flop"] / i * 1e3 if i else 0,
                                                         "%.1f" % t if t else "-",
                                                         "%.0f" % (tot["flop"] / t * 1e3) if t else "-",
                                                         "%.2f" % (i / t) if i and t else "-", ""))
        print(" | ".join(cells))
    sys.stdout.flush()


def print_scaling(rows):
    """How each side's time grows with the number of pixels, row by row between successive sizes."""
    lines = []
    for mode in ("gatys", "forward"):
        rs = sorted((r for r in rows if r["row"] == mode), key=lambda r: r["h"] * r["w"])
        for a, b in zip(rs, rs[1:]):
            px = b["h"] * b["w"] / (a["h"] * a["w"])
            parts = []
            for impl in ("impasto", "torch"):
                if impl in a and impl in b:
                    parts.append("%s x%.2f" % (impl, b[impl]["median_s"] / a[impl]["median_s"]))
            if parts:
                lines.append("  %-8s %d -> %d px: pixels x%.1f, time %s" % (mode, a["h"], b["h"], px, ", ".join(parts)))
    if lines:
        print("time growth with pixels (median over median):")
        print("\n".join(lines))


def gemm_ceiling(path, threads):
    """The machine's fp32 GEMM ceiling (bench_gemm.c's `ceiling` mode), or None without the tool."""
    if not os.access(path, os.X_OK):
        return None
    try:
        out = subprocess.run([path, "ceiling", str(threads)], capture_output=True, text=True, timeout=120)
        return json.loads(out.stdout)
    except (OSError, ValueError, subprocess.SubprocessError):
        return None



def add_run_args(ap, runs=5, what="measurement", budget=True):
    """The options every bench script shares: timed and untimed runs, the time budget, threads, JSON."""
    ap.add_argument("--runs", type=int, default=runs, help="timed runs per " + what)
    ap.add_argument("--warmup", type=int, default=1, help="untimed runs before them")
    if budget:
        ap.add_argument("--budget", type=float, default=20,
                        help="stop a measurement early once its timed runs (at least 3) add up to this "
                             "many seconds; 0 = always make --runs")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", nargs="?", const="-", metavar="FILE",
                    help="also write a JSON summary to FILE (to stdout, instead of the table, if no FILE)")

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--driver", default="build/bench/bench_gatys", help="the C driver (make builds it)")
    ap.add_argument("--model", default="models/vgg19.safetensors", help="converted VGG-19 weights")
    ap.add_argument("--shared", default=os.environ.get("IMPASTO_SHARED", "../shared"),
                    help="the shared folder with images/ (else a synthetic input is used)")
    ap.add_argument("--sizes", default="256,512", help="square image sides, comma-separated")
    add_run_args(ap)
    ap.add_argument("--rows", default="gatys,forward", help="gatys and/or forward")
    ap.add_argument("--impl", default="impasto,torch", help="impasto and/or torch")
    ap.add_argument("--layer-sizes", default="",
                    help="also time each convolution on its own at these sizes (e.g. 256,512,1024)")
    # Internal: how the parent starts the PyTorch child.
    ap.add_argument("--child", choices=["torch"], help=argparse.SUPPRESS)
    for k in ("mode", "init", "content", "style", "out"):
        ap.add_argument("--" + k, help=argparse.SUPPRESS)
    ap.add_argument("--h", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--w", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.child:
        torch_child(a)
        return
    sizes = [int(s) for s in a.sizes.split(",") if s]
    layer_sizes = [int(s) for s in a.layer_sizes.split(",") if s]
    rows_wanted = [r for r in a.rows.split(",") if r]
    impls = [i for i in a.impl.split(",") if i]
    if (not sizes or min(sizes) < 16 or a.runs < 1 or a.warmup < 0 or a.threads < 1 or a.budget < 0
            or set(rows_wanted) - {"gatys", "forward"} or set(impls) - {"impasto", "torch"}
            or (layer_sizes and min(layer_sizes) < 16)):
        ap.error("bad --sizes/--runs/--warmup/--threads/--rows/--impl")
    if not os.path.exists(a.model):
        sys.exit("gatys_bench: %s not found (make models)" % a.model)
    if "impasto" in impls and not os.access(a.driver, os.X_OK):
        sys.exit("gatys_bench: %s not found (make)" % a.driver)

    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(a.threads)
    env["OPENBLAS_NUM_THREADS"] = str(a.threads)
    meta = {"cpu": cpu_name(), "nproc": os.cpu_count(), "threads": a.threads,
            "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""),
            "runs": a.runs, "warmup": a.warmup, "budget_s": a.budget, "sizes": sizes,
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
            "loadavg_start": "%.2f" % os.getloadavg()[0],
            "torch": torch_info() if "torch" in impls else None,
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    rows, lrows = [], []
    workdir = tempfile.mkdtemp(prefix="impasto-bench-")
    try:
        for size in sizes:
            paths, meta["inputs"] = prepare_inputs(workdir, size, a.shared)
            for mode in rows_wanted:
                fwd = conv_flops(size, size)
                flop = 2 * fwd if mode == "gatys" else fwd
                row = {"row": mode, "size": size, "h": size, "w": size, "gflop": flop / 1e9}
                outs = {}
                for impl in impls:
                    outs[impl] = os.path.join(workdir, "%s_%s_%d.f32" % (impl, mode, size))
                    if impl == "impasto":
                        cmd = [a.driver, "--model", a.model, "--mode", mode, "--height", str(size),
                               "--width", str(size), "--init", paths["init"], "--runs", str(a.runs),
                               "--warmup", str(a.warmup), "--threads", str(a.threads), "--out", outs[impl],
                               "--budget", str(a.budget)]
                    else:
                        cmd = [sys.executable, os.path.abspath(__file__), "--child", "torch",
                               "--model", a.model, "--mode", mode, "--h", str(size), "--w", str(size),
                               "--init", paths["init"], "--runs", str(a.runs), "--warmup", str(a.warmup),
                               "--threads", str(a.threads), "--out", outs[impl], "--budget", str(a.budget)]
                    if mode == "gatys":
                        cmd += ["--content", paths["content"], "--style", paths["style"]]
                    print("running %s %s %d..." % (impl, mode, size), file=sys.stderr, flush=True)
                    res, rss = run_child(cmd, env)
                    row[impl] = summarise(res, rss, flop)
                if "impasto" in row and "torch" in row:
                    row["ratio"] = row["impasto"]["median_s"] / row["torch"]["median_s"]
                    row["check"] = {"output_rel_err": rel_err(outs["impasto"], outs["torch"])}
                    if mode == "gatys":
                        li, lt = row["impasto"]["loss"], row["torch"]["loss"]
                        row["check"]["loss_rel_diff"] = abs(li - lt) / max(abs(lt), 1e-30)
                rows.append(row)
        for size in layer_sizes:
            paths, meta["inputs"] = prepare_inputs(workdir, size, a.shared)
            lrows.append(run_layers(a, size, paths, impls, env))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    meta["loadavg_end"] = "%.2f" % os.getloadavg()[0]
    meta["gemm_ceiling"] = gemm_ceiling(os.path.join(os.path.dirname(a.driver), "bench_gemm"), a.threads)

    summary = {"meta": meta, "rows": rows, "layers": lrows}
    if a.json == "-":
        json.dump(summary, sys.stdout, indent=1)
        print()
        return
    print_table(meta, rows)
    print_scaling(rows)
    print_layers(meta, lrows)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(summary, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
