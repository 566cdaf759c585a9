#!/usr/bin/python3
"""Writes tests/data/flow_golden.bin: OpenCV's DIS optical flow (cv2.DISOpticalFlow, Kroeger et al.
2016) on a real frame pair, the oracle tests/test_flow.c measures src/video/flow.c against.

Run from the repository root with /usr/bin/python3 (needs python3-opencv, numpy, and opencv-doc's
example clips: `bash tools/install-deps.sh --video`).

The pair: frames FRAME and FRAME + STEP of opencv-doc's vtest.avi (768x576, people walking past a
still camera), converted to grey (OpenCV's BT.601 weights) and shrunk to W x H with INTER_AREA,
as 8-bit frames (what DIS takes). OpenCV runs single-threaded (cv2.setNumThreads(1), so the
result does not depend on the machine).

File layout, little-endian: a sequence of records, each
    name   16 bytes, ASCII, NUL-padded
    count  uint32
    data   float32[count]
Records:
    size           [W, H]
    prev, next     the two frames (H, W), the 8-bit values divided by 255
    medium.flow    cv2 DISOpticalFlow PRESET_MEDIUM flow (2, H, W): u plane then v plane, pixels,
                   next(x + flow(x)) ~ prev(x)
    fast.warperr   [e]: the warping error of OpenCV's PRESET_FAST flow, the mean over pixels of
                   |prev(x) - next(x + flow(x))| * 255 (next sampled bilinearly, border replicated,
                   as flow_warp does); its flow itself is left out to keep the file small
"""
import os
import struct
import sys

import numpy as np

CLIP = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
OUT = "tests/data/flow_golden.bin"
FRAME, STEP = 20, 2
W, H = 160, 120


def record(name, arr):
    a = np.ascontiguousarray(arr, dtype="<f4").ravel()
    return name.encode().ljust(16, b"\0") + struct.pack("<I", a.size) + a.tobytes()


def main():
    import cv2
    if not os.path.exists(CLIP):
        sys.exit("gen_golden_flow.py: %s is missing (bash tools/install-deps.sh --video)" % CLIP)
    cv2.setNumThreads(1)
    cap = cv2.VideoCapture(CLIP)
    frames = []
    for k in range(FRAME + STEP + 1):
        ok, bgr = cap.read()
        if not ok:
            sys.exit("gen_golden_flow.py: %s ended at frame %d" % (CLIP, k))
        if k in (FRAME, FRAME + STEP):
            grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
            frames.append(cv2.resize(grey, (W, H), interpolation=cv2.INTER_AREA))
    prev, nxt = frames
    out = record("size", [W, H]) + record("prev", prev / 255.0) + record("next", nxt / 255.0)
    flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(prev, nxt, None)
    out += record("medium.flow", flow.transpose(2, 0, 1))
    fast = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST).calc(prev, nxt, None)
    gx, gy = np.meshgrid(np.arange(W, dtype=np.float32), np.arange(H, dtype=np.float32))
    warped = cv2.remap((nxt / 255.0).astype(np.float32), gx + fast[..., 0], gy + fast[..., 1], cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE)
    out += record("fast.warperr", [255.0 * np.mean(np.abs((prev / 255.0).astype(np.float32) - warped))])
    with open(OUT, "wb") as fp:
        fp.write(out)
    print("wrote %s (%d bytes), OpenCV %s" % (OUT, len(out), cv2.__version__))


if __name__ == "__main__":
    main()
