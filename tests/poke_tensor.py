"""Writes a copy of a safetensors file with the first value of one float32 tensor replaced, for
the command-line tests of non-finite weights (tests/cli/test_safety.sh). Standard library only.

    python3 tests/poke_tensor.py IN OUT TENSOR VALUE      (VALUE: nan, inf, 3e38, ...)
"""
import json
import math
import shutil
import struct
import sys


def main():
    src, dst, name, value = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    with open(src, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    info = header[name]
    if info["dtype"] != "F32":
        sys.exit("poke_tensor: %s is %s, not F32" % (name, info["dtype"]))
    begin, end = info["data_offsets"]
    count = (end - begin) // 4
    shutil.copyfile(src, dst)
    # A non-finite VALUE replaces the first value (one is enough to poison a model); a finite one
    # replaces every value, so that a huge one makes the network overflow.
    k = count if math.isfinite(value) else 1
    with open(dst, "r+b") as f:
        f.seek(8 + n + begin)
        f.write(struct.pack("<%df" % k, *([value] * k)))


if __name__ == "__main__":
    main()
