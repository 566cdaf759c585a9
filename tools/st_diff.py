#!/usr/bin/env python3
"""Largest difference between the tensors of two safetensors files, relative to the largest
magnitude of each tensor: `st_diff.py A B` prints it, `--max X` also fails (exit 1) above X.
Used by tests/cli/test_mpi.sh to compare models trained by different numbers of processes."""
import json
import struct
import sys

import numpy as np


def read(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        body = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        dt = {"F32": np.float32, "F16": np.float16, "I64": np.int64}[t["dtype"]]
        out[name] = np.frombuffer(body[a:b], dtype=dt).reshape(t["shape"])
    return out, header.get("__metadata__", {})


def main():
    args = sys.argv[1:]
    limit = None
    if "--max" in args:
        i = args.index("--max")
        limit = float(args[i + 1])
        del args[i:i + 2]
    (x, _), (y, _) = read(args[0]), read(args[1])
    if sorted(x) != sorted(y):
        print("different tensors:", sorted(set(x) ^ set(y)))
        return 1
    worst, where = 0.0, ""
    for k in x:
        scale = max(float(np.abs(x[k]).max()), 1e-30)
        d = float(np.abs(x[k].astype(np.float64) - y[k].astype(np.float64)).max()) / scale
        if d > worst:
            worst, where = d, k
    print(f"{worst:.3g} {where}")
    return 1 if limit is not None and not worst <= limit else 0


if __name__ == "__main__":
    sys.exit(main())
