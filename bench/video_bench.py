#!/usr/bin/python3
"""Frames per second of `impasto video`, end to end (decode, resize, optical flow, stylise, blend,
encode), for the fast network (candy) and AdaIN, with and without temporal consistency, at 640x360
and 1280x720.

The clips are made here from OpenCV's example clip vtest.avi (opencv-doc): its frames centre-cropped
to 16:9 and resized with OpenCV, then encoded by `impasto video --method none` (H.264, crf 12). Every
(size, method, temporal) run is its own `impasto video ... --json` child, whose frames per second
come from its JSON summary (frames / seconds from the first frame read to the last one written)
and whose peak RSS from wait4. Rounds interleave the configurations, so a change in the machine's
load falls on all of them alike; the median over the rounds is reported.

  /usr/bin/python3 bench/video_bench.py --impasto build/impasto [--frames 30] [--rounds 3]
      [--sizes 640x360,1280x720] [--threads 2] [--json [FILE]]

See bench/README.md ("Video").
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from gatys_bench import cpu_name, fmt_mib  # noqa: E402

CLIP = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
STYLE = os.path.join(ROOT, "examples/images/scream.jpg")


def make_clip(impasto, src, w, h, frames, folder, out):
    import cv2
    cap = cv2.VideoCapture(src)
    os.makedirs(folder, exist_ok=True)
    n = 0
    while n < frames:
        ok, img = cap.read()
        if not ok:
            break
        ih, iw = img.shape[:2]
        ch = int(round(iw * h / w))
        if ch > ih:  # wider than 16:9: crop the width instead
            cw = int(round(ih * w / h))
            img = img[:, (iw - cw) // 2:(iw - cw) // 2 + cw]
        else:
            img = img[(ih - ch) // 2:(ih - ch) // 2 + ch]
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
        n += 1
        cv2.imwrite(os.path.join(folder, "f%05d.png" % n), img)
    if n < 2:
        sys.exit("video_bench: cannot read frames from %s (bash tools/install-deps.sh --video)" % src)
    subprocess.run([impasto, "video", "--method", "none", "-c", folder, "-o", out, "--fps", "10", "--crf", "12",
                    "-q"], check=True)
    return n


def run_child(cmd):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit("video_bench: %s failed (%d): %s" % (" ".join(cmd), code, err.decode().strip()))
    return json.loads(out.decode()), ru.ru_maxrss, ru.ru_utime + ru.ru_stime


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--impasto", default=os.path.join(ROOT, "build/impasto"))
    ap.add_argument("--source", default=CLIP)
    ap.add_argument("--style", default=STYLE)
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sizes", default="640x360,1280x720")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--style-size", type=int, default=256)
    ap.add_argument("--json", nargs="?", const="-", default=None)
    a = ap.parse_args()
    sizes = [tuple(int(v) for v in s.split("x")) for s in a.sizes.split(",")]
    methods = [("fast", ["-m", "candy"]),
               ("adain", ["--method", "adain", "-s", a.style, "--style-size", str(a.style_size)])]
    load0 = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clips = {}
        for (w, h) in sizes:
            clips[(w, h)] = os.path.join(tmp, "clip_%dx%d.mkv" % (w, h))
            make_clip(a.impasto, a.source, w, h, a.frames, os.path.join(tmp, "frames_%dx%d" % (w, h)), clips[(w, h)])
        results = {}
        for _ in range(a.rounds):
            for (w, h) in sizes:
                for name, margs in methods:
                    for temporal in (False, True):
                        cmd = [a.impasto, "video", "-c", clips[(w, h)], "-o", os.path.join(tmp, "out.mp4"),
                               "--threads", str(a.threads), "--json"] + margs + ([] if temporal else ["--no-temporal"])
                        res, rss, cpu = run_child(cmd)
                        r = results.setdefault((w, h, name, temporal), {"fps": [], "rss": 0, "cpu": []})
                        r["fps"].append(res["fps"])
                        r["cpu"].append(cpu / res["frames"])
                        r["rss"] = max(r["rss"], rss)
        for (w, h) in sizes:
            for name, _ in methods:
                per = results[(w, h, name, False)]
                tc = results[(w, h, name, True)]
                rows.append({"size": "%dx%d" % (w, h), "method": name,
                             "fps_per_frame": statistics.median(per["fps"]),
                             "fps_temporal": statistics.median(tc["fps"]),
                             "rss_per_frame_kib": per["rss"], "rss_temporal_kib": tc["rss"],
                             "cpu_s_per_frame_per_frame": statistics.median(per["cpu"]),
                             "cpu_s_per_frame_temporal": statistics.median(tc["cpu"]),
                             "runs_per_frame": per["fps"], "runs_temporal": tc["fps"]})
    meta = {"cpu": cpu_name(), "threads": a.threads, "frames": a.frames, "rounds": a.rounds,
            "loadavg_start": load0, "loadavg_end": os.getloadavg()[0], "style_size": a.style_size,
            "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE")}
    print("impasto video: frames per second end to end (decode, flow, stylise, blend, encode)")
    print("  cpu %s, %d threads, %d frames a run, median of %d rounds; load average %.1f at start, %.1f at end"
          % (meta["cpu"], a.threads, a.frames, a.rounds, meta["loadavg_start"], meta["loadavg_end"]))
    print()
    print("CPU s/frame: the child's user + system time (whole process, model loading included) over its frames;")
    print("2 / that is what 2 idle cores could reach at best.")
    print()
    print("%-9s %-6s | %10s %11s %9s | %10s %11s %9s | %s" % (
        "size", "method", "per-frame", "CPU s/frame", "peak RSS", "temporal", "CPU s/frame", "peak RSS",
        "temporal/per-frame fps"))
    for r in rows:
        print("%-9s %-6s | %8.2f/s %11.3f %9s | %8.2f/s %11.3f %9s | %.2f" % (
            r["size"], r["method"], r["fps_per_frame"], r["cpu_s_per_frame_per_frame"], fmt_mib(r["rss_per_frame_kib"]),
            r["fps_temporal"], r["cpu_s_per_frame_temporal"], fmt_mib(r["rss_temporal_kib"]),
            r["fps_temporal"] / r["fps_per_frame"]))
    if a.json:
        doc = json.dumps({"meta": meta, "rows": rows}, indent=1)
        if a.json == "-":
            print(doc)
        else:
            with open(a.json, "w") as f:
                f.write(doc + "\n")


if __name__ == "__main__":
    main()
