#!/usr/bin/python3
"""Writes tests/data/vgg19_golden.safetensors: VGG-19 activations computed by PyTorch from impasto's
converted weights, for tests/test_vgg19_golden.c.

    /usr/bin/python3 tools/gen_golden_vgg19.py [models/vgg19.safetensors] [tests/data/vgg19_golden.safetensors]

The weights file is made by `make models` (impasto convert vgg19 ...). It is read here with json and
numpy only, so this script also checks that impasto's safetensors writer is readable by an
independent reader; the golden file is written the same way, so the C reader is checked on a file
it did not write. No weights are stored in the golden file.

The network is neural-style's VGG-19 as loadcaffe builds it: 3x3 convolutions with zero padding 1,
ReLU, 2x2 stride-2 pooling in ceil mode (max, or average with the windows clipped at the far edge
as PyTorch's AvgPool2d(ceil_mode=True) does). The input is a deterministic 3x26x38 RGB picture in
0..1, Caffe-preprocessed in RGB order (x*255 - mean). 26x38 makes ceil mode matter at pool2 (13 ->
7), pool3 (19 -> 10, 7 -> 4) and pool4 (5 -> 3).

The reference is computed in float64 from the float32 weights, so it is the exact answer up to
float64 rounding; the script prints how far PyTorch's own float32 forward lands from it, which is
the scale of error a correct float32 implementation shows (tests/test_vgg19_golden.c states its
tolerance from that).

Stored tensors (F32, little-endian):
    input          (3, 26, 38)     preprocessed input
    relu1_1        (32, 26, 38)    first 32 of 64 channels (to keep the file small)
    relu2_1        (128, 13, 19)
    relu3_1        (256, 7, 10)
    relu4_1        (512, 4, 5)
    relu4_2        (512, 4, 5)
    relu5_1        (512, 2, 3)
    relu5_1_avg    (512, 2, 3)     the same network with average pooling
"""
import sys

import numpy as np
import torch
import torch.nn.functional as F

from safetensors_np import read_safetensors, write_safetensors  # noqa: E402,F401 (re-exported)

CONVS = ["conv1_1", "conv1_2", "conv2_1", "conv2_2",
         "conv3_1", "conv3_2", "conv3_3", "conv3_4",
         "conv4_1", "conv4_2", "conv4_3", "conv4_4",
         "conv5_1", "conv5_2", "conv5_3", "conv5_4"]
POOL_AFTER = {"conv1_2", "conv2_2", "conv3_4", "conv4_4"}
MEAN_RGB = np.array([123.68, 116.779, 103.939])
H, W = 26, 38
STORE = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1"]
RELU1_1_CHANNELS = 32


def test_image():
    """A smooth colour field with edges and a little deterministic texture, RGB in 0..1."""
    y, x = np.meshgrid(np.arange(H) / H, np.arange(W) / W, indexing="ij")
    r = 0.5 + 0.4 * np.sin(6.0 * x + 2.0 * y)
    g = 0.5 + 0.4 * np.cos(5.0 * y - 3.0 * x * y)
    b = np.where((x - 0.6) ** 2 + (y - 0.4) ** 2 < 0.08, 0.9, 0.15)
    rng = np.random.RandomState(1234)
    img = np.stack([r, g, b]) + 0.05 * rng.uniform(-1, 1, size=(3, H, W))
    return np.clip(img, 0.0, 1.0)


def forward(weights, x, pooling, dtype):
    """x (1, 3, H, W) -> {relu name: activation (C, h, w)}."""
    out = {}
    h = torch.from_numpy(x).to(dtype)
    for name in CONVS:
        w = torch.from_numpy(weights[name + ".weight"]).to(dtype)
        b = torch.from_numpy(weights[name + ".bias"]).to(dtype)
        h = F.relu(F.conv2d(h, w, b, padding=1))
        out["relu" + name[4:]] = h[0].numpy().astype(np.float64)
        if name in POOL_AFTER:
            if pooling == "max":
                h = F.max_pool2d(h, 2, 2, ceil_mode=True)
            else:
                h = F.avg_pool2d(h, 2, 2, ceil_mode=True)
    return out


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "models/vgg19.safetensors"
    dst = sys.argv[2] if len(sys.argv) > 2 else "tests/data/vgg19_golden.safetensors"
    weights, meta = read_safetensors(src)
    assert meta.get("kind") == "vgg19", meta
    for i, name in enumerate(CONVS):
        oc, ic = weights[name + ".weight"].shape[:2]
        assert weights[name + ".weight"].shape[2:] == (3, 3) and weights[name + ".bias"].shape == (oc,)
        assert i == 0 or ic == weights[CONVS[i - 1] + ".weight"].shape[0]

    img = test_image()
    x = (img * 255.0 - MEAN_RGB[:, None, None])[None]

    ref = forward(weights, x, "max", torch.float64)
    ref_avg = forward(weights, x, "avg", torch.float64)
    f32 = forward(weights, x.astype(np.float32), "max", torch.float32)
    f32_avg = forward(weights, x.astype(np.float32), "avg", torch.float32)

    print("layer        shape            max|ref|   max|f32-ref|/max|ref|")
    for name in STORE:
        r, f = ref[name], f32[name]
        print("%-12s %-16s %10.4g %12.3g" % (name, r.shape, np.abs(r).max(),
                                              np.abs(f - r).max() / np.abs(r).max()))
    r, f = ref_avg["relu5_1"], f32_avg["relu5_1"]
    print("%-12s %-16s %10.4g %12.3g" % ("relu5_1_avg", r.shape, np.abs(r).max(),
                                          np.abs(f - r).max() / np.abs(r).max()))

    tensors = [("input", x[0])]
    for name in STORE:
        a = ref[name]
        if name == "relu1_1":
            a = a[:RELU1_1_CHANNELS]
        tensors.append((name, a))
    tensors.append(("relu5_1_avg", ref_avg["relu5_1"]))
    write_safetensors(dst, tensors, {
        "generator": "tools/gen_golden_vgg19.py",
        "network": "VGG-19, 3x3 conv pad 1 + ReLU, 2x2/2 pooling ceil mode; relu1_1 holds channels 0..31",
        "weights": meta.get("source", ""),
        "input": "RGB 0..1 test pattern *255 - mean (123.68, 116.779, 103.939), 3x%dx%d" % (H, W),
        "reference": "float64 forward from the float32 weights",
    })
    print("wrote", dst)


if __name__ == "__main__":
    main()
