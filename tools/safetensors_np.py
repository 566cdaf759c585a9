"""safetensors with json and numpy only, for the golden-file generators and the benchmarks' PyTorch sides
(none of them needs the safetensors package). Format: an 8-byte little-endian header length, a JSON header
(name -> dtype, shape, data_offsets; optional __metadata__ of strings), then the tensors' bytes."""
import json
import struct

import numpy as np

_DTYPES = {"F32": "<f4", "F16": "<f2"}


def read_safetensors(path, names=None):
    """({name: float32 array}, metadata) of a file's F32 and F16 tensors (F16 widened to float32); only
    `names` when given, read one by one (a 550 MB VGG-19 file need not be read whole for a few)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n).decode("utf-8"))
        meta = header.pop("__metadata__", {})
        tensors = {}
        for name in header if names is None else names:
            e = header[name]
            if e["dtype"] not in _DTYPES:
                raise ValueError("%s: dtype %s, expected F32 or F16" % (name, e["dtype"]))
            b, end = e["data_offsets"]
            f.seek(8 + n + b)
            a = np.frombuffer(f.read(end - b), dtype=_DTYPES[e["dtype"]])
            tensors[name] = a.reshape(e["shape"]).astype(np.float32)
    return tensors, meta


def write_safetensors(path, tensors, meta):
    """tensors: (name, array) pairs, stored F32 in that order, contiguous; the header is space-padded
    to a multiple of 8 bytes, as the format recommends."""
    header = {"__metadata__": meta}
    offset = 0
    blobs = []
    for name, a in tensors:
        a = np.ascontiguousarray(a, dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
        blobs.append(a.tobytes())
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
