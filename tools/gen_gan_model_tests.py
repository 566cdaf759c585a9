#!/usr/bin/python3
"""Writes fuzz/regressions/gan_model/: CycleGAN / pix2pix model files for the gan_model fuzz target's
replay (tests/test_fuzz_regressions.c), one valid and the rest hostile, each refused with one message.

    /usr/bin/python3 tools/gen_gan_model_tests.py

They are built from tests/data/pth/resnet_tiny.safetensors (the reference's ResnetGenerator, ngf 4,
2 blocks, as tools/gen_pth_tests.py wrote it) with the metadata impasto's gan-generator files carry
(src/methods/gan_model.h). Running it again writes the same bytes."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_np import read_safetensors, write_safetensors  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "fuzz", "regressions", "gan_model")


def main():
    tensors, _ = read_safetensors(os.path.join(ROOT, "tests", "data", "pth", "resnet_tiny.safetensors"))
    items = list(tensors.items())
    meta = {"kind": "gan-generator", "netG": "resnet_2blocks", "ngf": "4", "norm": "instance", "dropout": "0",
            "in_channels": "3", "out_channels": "3"}
    os.makedirs(OUT, exist_ok=True)

    def put(name, t, m):
        write_safetensors(os.path.join(OUT, name), t, m)

    put("valid-resnet-2blocks.safetensors", items, meta)
    # 64 blocks of width 1024 would be about 19 G weights: refused before allocating
    put("hostile-huge-width.safetensors", items, dict(meta, netG="resnet_64blocks", ngf="1024"))
    put("hostile-missing-tensor.safetensors", items[:-1], meta)
    put("hostile-wrong-shape.safetensors", [(k, v.reshape(-1) if k == "model.1.weight" else v) for k, v in items],
        meta)
    nan = [(k, v.copy()) for k, v in items]
    nan[2][1].flat[5] = np.nan
    put("hostile-nan-weight.safetensors", nan, meta)
    put("hostile-bad-metadata.safetensors", items, dict(meta, ngf="4x"))
    put("hostile-unknown-generator.safetensors", items, dict(meta, netG="resnet_0blocks"))
    put("hostile-extra-tensor.safetensors", items + [("model.99.weight", np.zeros(3, np.float32))], meta)
    put("hostile-cyclegan-one-generator.safetensors", [("G_A." + k, v) for k, v in items], dict(meta, kind="cyclegan"))
    put("hostile-no-kind.safetensors", items, {k: v for k, v in meta.items() if k != "kind"})


if __name__ == "__main__":
    main()
