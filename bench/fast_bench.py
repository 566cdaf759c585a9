#!/usr/bin/python3
"""Times one fast style network forward pass (Johnson et al. 2016's TransformerNet, the PyTorch
examples' network) in impasto, PyTorch and onnxruntime, same run, same input, same weights.

impasto runs through bench/bench_fast (linked against libimpasto.a), PyTorch through the network
tools/gen_golden_fast.py builds (torch.set_num_threads(--threads), no_grad), onnxruntime through
onnxruntime-node (bench/bench_fast_ort.js) on the same network exported to ONNX by
tools/export_transformernet_onnx.py. Each (implementation, size) runs in its own child process so
its peak RSS (wait4) is its own.

  /usr/bin/python3 bench/fast_bench.py --driver build/bench/bench_fast \
      --model models/candy.safetensors --onnx build/bench/candy.onnx [--sizes 256,512,1024] [--json [FILE]]

See bench/README.md for what is measured and how FLOPs are counted.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gatys_bench import add_run_args, cpu_name, fmt_mib, rel_err, run_child, torch_info  # noqa: E402

MIN_RUNS = 3  # timed runs made even when --budget is used up (as bench_fast.c)
DEFAULT_CONTENT = "images/content/tubingen.jpg"
IMPLS = ("impasto", "torch", "onnxruntime")

# TransformerNet's convolutions: (in channels, out channels, kernel, stride, upsample before).
TNET_CONVS = ([(3, 32, 9, 1, 1), (32, 64, 3, 2, 1), (64, 128, 3, 2, 1)] + [(128, 128, 3, 1, 1)] * 10 +
              [(128, 64, 3, 1, 2), (64, 32, 3, 1, 2), (32, 3, 9, 1, 1)])


def conv_flops(h, w):
    """Direct-convolution FLOPs of one forward pass: 2*OC*IC*K*K*OH*OW per convolution (reflection
    padding k/2; stride 2 gives ceil(n/2); the upsamplings double)."""
    total = 0
    for ic, oc, k, s, up in TNET_CONVS:
        h, w = h * up, w * up
        h, w = (h - 1) // s + 1, (w - 1) // s + 1
        total += 2 * oc * ic * k * k * h * w
    return total


def prepare_input(workdir, size, shared):
    """tubingen.jpg centre-cropped and resized (bicubic) to size x size, RGB 0..255, as raw float32
    (3, size, size); a deterministic synthetic picture without Pillow or the shared images."""
    path = os.path.join(workdir, "input_%d.f32" % size)
    try:
        from PIL import Image
        im = Image.open(os.path.join(shared, DEFAULT_CONTENT)).convert("RGB")
        w, h = im.size
        s = min(w, h)
        im = im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
        im = im.resize((size, size), Image.BICUBIC)
        a = np.asarray(im, dtype=np.float32).transpose(2, 0, 1)
        desc = "tubingen.jpg"
    except (ImportError, OSError):
        rng = np.random.default_rng(0)
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
        a = np.stack([127.5 + 100 * np.sin(2 * np.pi * ((c + 2) * xx + (5 - c) * yy)) for c in range(3)])
        a = np.clip(a + rng.normal(0, 10, size=a.shape), 0, 255)
        desc = "synthetic (shared images not found)"
    np.ascontiguousarray(a, dtype="<f4").tofile(path)
    return path, desc


# ---- the PyTorch side (runs in a child process) ---------------------------------------------

def torch_child(a):
    import torch
    sys.path.insert(0, os.path.join(HERE, "..", "tools"))
    from gen_golden_fast import TransformerNet, read_safetensors
    torch.set_num_threads(a.threads)
    weights, _ = read_safetensors(a.model)
    net = TransformerNet()
    net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=True)
    net.eval()
    x = torch.from_numpy(np.fromfile(a.input, dtype="<f4").reshape(1, 3, a.h, a.w))
    times, spent, y = [], 0.0, None
    with torch.no_grad():
        for r in range(-a.warmup, a.runs):
            t0 = time.perf_counter()
            y = net(x)
            t = time.perf_counter() - t0
            if r < 0:
                continue
            times.append(t)
            spent += t
            if a.budget > 0 and spent > a.budget and len(times) >= MIN_RUNS:
                break
    y.numpy().astype("<f4").tofile(a.out)
    print(json.dumps({"impl": "torch", "version": torch.__version__, "h": a.h, "w": a.w,
                      "threads": a.threads, "times": times}))


# ---- the parent: run children, compare, report ----------------------------------------------

def summarise(res, rss, flop):
    t = res["times"]
    med = statistics.median(t)
    d = {"times": t, "median_s": med, "min_s": min(t), "gflop_per_s": flop / med / 1e9, "peak_rss_kib": rss}
    for k in ("plan_bytes", "version"):
        if k in res:
            d[k] = res[k]
    return d


def child_cmd(a, impl, size, inp, out):
    common = ["--runs", str(a.runs), "--warmup", str(a.warmup), "--threads", str(a.threads),
              "--budget", str(a.budget), "--out", out]
    if impl == "impasto":
        return [a.driver, "--model", a.model, "--height", str(size), "--width", str(size), "--input", inp] + common
    if impl == "torch":
        return [sys.executable, os.path.abspath(__file__), "--child", "torch", "--model", a.model,
                "--h", str(size), "--w", str(size), "--input", inp] + common
    return [a.node, os.path.join(HERE, "bench_fast_ort.js"), "--onnx", a.onnx, "--node-modules", a.node_modules,
            "--height", str(size), "--width", str(size), "--input", inp] + common


def print_table(meta, rows, impls):
    print("impasto fast bench: one TransformerNet forward pass (%s), impasto vs PyTorch vs onnxruntime"
          % meta["model"])
    print("  cpu %s, %d threads, OPENBLAS_CORETYPE=%s, OPENBLAS_L2_SIZE=%s, load average %s at start, %s at end"
          % (meta["cpu"], meta["threads"], meta["openblas_coretype"] or "(unset)",
             meta["openblas_l2_size"] or "(unset)", meta["loadavg_start"], meta["loadavg_end"]))
    tv = meta["torch"]
    print("  PyTorch %s, onnxruntime-node %s; %d warm-up + %d timed runs each%s; input %s"
          % (tv["version"] if tv else "-", meta.get("onnxruntime") or "-", meta["warmup"], meta["runs"],
             " (at least %d, up to %gs)" % (MIN_RUNS, meta["budget_s"]) if meta["budget_s"] else "",
             meta["inputs"]))
    print()
    names = {"impasto": "impasto", "torch": "PyTorch", "onnxruntime": "onnxruntime"}
    head = "%-9s %6s" % ("size", "GFLOP")
    sub = "%-16s" % ""
    for impl in impls:
        head += " | %8s %8s %7s %8s" % ("median s", "min s", "GFLOP/s", "peak RSS")
        sub += " | %-35s" % names[impl]
    head += " | %8s %8s" % ("/ort", "/torch")
    sub += " | %-17s" % "impasto ratio"
    print(sub)
    print(head)
    print("-" * len(head))
    for r in rows:
        line = "%-9s %6.1f" % ("%dx%d" % (r["h"], r["w"]), r["gflop"])
        for impl in impls:
            s = r.get(impl)
            line += " | %8.3f %8.3f %7.1f %8s" % (s["median_s"], s["min_s"], s["gflop_per_s"],
                                                 fmt_mib(s["peak_rss_kib"]))
        for k in ("ratio_ort", "ratio_torch"):
            line += " | %8s" % ("%.2f" % r[k] if k in r else "-")
        print(line)
    print()
    print("ratio = impasto median / other median (< 1: impasto is faster). GFLOP counts the direct")
    print("convolutions only (2*OC*IC*K*K*OH*OW over the 16 convolutions). peak RSS is each child")
    print("process's own (PyTorch's includes the interpreter and libtorch, onnxruntime's node).")
    plans = ["%dx%d %.0f MiB" % (r["h"], r["w"], r["impasto"]["plan_bytes"] / 2**20) for r in rows if "impasto" in r]
    if plans:
        print("impasto plan (every buffer of the forward pass): " + ", ".join(plans))
    checks = [r for r in rows if r.get("check")]
    if checks:
        print("agreement (relative L2 of the outputs; float32 summation order and Winograd: expect ~1e-6):")
        for r in checks:
            print("  %-9s " % ("%dx%d" % (r["h"], r["w"])) +
                  ", ".join("%s %.2e" % (k, v) for k, v in r["check"].items()))
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--driver", default="build/bench/bench_fast", help="the C driver (make builds it)")
    ap.add_argument("--model", default="models/candy.safetensors", help="a converted fast style network")
    ap.add_argument("--onnx", default="build/bench/candy.onnx",
                    help="the same network in ONNX (tools/export_transformernet_onnx.py)")
    ap.add_argument("--node", default="node", help="node.js, for onnxruntime-node")
    ap.add_argument("--node-modules", default="build/bench/node/node_modules",
                    help="where onnxruntime-node is installed (tools/install-deps.sh --onnx)")
    ap.add_argument("--shared", default=os.environ.get("IMPASTO_SHARED", "../shared"),
                    help="the shared folder with images/ (else a synthetic input is used)")
    ap.add_argument("--sizes", default="256,512,1024", help="square image sides, comma-separated")
    add_run_args(ap)
    ap.add_argument("--impl", default=",".join(IMPLS), help="any of impasto, torch, onnxruntime")
    # Internal: how the parent starts the PyTorch child.
    ap.add_argument("--child", choices=["torch"], help=argparse.SUPPRESS)
    for k in ("input", "out"):
        ap.add_argument("--" + k, help=argparse.SUPPRESS)
    ap.add_argument("--h", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--w", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.child:
        torch_child(a)
        return
    sizes = [int(s) for s in a.sizes.split(",") if s]
    impls = [i for i in IMPLS if i in a.impl.split(",")]
    if (not sizes or min(sizes) < 16 or a.runs < 1 or a.warmup < 0 or a.threads < 1 or a.budget < 0
            or set(a.impl.split(",")) - set(IMPLS) or not impls):
        ap.error("bad --sizes/--runs/--warmup/--threads/--impl")
    if not os.path.exists(a.model):
        sys.exit("fast_bench: %s not found (make models)" % a.model)
    if "impasto" in impls and not os.access(a.driver, os.X_OK):
        sys.exit("fast_bench: %s not found (make)" % a.driver)
    if "onnxruntime" in impls:
        if not os.path.exists(a.onnx):
            sys.exit("fast_bench: %s not found (tools/export_transformernet_onnx.py)" % a.onnx)
        if not os.path.isdir(os.path.join(a.node_modules, "onnxruntime-node")):
            sys.exit("fast_bench: onnxruntime-node not in %s (tools/install-deps.sh --onnx)" % a.node_modules)

    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(a.threads)
    env["OPENBLAS_NUM_THREADS"] = str(a.threads)
    meta = {"cpu": cpu_name(), "nproc": os.cpu_count(), "threads": a.threads, "model": a.model,
            "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""),
            "openblas_l2_size": os.environ.get("OPENBLAS_L2_SIZE", ""),
            "runs": a.runs, "warmup": a.warmup, "budget_s": a.budget, "sizes": sizes,
            "loadavg_start": "%.2f" % os.getloadavg()[0],
            "torch": torch_info() if "torch" in impls else None,
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    rows = []
    workdir = tempfile.mkdtemp(prefix="impasto-fastbench-")
    try:
        for size in sizes:
            inp, meta["inputs"] = prepare_input(workdir, size, a.shared)
            flop = conv_flops(size, size)
            row = {"size": size, "h": size, "w": size, "gflop": flop / 1e9}
            outs = {}
            for impl in impls:
                outs[impl] = os.path.join(workdir, "%s_%d.f32" % (impl, size))
                print("running %s %d..." % (impl, size), file=sys.stderr, flush=True)
                res, rss = run_child(child_cmd(a, impl, size, inp, outs[impl]), env)
                row[impl] = summarise(res, rss, flop)
                if impl == "onnxruntime":
                    meta["onnxruntime"] = res.get("version")
            if "impasto" in row and "onnxruntime" in row:
                row["ratio_ort"] = row["impasto"]["median_s"] / row["onnxruntime"]["median_s"]
            if "impasto" in row and "torch" in row:
                row["ratio_torch"] = row["impasto"]["median_s"] / row["torch"]["median_s"]
            row["check"] = {}
            for x, y in (("impasto", "torch"), ("impasto", "onnxruntime"), ("torch", "onnxruntime")):
                if x in outs and y in outs:
                    row["check"]["%s/%s" % (x, y)] = rel_err(outs[x], outs[y])
            rows.append(row)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    meta["loadavg_end"] = "%.2f" % os.getloadavg()[0]

    summary = {"meta": meta, "rows": rows}
    if a.json == "-":
        json.dump(summary, sys.stdout, indent=1)
        print()
        return
    print_table(meta, rows, impls)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(summary, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
