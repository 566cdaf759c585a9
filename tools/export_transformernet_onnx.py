#!/usr/bin/python3
"""Exports a converted fast style network (models/<style>.safetensors, made by `make models`) to
ONNX, for bench/fast_bench.py's onnxruntime side:

    /usr/bin/python3 tools/export_transformernet_onnx.py [models/candy.safetensors] [build/bench/candy.onnx]

The network is the PyTorch examples' TransformerNet as tools/gen_golden_fast.py builds it (module
for module; the file's tensors loaded with load_state_dict(strict=True)), so PyTorch, onnxruntime
and impasto all run the same weights. Input "input" (1, 3, H, W) and output "output"
(1, 3, OH, OW), RGB 0..255, with H and W dynamic; opset 13 (ReflectionPad2d becomes Pad with
mode "reflect", the nearest upsampling Resize, InstanceNorm2d InstanceNormalization).
Needs python3-torch only (torch.onnx writes the protobuf itself; the onnx package is not used).
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_golden_fast import TransformerNet, read_safetensors  # noqa: E402


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "models/candy.safetensors"
    dst = sys.argv[2] if len(sys.argv) > 2 else "build/bench/candy.onnx"
    weights, meta = read_safetensors(src)
    if meta.get("kind") != "transformernet":
        sys.exit("%s: not a converted fast style network (kind %r)" % (src, meta.get("kind")))
    net = TransformerNet()
    net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=True)
    net.eval()
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    tmp = dst + ".tmp"
    with torch.no_grad():
        torch.onnx.export(net, torch.zeros(1, 3, 64, 64), tmp, input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {2: "height", 3: "width"}, "output": {2: "oheight", 3: "owidth"}},
                          opset_version=13, do_constant_folding=True)
    os.replace(tmp, dst)
    print("wrote", dst)


if __name__ == "__main__":
    main()
