#!/usr/bin/python3
"""Optical flow, impasto's DIS (src/video/flow.c) against OpenCV's cv2.DISOpticalFlow at its fast
and medium presets, on the same consecutive grey frames of a clip from Debian's opencv-doc
(vtest.avi by default), resized to each --sizes entry. Each side runs in its own child process
with --threads threads (OpenCV: cv2.setNumThreads), creates its flow object once and times each
pair `--runs` times after `--warmup` untimed runs; the median per pair, then the median over pairs,
is reported, with each child's peak RSS (wait4's ru_maxrss), and the same for the CPU time the
process spent per pair (all its threads: time.process_time / CLOCK_PROCESS_CPUTIME_ID), which
says more than the wall time when other work shares the cores.

Accuracy, computed here the same way for both: the warping error, the mean |prev(x) -
next(x + flow(x))| on the 0..255 scale (next sampled bilinearly, border replicated), and the
end-point error (mean Euclidean distance, pixels) against OpenCV's medium flow.

    /usr/bin/python3 bench/flow_bench.py [--driver build/bench/bench_flow] [--clip PATH]
        [--sizes 640x360,1280x720] [--pairs 8] [--runs 5] [--warmup 1] [--threads 2] [--json [FILE]]

See bench/README.md.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gatys_bench import run_child  # noqa: E402

CLIP = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
PRESETS = ("fast", "medium")


def read_frames(clip, count, size):
    """count consecutive grey frames (H, W) uint8 of the clip, resized to size (w, h)."""
    import cv2
    cap = cv2.VideoCapture(clip)
    frames = []
    while len(frames) < count:
        ok, bgr = cap.read()
        if not ok:
            sys.exit("flow_bench.py: %s has fewer than %d frames" % (clip, count))
        grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        interp = cv2.INTER_AREA if size[0] < grey.shape[1] else cv2.INTER_LINEAR
        frames.append(cv2.resize(grey, size, interpolation=interp))
    return np.stack(frames)


def cv2_child(a):
    import cv2
    cv2.setNumThreads(a.threads)
    frames = np.load(a.frames_u8)
    preset = {"fast": cv2.DISOPTICAL_FLOW_PRESET_FAST, "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}[a.preset]
    dis = cv2.DISOpticalFlow_create(preset)
    times, cpu, flows = [], [], []
    for k in range(len(frames) - 1):
        rt, ct = [], []
        for r in range(a.warmup + a.runs):
            c0 = time.process_time()
            t0 = time.perf_counter()
            fl = dis.calc(frames[k], frames[k + 1], None)
            t1 = time.perf_counter()
            c1 = time.process_time()
            if r >= a.warmup:
                rt.append(t1 - t0)
                ct.append(c1 - c0)
        times.append(statistics.median(rt))
        cpu.append(statistics.median(ct))
        flows.append(fl.transpose(2, 0, 1))  # (2, H, W) as ours
    np.save(a.out, np.stack(flows).astype(np.float32))
    print(json.dumps({"times": times, "cpu": cpu}))


def warp_error(frames, flows):
    """Mean over pairs and pixels of |prev - next warped by the flow| (0..255)."""
    import cv2
    errs = []
    h, w = frames.shape[1:]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    for k in range(len(flows)):
        nxt = frames[k + 1].astype(np.float32)
        warped = cv2.remap(nxt, gx + flows[k][0], gy + flows[k][1], cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
        errs.append(float(np.mean(np.abs(frames[k].astype(np.float32) - warped))))
    return float(np.mean(errs))


def epe(a, b):
    return float(np.mean(np.sqrt(((a - b) ** 2).sum(axis=1))))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--driver", default="build/bench/bench_flow")
    ap.add_argument("--clip", default=CLIP)
    ap.add_argument("--sizes", default="640x360,1280x720")
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", nargs="?", const="-")
    ap.add_argument("--child")
    ap.add_argument("--frames-u8")
    ap.add_argument("--preset")
    ap.add_argument("--out")
    a = ap.parse_args()
    if a.child == "cv2":
        return cv2_child(a)
    if not os.path.exists(a.clip):
        sys.exit("flow_bench.py: %s is missing (bash tools/install-deps.sh --video)" % a.clip)
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    load0 = os.getloadavg()
    results = []
    with tempfile.TemporaryDirectory() as wd:
        for s in a.sizes.split(","):
            w, h = (int(v) for v in s.split("x"))
            frames = read_frames(a.clip, a.pairs + 1, (w, h))
            u8 = os.path.join(wd, "frames.npy")
            f32 = os.path.join(wd, "frames.f32")
            np.save(u8, frames)
            (frames.astype(np.float32) / 255.0).tofile(f32)
            flows = {}
            for preset in PRESETS:
                out = os.path.join(wd, "cv2_%s.npy" % preset)
                res, rss = run_child([sys.executable, os.path.abspath(__file__), "--child", "cv2", "--frames-u8", u8,
                                      "--preset", preset, "--out", out, "--threads", str(a.threads), "--runs",
                                      str(a.runs), "--warmup", str(a.warmup)], env)
                flows[("opencv", preset)] = np.load(out)
                results.append({"size": [w, h], "side": "opencv", "preset": preset,
                                "median_ms": 1000 * statistics.median(res["times"]),
                                "cpu_ms": 1000 * statistics.median(res["cpu"]), "peak_rss_kib": rss})
                out = os.path.join(wd, "ours_%s.f32" % preset)
                res, rss = run_child([a.driver, "--frames", f32, "--count", str(a.pairs + 1), "--height", str(h),
                                      "--width", str(w), "--preset", preset, "--out", out, "--threads",
                                      str(a.threads), "--runs", str(a.runs), "--warmup", str(a.warmup)], env)
                flows[("impasto", preset)] = np.fromfile(out, dtype=np.float32).reshape(a.pairs, 2, h, w)
                results.append({"size": [w, h], "side": "impasto", "preset": preset,
                                "median_ms": 1000 * statistics.median(res["times"]),
                                "cpu_ms": 1000 * statistics.median(res["cpu"]), "peak_rss_kib": rss})
            ref = flows[("opencv", "medium")]
            for r in results:
                if r["size"] == [w, h]:
                    fl = flows[(r["side"], r["preset"])]
                    r["warp_error"] = warp_error(frames, fl)
                    r["epe_vs_opencv_medium"] = epe(fl, ref)
            still = warp_error(frames, np.zeros((a.pairs, 2, h, w), np.float32))
            results.append({"size": [w, h], "side": "zero flow", "preset": "-", "warp_error": still})
    report = {"clip": os.path.basename(a.clip), "pairs": a.pairs, "threads": a.threads, "runs": a.runs,
              "loadavg_start": load0, "loadavg_end": os.getloadavg(),
              "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""), "results": results}
    if a.json:
        text = json.dumps(report, indent=1)
        if a.json == "-":
            print(text)
        else:
            with open(a.json, "w") as fp:
                fp.write(text + "\n")
    print("%s, %d pairs, %d threads, load average %.2f -> %.2f, OMP_WAIT_POLICY=%s" % (
        report["clip"], a.pairs, a.threads, load0[0], report["loadavg_end"][0], report["omp_wait_policy"] or "(unset)"))
    print("%-10s %-9s %-7s %10s %8s %11s %10s %9s" % ("size", "side", "preset", "median ms", "CPU ms", "warp error",
                                                       "EPE vs cv", "peak RSS"))
    for r in results:
        ms = "%10.2f %8.2f" % (r["median_ms"], r["cpu_ms"]) if "median_ms" in r else "%10s %8s" % ("-", "-")
        ep = "%10.3f" % r["epe_vs_opencv_medium"] if "epe_vs_opencv_medium" in r else "%10s" % "-"
        rss = "%5.0f MiB" % (r["peak_rss_kib"] / 1024) if "peak_rss_kib" in r else "%9s" % "-"
        print("%-10s %-9s %-7s %s %11.3f %s %s" % ("%dx%d" % tuple(r["size"]), r["side"], r["preset"], ms,
                                                    r["warp_error"], ep, rss))


if __name__ == "__main__":
    main()
