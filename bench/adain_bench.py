#!/usr/bin/python3
"""AdaIN style transfer, impasto against PyTorch: one transfer (encode content and style to relu4_1,
AdaIN with alpha 1, decode) at a 512x512 content with a 512x512 style, each side in its own child
process. Prints medians, the ratio and each side's peak RSS (wait4's ru_maxrss); --json for JSON.
Then one tiled run of ours at --tiled-size (4096: a 4096x4096 content, the tubingen crop enlarged,
with the 512 style) through `impasto adain` itself, PNG decode and encode included: wall time and
peak RSS. PyTorch has no row there: untiled, one 64-channel layer at 4096x4096 is 4.3 GB, and its
input, reflection-padded copy and output live at once (13 GB and more), too much for the machine.

    /usr/bin/python3 bench/adain_bench.py [--driver build/bench/bench_adain] [--model models/adain.safetensors]
        [--size 512] [--style-size 512] [--runs 5] [--warmup 1] [--threads 2] [--json [FILE]]
        [--impasto build/impasto] [--tiled-size 4096 (0: none)]

The PyTorch network is naoto0804/pytorch-AdaIN's vgg (to relu4_1) and decoder built from the same
converted weights, as tools/gen_golden_adain.py builds them. See bench/README.md.
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

HERE = os.path.dirname(os.path.abspath(__file__))


def load_image(path, size):
    """RGB planes (3, size, size) in 0..1: centre-cropped square, resized bicubically (Pillow)."""
    from PIL import Image
    im = Image.open(path).convert("RGB")
    s = min(im.size)
    left, top = (im.size[0] - s) // 2, (im.size[1] - s) // 2
    im = im.crop((left, top, left + s, top + s)).resize((size, size), Image.BICUBIC)
    return np.asarray(im, dtype=np.float32).transpose(2, 0, 1) / 255.0


def synthetic(size, seed):
    y, x = np.meshgrid(np.arange(size) / size, np.arange(size) / size, indexing="ij")
    rng = np.random.RandomState(seed)
    f = rng.uniform(2, 9, size=3)
    img = np.stack([0.5 + 0.4 * np.sin(f[0] * x + 3 * y), 0.5 + 0.4 * np.cos(f[1] * y * x),
                    0.5 + 0.4 * np.sin(f[2] * (x - y))])
    return np.clip(img + 0.05 * rng.uniform(-1, 1, img.shape), 0, 1).astype(np.float32)


def prepare(workdir, a):
    src = "synthetic"
    try:
        c = load_image(os.path.join(a.shared, "images/content/tubingen.jpg"), a.size)
        s = load_image(os.path.join(a.shared, "images/style/starry_night.jpg"), a.style_size)
        src = "tubingen.jpg, starry_night.jpg"
    except (ImportError, OSError):
        c, s = synthetic(a.size, 1), synthetic(a.style_size, 2)
    cp, sp = os.path.join(workdir, "c.f32"), os.path.join(workdir, "s.f32")
    c.tofile(cp)
    s.tofile(sp)
    return cp, sp, src


def torch_child(a):
    import torch
    sys.path.insert(0, os.path.join(HERE, "..", "tools"))
    from gen_golden_adain import adain, decoder, encoder, load, read_safetensors
    torch.set_num_threads(a.threads)
    weights, _ = read_safetensors(a.model)
    enc = load(encoder(), weights, "encoder", torch.float32)
    dec = load(decoder(), weights, "decoder", torch.float32)
    c = torch.from_numpy(np.fromfile(a.content, dtype="<f4").reshape(1, 3, a.h, a.w))
    s = torch.from_numpy(np.fromfile(a.style, dtype="<f4").reshape(1, 3, a.sh, a.sw))
    times, out = [], None
    with torch.no_grad():
        for r in range(a.warmup + a.runs):
            t0 = time.perf_counter()
            out = dec(adain(enc(c), enc(s)))
            if r >= a.warmup:
                times.append(time.perf_counter() - t0)
    if a.out:
        out[0].numpy().astype("<f4").tofile(a.out)
    print(json.dumps({"times": times, "out_shape": list(out.shape[1:])}))


def tiled_run(a, wd, env):
    """One `impasto adain` at a tiled-size square content: (wall seconds, peak RSS in KiB)."""
    from PIL import Image
    n = a.tiled_size
    try:
        im = Image.open(os.path.join(a.shared, "images/content/tubingen.jpg")).convert("RGB")
        st = Image.open(os.path.join(a.shared, "images/style/starry_night.jpg")).convert("RGB")
    except OSError:
        im = Image.fromarray((synthetic(1024, 1).transpose(1, 2, 0) * 255).astype(np.uint8))
        st = Image.fromarray((synthetic(a.style_size, 2).transpose(1, 2, 0) * 255).astype(np.uint8))
    s = min(im.size)
    left, top = (im.size[0] - s) // 2, (im.size[1] - s) // 2
    im.crop((left, top, left + s, top + s)).resize((n, n), Image.BICUBIC).save(os.path.join(wd, "big.png"))
    st.save(os.path.join(wd, "style.png"))
    cmd = [a.impasto, "adain", "-m", a.model, "-c", os.path.join(wd, "big.png"), "-s", os.path.join(wd, "style.png"),
           "--content-size", "0", "--style-size", str(a.style_size), "--threads", str(a.threads),
           "-o", os.path.join(wd, "big-out.png")]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    secs = time.perf_counter() - t0
    rc = os.waitstatus_to_exitcode(status)
    p.returncode = rc
    if rc != 0:
        sys.exit("impasto adain failed (%d): %s" % (rc, err.decode(errors="replace")))
    return secs, ru.ru_maxrss


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--driver", default="build/bench/bench_adain", help="the C driver (make builds it)")
    ap.add_argument("--model", default="models/adain.safetensors", help="converted AdaIN weights")
    ap.add_argument("--shared", default=os.environ.get("IMPASTO_SHARED", "../shared"))
    ap.add_argument("--size", type=int, default=512, help="content side (square)")
    ap.add_argument("--style-size", type=int, default=512, help="style side (square)")
    add_run_args(ap, what="side", budget=False)
    ap.add_argument("--impasto", help="the CLI for the tiled row (default: beside the driver, ../impasto)")
    ap.add_argument("--tiled-size", type=int, default=4096, help="tiled row's content side (0: no tiled row)")
    ap.add_argument("--child", choices=["torch"], help=argparse.SUPPRESS)
    for k in ("content", "style", "out"):
        ap.add_argument("--" + k, help=argparse.SUPPRESS)
    for k in ("h", "w", "sh", "sw"):
        ap.add_argument("--" + k, type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return torch_child(a)

    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), OPENBLAS_NUM_THREADS=str(a.threads))
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as wd:
        cp, sp, src = prepare(wd, a)
        common = ["--runs", str(a.runs), "--warmup", str(a.warmup), "--threads", str(a.threads)]
        ours, ours_rss = run_child([a.driver, "--model", a.model, "--content", cp, "--height", str(a.size),
                                    "--width", str(a.size), "--style", sp, "--style-height", str(a.style_size),
                                    "--style-width", str(a.style_size), "--out", os.path.join(wd, "o1.f32")]
                                   + common, env)
        theirs, theirs_rss = run_child([sys.executable, os.path.abspath(__file__), "--child", "torch", "--model",
                                        a.model, "--content", cp, "--style", sp, "--h", str(a.size), "--w",
                                        str(a.size), "--sh", str(a.style_size), "--sw", str(a.style_size),
                                        "--out", os.path.join(wd, "o2.f32")] + common, env)
        o1 = np.fromfile(os.path.join(wd, "o1.f32"), dtype="<f4")
        o2 = np.fromfile(os.path.join(wd, "o2.f32"), dtype="<f4")
        diff = float(np.linalg.norm(o1 - o2) / np.linalg.norm(o2)) if o1.shape == o2.shape else None
        tiled = None
        if a.tiled_size > 0:
            impasto = a.impasto or os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(a.driver))), "impasto")
            load1 = os.getloadavg()
            secs, rss = tiled_run(argparse.Namespace(**dict(vars(a), impasto=impasto)), wd, env)
            tiled = {"content": [3, a.tiled_size, a.tiled_size], "seconds": secs, "peak_rss_kib": rss,
                     "loadavg_start": load1, "loadavg_end": os.getloadavg()}
    import torch
    res = {
        "content": [3, a.size, a.size], "style": [3, a.style_size, a.style_size], "images": src,
        "threads": a.threads, "runs": a.runs, "warmup": a.warmup, "torch": torch.__version__,
        "loadavg_start": load0, "loadavg_end": os.getloadavg(),
        "impasto": {"times": ours["times"], "median_s": statistics.median(ours["times"]),
                    "min_s": min(ours["times"]), "peak_rss_kib": ours_rss},
        "pytorch": {"times": theirs["times"], "median_s": statistics.median(theirs["times"]),
                    "min_s": min(theirs["times"]), "peak_rss_kib": theirs_rss},
        "output_rel_l2_diff": diff,
        "impasto_tiled": tiled,
    }
    res["ratio"] = res["impasto"]["median_s"] / res["pytorch"]["median_s"]
    if a.json:
        text = json.dumps(res, indent=2)
        if a.json == "-":
            print(text)
        else:
            with open(a.json, "w") as f:
                f.write(text + "\n")
    if a.json != "-":
        print("AdaIN transfer, content %dx%d, style %dx%d, %d threads, torch %s (%s)" % (
            a.size, a.size, a.style_size, a.style_size, a.threads, torch.__version__, src))
        print("load average %.2f at start, %.2f at end" % (load0[0], res["loadavg_end"][0]))
        print("%-8s %10s %10s %12s" % ("", "median s", "min s", "peak RSS"))
        for k in ("impasto", "pytorch"):
            r = res[k]
            print("%-8s %10.3f %10.3f %9.0f MiB" % (k, r["median_s"], r["min_s"], r["peak_rss_kib"] / 1024))
        print("ratio impasto / pytorch (medians): %.2f" % res["ratio"])
        print("output relative L2 difference: %s" % ("%.2e" % diff if diff is not None else "shapes differ"))
        if tiled:
            print("impasto adain %dx%d (automatic tiling, PNG in and out): %.1f s, peak RSS %.0f MiB, load average %.2f -> %.2f; "
                  "PyTorch untiled: not run (13 GB and more)" % (a.tiled_size, a.tiled_size, tiled["seconds"],
                                                                  tiled["peak_rss_kib"] / 1024, tiled["loadavg_start"][0],
                                                                  tiled["loadavg_end"][0]))


if __name__ == "__main__":
    main()
