#!/usr/bin/python3
"""Writes tests/data/fast_golden.safetensors: the output of the PyTorch examples' TransformerNet
(fast_neural_style, Johnson et al. 2016) for two small inputs, with impasto's converted weights,
for tests/test_fast.c.

    /usr/bin/python3 tools/gen_golden_fast.py [models/candy.safetensors] [tests/data/fast_golden.safetensors]

The weights file is made by `make models` (impasto convert ncnn-transformernet ...). The network
is built here in PyTorch module for module as the example defines it (ConvLayer = ReflectionPad2d
(k // 2) + Conv2d; ResidualBlock; UpsampleConvLayer = nearest interpolate x2 + ReflectionPad2d +
Conv2d; InstanceNorm2d(affine=True)), and the converted file is loaded with load_state_dict(strict=
True): so this also checks that every tensor name and shape impasto writes is PyTorch's.
The file is read with json and numpy only (an independent safetensors reader).

Inputs are deterministic RGB pictures in 0..255: 3x24x20 (sides multiples of 4: the output has
the input's size) and 3x21x19 (odd sides: PyTorch's output is 3x24x20, the stride-2 convs giving
ceil(n/2) and the upsamplings doubling). The reference is computed in float64 from the float32
weights; the script prints how far PyTorch's own float32 forward lands from it (the scale of error
of a correct float32 implementation; tests/test_fast.c states its tolerance from that).

Stored tensors (F32): input_even (3, 24, 20), output_even (3, 24, 20), input_odd (3, 21, 19),
output_odd (3, 24, 20); outputs are the raw network outputs (not clamped).
"""
import sys

import numpy as np
import torch
import torch.nn.functional as F

from safetensors_np import read_safetensors, write_safetensors  # noqa: E402,F401 (re-exported)

torch.set_num_threads(1)


class ConvLayer(torch.nn.Module):
    def __init__(self, cin, cout, k, stride):
        super().__init__()
        self.reflection_pad = torch.nn.ReflectionPad2d(k // 2)
        self.conv2d = torch.nn.Conv2d(cin, cout, k, stride)

    def forward(self, x):
        return self.conv2d(self.reflection_pad(x))


class ResidualBlock(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = ConvLayer(c, c, 3, 1)
        self.in1 = torch.nn.InstanceNorm2d(c, affine=True)
        self.conv2 = ConvLayer(c, c, 3, 1)
        self.in2 = torch.nn.InstanceNorm2d(c, affine=True)
        self.relu = torch.nn.ReLU()

    def forward(self, x):
        y = self.relu(self.in1(self.conv1(x)))
        return self.in2(self.conv2(y)) + x


class UpsampleConvLayer(torch.nn.Module):
    def __init__(self, cin, cout, k, stride, upsample):
        super().__init__()
        self.upsample = upsample
        self.reflection_pad = torch.nn.ReflectionPad2d(k // 2)
        self.conv2d = torch.nn.Conv2d(cin, cout, k, stride)

    def forward(self, x):
        x = F.interpolate(x, mode="nearest", scale_factor=self.upsample)
        return self.conv2d(self.reflection_pad(x))


class TransformerNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = ConvLayer(3, 32, 9, 1)
        self.in1 = torch.nn.InstanceNorm2d(32, affine=True)
        self.conv2 = ConvLayer(32, 64, 3, 2)
        self.in2 = torch.nn.InstanceNorm2d(64, affine=True)
        self.conv3 = ConvLayer(64, 128, 3, 2)
        self.in3 = torch.nn.InstanceNorm2d(128, affine=True)
        self.res1, self.res2, self.res3, self.res4, self.res5 = (ResidualBlock(128) for _ in range(5))
        self.deconv1 = UpsampleConvLayer(128, 64, 3, 1, 2)
        self.in4 = torch.nn.InstanceNorm2d(64, affine=True)
        self.deconv2 = UpsampleConvLayer(64, 32, 3, 1, 2)
        self.in5 = torch.nn.InstanceNorm2d(32, affine=True)
        self.deconv3 = ConvLayer(32, 3, 9, 1)
        self.relu = torch.nn.ReLU()

    def forward(self, x):
        y = self.relu(self.in1(self.conv1(x)))
        y = self.relu(self.in2(self.conv2(y)))
        y = self.relu(self.in3(self.conv3(y)))
        y = self.res5(self.res4(self.res3(self.res2(self.res1(y)))))
        y = self.relu(self.in4(self.deconv1(y)))
        y = self.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)


def test_image(h, w, seed):
    """A smooth colour field with a disc and a little deterministic texture, RGB 0..255."""
    y, x = np.meshgrid(np.arange(h) / h, np.arange(w) / w, indexing="ij")
    r = 0.5 + 0.4 * np.sin(6.0 * x + 2.0 * y)
    g = 0.5 + 0.4 * np.cos(5.0 * y - 3.0 * x * y)
    b = np.where((x - 0.6) ** 2 + (y - 0.4) ** 2 < 0.08, 0.9, 0.15)
    rng = np.random.RandomState(seed)
    img = np.stack([r, g, b]) + 0.05 * rng.uniform(-1, 1, size=(3, h, w))
    return (np.clip(img, 0.0, 1.0) * 255.0).astype(np.float32)


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "models/candy.safetensors"
    dst = sys.argv[2] if len(sys.argv) > 2 else "tests/data/fast_golden.safetensors"
    weights, meta = read_safetensors(src)
    assert meta.get("kind") == "transformernet", meta
    net = TransformerNet()
    net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=True)
    net.eval()
    out = []
    print("input        output        max|ref|   max|f32-ref|/max|ref|")
    with torch.no_grad():
        for tag, (h, w, seed) in (("even", (24, 20, 1)), ("odd", (21, 19, 2))):
            x = test_image(h, w, seed)
            ref = net.double()(torch.from_numpy(x).double()[None])[0].numpy()
            f32 = net.float()(torch.from_numpy(x)[None])[0].numpy()
            print("%-12s %-12s %10.4g %12.3g" % (x.shape, ref.shape, np.abs(ref).max(),
                                                  np.abs(f32 - ref).max() / np.abs(ref).max()))
            out += [("input_" + tag, x), ("output_" + tag, ref)]
    write_safetensors(dst, out, {
        "generator": "tools/gen_golden_fast.py",
        "network": "PyTorch examples fast_neural_style TransformerNet",
        "weights": "%s (style %s)" % (src, meta.get("style", "")),
        "reference": "float64 forward from the float32 weights, raw output (not clamped)",
    })
    print("wrote", dst)


if __name__ == "__main__":
    main()
