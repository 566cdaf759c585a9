#!/usr/bin/python3
"""Times one training step of the fast style network (Johnson et al. 2016's TransformerNet with VGG-19
perceptual losses, `impasto train`) in impasto and in PyTorch, same run, same photos, same style, same
starting weights.

A step is the batch's TransformerNet forward, VGG-19 on the output (to relu4_3) and on the photos (to
relu2_2, the content targets), the content (relu2_2) and style (Gram matrices at relu1_2, relu2_2,
relu3_3, relu4_3) losses, the backward pass to TransformerNet's weights and the Adam update.

  /usr/bin/python3 bench/train_bench.py --driver build/bench/bench_train --model models/vgg19.safetensors \
      [--size 256] [--batch 4] [--runs 3] [--warmup 1] [--threads 2] [--json [FILE]]

impasto runs through bench/bench_train (the library's impasto_train, as `impasto train` runs it), PyTorch
(/usr/bin/python3, torch.set_num_threads(--threads)) through the network tools/gen_golden_fast.py builds
and the VGG-19 of tools/neural_style_ref.py on the same converted weights, batched as the PyTorch example
trains. Each side runs in its own child process so its peak RSS (wait4) is its own. See bench/README.md.
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
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
from gatys_bench import add_run_args, cpu_name, fmt_mib, run_child, torch_info  # noqa: E402

FEATURE_SCALE = 255.0 * 0.226  # Caffe input units per torchvision unit (src/methods/train.c)
CONTENT_WEIGHT, STYLE_WEIGHT, LR = 1e5, 1e10, 1e-3
CONTENT_LAYER = "relu2_2"
STYLE_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
IMPLS = ("impasto", "torch")


def prepare(workdir, a):
    """The batch's photos (the first --batch photos of --data, sorted by name, resized so the shorter
    side is --size and centre-cropped) and the style image (longer side --style-size) as PNGs, and
    the starting checkpoint (PyTorch's default initialisation, seed 0; Adam's moments zero)."""
    from PIL import Image
    photos = os.path.join(workdir, "photos")
    os.makedirs(photos)
    if not os.path.isdir(a.data):
        sys.exit("train_bench: no photo folder %s: run 'make train-data' first (or give --data DIR)" % a.data)
    names = sorted(f for f in os.listdir(a.data) if f.lower().endswith((".jpg", ".jpeg", ".png")))[: a.batch]
    if len(names) < a.batch:
        sys.exit("train_bench: %s holds %d photos, --batch is %d (make train-data)" % (a.data, len(names), a.batch))
    for i, n in enumerate(names):
        im = Image.open(os.path.join(a.data, n)).convert("RGB")
        w, h = im.size
        k = a.size / min(w, h)
        im = im.resize((max(a.size, round(w * k)), max(a.size, round(h * k))), Image.BICUBIC)
        w, h = im.size
        im = im.crop(((w - a.size) // 2, (h - a.size) // 2, (w - a.size) // 2 + a.size, (h - a.size) // 2 + a.size))
        im.save(os.path.join(photos, "%02d.png" % i))
    st = Image.open(a.style).convert("RGB")
    k = a.style_size / max(st.size)
    st = st.resize((max(1, round(st.size[0] * k)), max(1, round(st.size[1] * k))), Image.BICUBIC)
    style = os.path.join(workdir, "style.png")
    st.save(style)

    import torch
    from gen_golden_fast import TransformerNet, write_safetensors
    torch.manual_seed(0)
    net = TransformerNet()
    tensors = [(k, v.detach().numpy()) for k, v in net.state_dict().items()]
    n = sum(v.size for _, v in tensors)
    tensors += [("optimizer.exp_avg", np.zeros(n, np.float32)), ("optimizer.exp_avg_sq", np.zeros(n, np.float32))]
    init = os.path.join(workdir, "init.safetensors")
    write_safetensors(init, tensors, {"kind": "transformernet", "step": "0", "adam_steps": "0", "seed": "42"})
    return photos, style, init, names


# ---- the PyTorch side (runs in a child process) ---------------------------------------------

def torch_child(a):
    import torch
    import torch.nn.functional as F
    from PIL import Image
    from gen_golden_fast import TransformerNet, read_safetensors
    from neural_style_ref import MEAN, build_layers, features, load_safetensors
    torch.set_num_threads(a.threads)
    weights, _ = read_safetensors(a.init)
    net = TransformerNet()
    net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items() if not k.startswith("optimizer.")},
                        strict=True)
    vgg = build_layers(load_safetensors(a.model), "max")

    def load(path):
        return torch.from_numpy(np.asarray(Image.open(path).convert("RGB"), np.float32).transpose(2, 0, 1).copy())

    x = torch.stack([load(os.path.join(a.photos, f)) for f in sorted(os.listdir(a.photos))])  # (B, 3, S, S)
    s2 = FEATURE_SCALE ** 2
    cw, sw = CONTENT_WEIGHT / s2, STYLE_WEIGHT / (s2 * s2)

    def gram(f):  # (B, C, H, W) -> (B, C, C), / (C H W)
        b, c, h, w = f.shape
        f = f.reshape(b, c, h * w)
        return f.bmm(f.transpose(1, 2)) / (c * h * w)

    with torch.no_grad():
        fs = features(vgg, load(a.style)[None] - MEAN, STYLE_LAYERS)
        gs = {k: gram(v) for k, v in fs.items()}
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    times, losses, contents, styles = [], [], [], []
    for r in range(-a.warmup, a.runs):
        t0 = time.perf_counter()
        opt.zero_grad()
        y = net(x)
        with torch.no_grad():
            fx = features(vgg, x - MEAN, (CONTENT_LAYER,))[CONTENT_LAYER]
        fy = features(vgg, y - MEAN, STYLE_LAYERS + (CONTENT_LAYER,))
        lc = cw * F.mse_loss(fy[CONTENT_LAYER], fx)
        ls = sum(sw * F.mse_loss(gram(fy[l]), gs[l].expand(x.shape[0], -1, -1)) for l in STYLE_LAYERS)
        (lc + ls).backward()
        opt.step()
        t = time.perf_counter() - t0
        losses.append(float(lc + ls))
        contents.append(float(lc))
        styles.append(float(ls))
        if r >= 0:
            times.append(t)
    print(json.dumps({"impl": "torch", "version": torch.__version__, "size": a.size, "batch": x.shape[0],
                      "threads": a.threads, "times": times, "loss": losses, "content": contents, "style": styles}))


# ---- the parent ------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--driver", default="build/bench/bench_train", help="the C driver (make builds it)")
    ap.add_argument("--model", default="models/vgg19.safetensors", help="the converted VGG-19 (make models)")
    ap.add_argument("--data", default="data/train", help="photos (make train-data); the first --batch are used")
    ap.add_argument("--style", default="examples/images/scream.jpg")
    ap.add_argument("--style-size", type=int, default=256, help="longer side of the style image")
    ap.add_argument("--size", type=int, default=256, help="training image side")
    ap.add_argument("--batch", type=int, default=4)
    add_run_args(ap, runs=3, what="side (training steps)", budget=False)
    ap.add_argument("--impl", default=",".join(IMPLS), help="any of impasto, torch")
    ap.add_argument("--child", choices=["torch"], help=argparse.SUPPRESS)
    for k in ("photos", "init"):
        ap.add_argument("--" + k, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        torch_child(a)
        return
    impls = [i for i in IMPLS if i in a.impl.split(",")]
    if (a.size < 16 or a.size % 4 or a.batch < 1 or a.runs < 1 or a.warmup < 0 or a.threads < 1 or not impls
            or set(a.impl.split(",")) - set(IMPLS)):
        ap.error("bad --size/--batch/--runs/--warmup/--threads/--impl")
    for f in (a.model, a.style):
        if not os.path.exists(f):
            sys.exit("train_bench: %s not found" % f)
    if "impasto" in impls and not os.access(a.driver, os.X_OK):
        sys.exit("train_bench: %s not found (make)" % a.driver)

    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(a.threads)
    env["OPENBLAS_NUM_THREADS"] = str(a.threads)
    meta = {"cpu": cpu_name(), "nproc": os.cpu_count(), "threads": a.threads, "size": a.size, "batch": a.batch,
            "runs": a.runs, "warmup": a.warmup, "style": a.style, "style_size": a.style_size,
            "loadavg_start": "%.2f %.2f %.2f" % os.getloadavg(), "torch": torch_info() if "torch" in impls else None,
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    workdir = tempfile.mkdtemp(prefix="impasto-trainbench-")
    res = {}
    try:
        photos, style, init, meta["photos"] = prepare(workdir, a)
        for impl in impls:
            print("running %s..." % impl, file=sys.stderr, flush=True)
            if impl == "impasto":
                cmd = [a.driver, "--model", a.model, "--style", style, "--data", photos, "--init", init,
                       "--size", str(a.size), "--batch", str(a.batch), "--runs", str(a.runs),
                       "--warmup", str(a.warmup), "--threads", str(a.threads)]
            else:
                cmd = [sys.executable, os.path.abspath(__file__), "--child", "torch", "--model", a.model,
                       "--style", style, "--photos", photos, "--init", init, "--size", str(a.size),
                       "--runs", str(a.runs), "--warmup", str(a.warmup), "--threads", str(a.threads)]
            r, rss = run_child(cmd, env)
            r["median_s"] = statistics.median(r["times"])
            r["min_s"] = min(r["times"])
            r["peak_rss_kib"] = rss
            res[impl] = r
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    meta["loadavg_end"] = "%.2f %.2f %.2f" % os.getloadavg()
    summary = {"meta": meta, "results": res}
    if len(res) == 2:
        summary["ratio"] = res["impasto"]["median_s"] / res["torch"]["median_s"]
        li, lt = res["impasto"]["loss"][0], res["torch"]["loss"][0]
        summary["first_loss_rel_diff"] = abs(li - lt) / abs(lt)
        # Every step trains on the same batch, so later losses check the whole update (gradients
        # and Adam) against PyTorch's, not just the first forward pass.
        li, lt = res["impasto"]["loss"][-1], res["torch"]["loss"][-1]
        summary["last_loss_rel_diff"] = abs(li - lt) / abs(lt)
    if a.json == "-":
        json.dump(summary, sys.stdout, indent=1)
        print()
        return
    tv = meta["torch"]
    print("impasto train bench: one training step, TransformerNet + VGG-19 losses + Adam, %dx%d, batch %d"
          % (a.size, a.size, a.batch))
    print("  cpu %s, %d threads, load average %s at start, %s at end; PyTorch %s; %d warm-up + %d timed steps"
          % (meta["cpu"], a.threads, meta["loadavg_start"], meta["loadavg_end"], tv["version"] if tv else "-",
             a.warmup, a.runs))
    print()
    print("%-8s %9s %9s %9s  %s" % ("", "median s", "min s", "peak RSS", "step times"))
    for impl in impls:
        r = res[impl]
        print("%-8s %9.3f %9.3f %9s  %s" % (impl, r["median_s"], r["min_s"], fmt_mib(r["peak_rss_kib"]),
                                           " ".join("%.2f" % t for t in r["times"])))
    if "ratio" in summary:
        print()
        print("ratio impasto / PyTorch (medians): %.2f   (< 1: impasto is faster)" % summary["ratio"])
        print("first step's loss: impasto %.6g, PyTorch %.6g (relative difference %.1e; same weights and batch)"
              % (res["impasto"]["loss"][0], res["torch"]["loss"][0], summary["first_loss_rel_diff"]))
        n = len(res["impasto"]["loss"])
        print("loss after step %d:  impasto %.6g, PyTorch %.6g (relative difference %.1e; each step's update "
              "agrees)" % (n, res["impasto"]["loss"][-1], res["torch"]["loss"][-1], summary["last_loss_rel_diff"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(summary, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
