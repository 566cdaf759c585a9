#!/usr/bin/python3
"""Writes tests/data/gan_golden.safetensors: forward passes of the CycleGAN and pix2pix networks
(junyanz/pytorch-CycleGAN-and-pix2pix, models/networks.py) and one optimisation step of each model as
its CycleGANModel / Pix2PixModel.optimize_parameters takes it, computed by PyTorch, for the C tests of
the adversarial networks.

    /usr/bin/python3 tools/gen_golden_gan.py [tests/data/gan_golden.safetensors] [--widths small|brief]

The networks are tools/gan_ref.py's rebuilds of the reference's modules; before anything is computed
this script checks them against a layout written out independently here from the reference's layer
order (every Sequential index, pads, activations and dropouts included, every state_dict key and shape,
and a few keys of the published pretrained files) and prints the key lists. Weights are initialised as
the reference's init_weights('normal', 0.02) does (fixed torch seeds), then every bias and every
BatchNorm beta gets N(0, 0.05) added, so that an implementation which drops a bias fails; the BatchNorm
running statistics of the eval-mode cases are set to mean N(0, 0.1), var U(0.5, 1.5) first. Inputs are
deterministic pictures in [-1, 1]. Every reference is computed in float64 from the float32 weights and
inputs (the model .double()), stored as float32; the script prints how far PyTorch's own float32 run
lands from it (the scale of error of a correct float32 implementation), per case.

Cases (each tensor's name starts with its case; <key> is the reference's state_dict key; the BatchNorm
num_batches_tracked counters (int64) are not stored; the metadata's "<case>" entries give each case's
configuration and "widths" the channel widths used):
  res.     ResnetGenerator(3, 3, ngf, norm 'instance', n_blocks 2): res.x (1,3,20,24) -> res.y;
           res.x_odd (1,3,21,19) -> res.y_odd (1,3,24,20): the stride-2 convolutions round up and the
           transposed ones double. Weights res.<key>.
  unet.    UnetGenerator(3, 3, num_downs 5, ngf, 'batch', use_dropout=True): unet.x (1,3,32,32) ->
           unet.y_train (training mode: the batch's statistics; Dropout modules kept in eval mode,
           though at num_downs 5 the reference makes none) and unet.y_eval (eval mode, the stored
           running statistics).
  patch.   NLayerDiscriminator(6, ndf, n_layers 3, 'batch'): patch.x (1,6,32,32) -> patch.y_train,
           patch.y_eval (1,1,2,2).
  patchi.  NLayerDiscriminator(3, ndf, n_layers 3, 'instance'): patchi.x (1,3,32,32) -> patchi.y.
  pixel.   PixelDiscriminator(6, ndf, 'batch'): pixel.x (1,6,16,16) -> pixel.y_train, pixel.y_eval.
  cyc.     One CycleGAN step with the reference's defaults: G_A, G_B = the res architecture, D_A, D_B =
           the patchi one; gan_mode lsgan (MSE against all-ones / all-zeros), lambda_A = lambda_B = 10,
           lambda_identity 0.5, Adam lr 2e-4 betas (0.5, 0.999) (one over G_A + G_B, one over D_A + D_B),
           ImagePool(50) (the first query returns its image). In order: fake_B = G_A(real_A),
           rec_A = G_B(fake_B), fake_A = G_B(real_B), rec_B = G_A(fake_A); D frozen: idt_A = G_A(real_B),
           idt_B = G_B(real_A), loss_G = loss_G_A + loss_G_B + loss_cycle_A + loss_cycle_B + loss_idt_A +
           loss_idt_B, backward, G step; then D: loss_D_A = 0.5 (MSE(D_A(real_B), 1) + MSE(D_A(fake_B), 0)),
           loss_D_B likewise with real_A and fake_A (the fakes of the first forward, before the G step),
           backward, D step. Stored: cyc.real_A, cyc.real_B (1,3,24,24); cyc.<net>.<key> the starting
           weights, cyc.grad.<net>.<key> each parameter's gradient after its backward,
           cyc.after.<net>.<key> the weights after the step (<net> G_A, G_B, D_A, D_B); cyc.fake_B,
           rec_A, fake_A, rec_B, idt_A, idt_B; cyc.loss_G_A, loss_G_B, loss_cycle_A, loss_cycle_B,
           loss_idt_A, loss_idt_B, loss_G, loss_D_A, loss_D_B, each (1,).
  p2p.     One pix2pix step: G = UnetGenerator(3, 3, num_downs 5, ngf, 'batch', no dropout), D =
           NLayerDiscriminator(6, ndf, n_layers 3, 'batch'), both in training mode; gan_mode vanilla
           (BCEWithLogitsLoss), lambda_L1 100, pool 0, Adam 2e-4 (0.5, 0.999). fake_B = G(real_A); D step
           first: loss_D = 0.5 (BCE(D(cat(A, fake_B)), 0) + BCE(D(cat(A, B)), 1)); then D frozen and the
           G step through the UPDATED D: loss_G = BCE(D(cat(A, fake_B)), 1) + 100 L1(fake_B, B). The
           running statistics move on every training-mode forward (G once, D three times: fake, real,
           then the G step's). Stored: p2p.real_A, p2p.real_B (1,3,32,32); p2p.G.<key>, p2p.D.<key>
           (weights and running statistics), p2p.grad.G/D.<key>, p2p.after.G/D.<key> (weights and
           running statistics after the step); p2p.fake_B; p2p.loss_D_fake, loss_D_real, loss_D,
           loss_G_GAN, loss_G_L1, loss_G, each (1,).

Widths and sizes: the file must stay under 400 KB, and at the widths first planned (ngf = ndf = 4
everywhere, CycleGAN at 32x32) it is 2.2 MB: the U-Net alone holds 65 000 weights at ngf 4, each step
stores every weight three times (before, gradient, after) and the images and the 471 tensor names take
290 KB by themselves. So by default (--widths small, 394 KB) ngf is 2 for res, ndf 4 for pixel, and
ngf = ndf = 1 for everything else, and the CycleGAN step runs at 24x24 (its discriminators' output is
then 1x1). Every layer, index, key and code path is the same at any width (the widths are in the
metadata; only the shapes change). --widths brief writes the first plan: ngf = ndf = 4 throughout and
cyc at 32x32 (2.2 MB; not committed).

Float32 against the float64 reference, as the script prints it (--widths small, PyTorch 1.13, x86-64):
  forward outputs: |f32 - f64| <= 7e-7 (res, max |y| 0.6); relative to each output's largest |y|
      <= 1.2e-6 (unet.y_eval's max |y| is 0.05, pixel.y_eval's 5e-4: compare relatively).
  steps (float64; float32 run for comparison): losses <= 4e-7 relative; outputs <= 1.3e-6; gradients
      <= 1.3e-5 of each tensor's largest |gradient| (cyc; p2p 1.1e-6), except the conv biases an
      affine-free InstanceNorm cancels (model.1/4/7, the blocks' convs, the two transposed convs of G;
      model.2/5/8 of D): their gradient is 0 in exact arithmetic, ~1e-14 in float64, up to 7e-6 in
      float32. Weights after the step: p2p <= 1.2e-7, cyc <= 3.4e-9 except those cancelled biases, where
      it reaches 2e-4 = lr: Adam's first step moves each weight by lr * g / (|g| + 1e-8), so a bias whose
      gradient is rounding noise moves by up to lr either way in float32 and not at all in float64.
      A C test should skip them (or allow lr there); they do not change any output.
"""
import argparse
import copy
import itertools
import os
import random
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gan_ref import (ImagePool, NLayerDiscriminator, PixelDiscriminator, ResnetGenerator,  # noqa: E402
                     UnetGenerator, init_normal)
from safetensors_np import write_safetensors  # noqa: E402

torch.set_num_threads(1)

WIDTHS = {
    # case: (ngf or ndf of the generator, ndf of the discriminator)
    "small": {"res": 2, "unet": 1, "patch": 1, "patchi": 1, "pixel": 4, "cyc_G": 1, "cyc_D": 1, "p2p_G": 1,
              "p2p_D": 1, "cyc_size": 24},
    "brief": {"res": 4, "unet": 4, "patch": 4, "patchi": 4, "pixel": 4, "cyc_G": 4, "cyc_D": 4, "p2p_G": 4,
              "p2p_D": 4, "cyc_size": 32},
}
LR, BETAS = 2e-4, (0.5, 0.999)


# ---- the reference's layout, written out independently of gan_ref.py -----------------------------------

class Layout:
    """The leaf modules (path, class name) in the order named_modules lists them, and the state_dict
    (key, shape) pairs in state_dict order."""

    def __init__(self, norm):
        self.norm, self.leaves, self.keys = norm, [], []

    def leaf(self, path, kind, **params):
        self.leaves.append((path, kind))
        self.keys += [(path + "." + k, tuple(v)) for k, v in params.items()]

    def conv(self, path, cin, cout, k, bias, transposed=False):
        shape = (cin, cout, k, k) if transposed else (cout, cin, k, k)
        p = {"weight": shape}
        if bias:
            p["bias"] = (cout,)
        self.leaf(path, "ConvTranspose2d" if transposed else "Conv2d", **p)

    def nrm(self, path, c):
        if self.norm == "batch":
            self.leaf(path, "BatchNorm2d", weight=(c,), bias=(c,), running_mean=(c,), running_var=(c,),
                      num_batches_tracked=())
        else:
            self.leaf(path, "InstanceNorm2d")


def layout_resnet(cin, cout, ngf, n_blocks, norm, dropout):
    L, b = Layout(norm), norm == "instance"
    L.leaf("model.0", "ReflectionPad2d")
    L.conv("model.1", cin, ngf, 7, b)
    L.nrm("model.2", ngf)
    L.leaf("model.3", "ReLU")
    L.conv("model.4", ngf, 2 * ngf, 3, b)
    L.nrm("model.5", 2 * ngf)
    L.leaf("model.6", "ReLU")
    L.conv("model.7", 2 * ngf, 4 * ngf, 3, b)
    L.nrm("model.8", 4 * ngf)
    L.leaf("model.9", "ReLU")
    for i in range(10, 10 + n_blocks):
        p = "model.%d.conv_block." % i
        d = 1 if dropout else 0
        L.leaf(p + "0", "ReflectionPad2d")
        L.conv(p + "1", 4 * ngf, 4 * ngf, 3, b)
        L.nrm(p + "2", 4 * ngf)
        L.leaf(p + "3", "ReLU")
        if dropout:
            L.leaf(p + "4", "Dropout")
        L.leaf(p + str(4 + d), "ReflectionPad2d")
        L.conv(p + str(5 + d), 4 * ngf, 4 * ngf, 3, b)
        L.nrm(p + str(6 + d), 4 * ngf)
    j = 10 + n_blocks
    L.conv("model.%d" % j, 4 * ngf, 2 * ngf, 3, b, transposed=True)
    L.nrm("model.%d" % (j + 1), 2 * ngf)
    L.leaf("model.%d" % (j + 2), "ReLU")
    L.conv("model.%d" % (j + 3), 2 * ngf, ngf, 3, b, transposed=True)
    L.nrm("model.%d" % (j + 4), ngf)
    L.leaf("model.%d" % (j + 5), "ReLU")
    L.leaf("model.%d" % (j + 6), "ReflectionPad2d")
    L.conv("model.%d" % (j + 7), ngf, cout, 7, True)
    L.leaf("model.%d" % (j + 8), "Tanh")
    return L


def layout_unet(cin, cout, num_downs, ngf, norm, dropout):
    L, b = Layout(norm), norm == "instance"
    # (outer, inner, dropout) from the outermost block's child inwards; the innermost last.
    blocks = [(ngf, 2 * ngf, False), (2 * ngf, 4 * ngf, False), (4 * ngf, 8 * ngf, False)]
    blocks += [(8 * ngf, 8 * ngf, dropout)] * (num_downs - 5)

    def inner(p, depth):
        if depth == len(blocks):  # the innermost block
            L.leaf(p + "0", "LeakyReLU")
            L.conv(p + "1", 8 * ngf, 8 * ngf, 4, b)
            L.leaf(p + "2", "ReLU")
            L.conv(p + "3", 8 * ngf, 8 * ngf, 4, b, transposed=True)
            L.nrm(p + "4", 8 * ngf)
            return
        o, i, d = blocks[depth]
        L.leaf(p + "0", "LeakyReLU")
        L.conv(p + "1", o, i, 4, b)
        L.nrm(p + "2", i)
        inner(p + "3.model.", depth + 1)
        L.leaf(p + "4", "ReLU")
        L.conv(p + "5", 2 * i, o, 4, b, transposed=True)
        L.nrm(p + "6", o)
        if d:
            L.leaf(p + "7", "Dropout")

    L.conv("model.model.0", cin, ngf, 4, b)
    inner("model.model.1.model.", 0)
    L.leaf("model.model.2", "ReLU")
    L.conv("model.model.3", 2 * ngf, cout, 4, True, transposed=True)
    L.leaf("model.model.4", "Tanh")
    return L


def layout_nlayer(cin, ndf, n_layers, norm):
    L, b = Layout(norm), norm == "instance"
    L.conv("model.0", cin, ndf, 4, True)
    L.leaf("model.1", "LeakyReLU")
    i, c = 2, ndf
    for n in range(1, n_layers + 1):
        co = ndf * min(2 ** n, 8)
        L.conv("model.%d" % i, c, co, 4, b)
        L.nrm("model.%d" % (i + 1), co)
        L.leaf("model.%d" % (i + 2), "LeakyReLU")
        i, c = i + 3, co
    L.conv("model.%d" % i, c, 1, 4, True)
    return L


def layout_pixel(cin, ndf, norm):
    L, b = Layout(norm), norm == "instance"
    L.conv("net.0", cin, ndf, 1, True)
    L.leaf("net.1", "LeakyReLU")
    L.conv("net.2", ndf, 2 * ndf, 1, b)
    L.nrm("net.3", 2 * ndf)
    L.leaf("net.4", "LeakyReLU")
    L.conv("net.5", 2 * ndf, 1, 1, b)
    return L


def check_layout(name, net, want, verbose):
    leaves = [(p, type(m).__name__) for p, m in net.named_modules() if p and not list(m.children())]
    keys = [(k, tuple(v.shape)) for k, v in net.state_dict().items()]
    if leaves != want.leaves or keys != want.keys:
        for a, b in itertools.zip_longest(leaves + keys, want.leaves + want.keys):
            if a != b:
                sys.exit("%s: the layout differs from the reference's at %s (expected %s)" % (name, a, b))
    if verbose:
        print("%s: %d modules, %d state_dict entries:" % (name, len(leaves), len(keys)))
        print("   " + " ".join("%s%s" % (k, list(s)) for k, s in keys))


def check_layouts(verbose):
    """Every network in the configurations this script and the reference's presets use, against the
    layout above, including dropout placement; then keys of the published pretrained files."""
    for norm in ("instance", "batch"):
        for nb, dr in ((2, False), (2, True), (9, False), (6, True)):
            check_layout("ResnetGenerator(ngf 4, %d blocks, %s%s)" % (nb, norm, ", dropout" if dr else ""),
                         ResnetGenerator(3, 3, 4, norm, dr, nb), layout_resnet(3, 3, 4, nb, norm, dr),
                         verbose and (nb, dr, norm) in ((2, False, "instance"), (2, True, "instance")))
        for nd, dr in ((5, True), (5, False), (7, True), (8, True), (8, False)):
            check_layout("UnetGenerator(num_downs %d, ngf 2, %s%s)" % (nd, norm, ", dropout" if dr else ""),
                         UnetGenerator(3, 3, nd, 2, norm, dr), layout_unet(3, 3, nd, 2, norm, dr),
                         verbose and (nd, dr, norm) in ((5, True, "batch"), (7, True, "batch")))
        for nl in (3, 5):
            check_layout("NLayerDiscriminator(6, ndf 4, n_layers %d, %s)" % (nl, norm),
                         NLayerDiscriminator(6, 4, nl, norm), layout_nlayer(6, 4, nl, norm), verbose and nl == 3)
        check_layout("PixelDiscriminator(6, ndf 4, %s)" % norm, PixelDiscriminator(6, 4, norm),
                     layout_pixel(6, 4, norm), verbose)
    # Keys every resnet_9blocks CycleGAN file and every unet_256 pix2pix file holds (ngf 64).
    g = ResnetGenerator(3, 3, 64, "instance", False, 9).state_dict()
    for k, s in (("model.1.weight", (64, 3, 7, 7)), ("model.10.conv_block.1.weight", (256, 256, 3, 3)),
                 ("model.18.conv_block.5.bias", (256,)), ("model.19.weight", (256, 128, 3, 3)),
                 ("model.22.weight", (128, 64, 3, 3)), ("model.26.weight", (3, 64, 7, 7)), ("model.26.bias", (3,))):
        assert tuple(g[k].shape) == s, k
    assert len(g) == 2 * (3 + 2 * 9 + 2 + 1)
    u = UnetGenerator(3, 3, 8, 64, "batch", True).state_dict()
    inner = "model.model.1" + ".model.3" * 6 + ".model."
    for k, s in (("model.model.0.weight", (64, 3, 4, 4)), ("model.model.1.model.1.weight", (128, 64, 4, 4)),
                 ("model.model.1.model.5.weight", (256, 64, 4, 4)), ("model.model.3.weight", (128, 3, 4, 4)),
                 ("model.model.3.bias", (3,)), (inner + "1.weight", (512, 512, 4, 4)),
                 (inner + "3.weight", (512, 512, 4, 4)), (inner + "4.running_var", (512,))):
        assert tuple(u[k].shape) == s, k
    print("layouts: as the reference builds them (every module index and state_dict key and shape)")


def check_inplace_skip():
    """The U-Net's skip carries x after the in-place LeakyReLU that begins each inner block; since each
    concatenation goes straight into a ReLU, relu(lrelu(x)) = relu(x): outputs and gradients are those of
    an out-of-place network."""
    torch.manual_seed(5)
    a = init_normal(UnetGenerator(3, 3, 5, 2, "batch"))
    b = copy.deepcopy(a)
    for m in b.modules():
        if isinstance(m, (nn.LeakyReLU, nn.ReLU)):
            m.inplace = False
    x = torch.rand(1, 3, 32, 32, dtype=torch.float64) * 2 - 1
    a, b = a.double(), b.double()
    ya, yb = a(x), b(x)
    ya.square().sum().backward()
    yb.square().sum().backward()
    d = max([float((ya - yb).abs().max())] + [float((p.grad - q.grad).abs().max())
                                              for p, q in zip(a.parameters(), b.parameters())])
    assert d < 1e-14, d
    print("in-place LeakyReLU before each U-Net skip: no effect on outputs or gradients (max diff %.1e)" % d)


# ---- weights and inputs -------------------------------------------------------------------------------

def make(net, seed, bias_sd=0.05):
    """init_weights('normal', 0.02) under torch seed `seed`, then N(0, bias_sd) added to every bias and
    every BatchNorm beta."""
    torch.manual_seed(seed)
    init_normal(net)
    g = torch.Generator().manual_seed(seed + 1000)
    with torch.no_grad():
        for m in net.modules():
            if getattr(m, "bias", None) is not None:
                m.bias.add_(torch.randn(m.bias.shape, generator=g) * bias_sd)
    return net


def random_stats(net, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
    return net


def picture(c, h, w, seed):
    """Smooth colour fields and a disc with a little seeded noise, in [-1, 1], (1, c, h, w) float32."""
    y, x = np.meshgrid(np.arange(h) / h, np.arange(w) / w, indexing="ij")
    rng = np.random.RandomState(seed)
    planes = []
    for k in range(c):
        a, b, ph = rng.uniform(2, 7), rng.uniform(2, 7), rng.uniform(0, 6.3)
        p = 0.8 * np.sin(a * x + b * y * y + ph)
        p = np.where((x - 0.3 - 0.1 * k) ** 2 + (y - 0.6) ** 2 < 0.05, -0.7 + 0.2 * k, p)
        planes.append(p + 0.15 * rng.uniform(-1, 1, size=(h, w)))
    return np.clip(np.stack(planes), -1, 1)[None].astype(np.float32)


def state(net, prefix, grads=False):
    """(prefix + key, array) for every float tensor of the state_dict (num_batches_tracked left out); with
    grads, each parameter's .grad instead."""
    if grads:
        return [(prefix + k, p.grad.detach().double().numpy()) for k, p in net.named_parameters()]
    return [(prefix + k, v.detach().double().numpy()) for k, v in net.state_dict().items()
            if v.is_floating_point()]


def maxdiff(a, b):
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max())


class Report:
    def __init__(self):
        self.rows = []

    def add(self, what, f32, f64, rel=False):
        """The largest |f32 - f64| over the pairs of arrays, and the largest |f64|."""
        d = max(maxdiff(a, b) for a, b in zip(f32, f64))
        m = max(float(np.abs(b).max()) for b in f64)
        self.rows.append((what, d, m))
        print("  %-44s max|f32-f64| %9.2e   max|f64| %9.3g%s" % (what, d, m,
                                                                     "   (%.1e relative)" % (d / m) if rel else ""))


# ---- forward cases ------------------------------------------------------------------------------------

def forward_case(name, net, inputs, modes, rep, out):
    """inputs: [(suffix, array)]; modes: ['train', 'eval'] or [None] (output `y`)."""
    out += [(name + "." + k, v) for k, v in state(net, "")]
    for sx, x in inputs:
        out.append((name + "." + sx, x))
    for mode in modes:
        ys = {}
        for dt in (torch.float64, torch.float32):
            n = copy.deepcopy(net).to(dt)
            n.train(mode == "train")
            for m in n.modules():  # dropout off even in training mode
                if isinstance(m, nn.Dropout):
                    m.eval()
            with torch.no_grad():
                ys[dt] = [n(torch.from_numpy(x).to(dt)).numpy() for _, x in inputs]
        for (sx, x), y64, y32 in zip(inputs, ys[torch.float64], ys[torch.float32]):
            oname = "y" + sx[1:] + ("_" + mode if mode else "")
            out.append((name + "." + oname, y64))
            rep.add("%s.%s %s" % (name, oname, tuple(y64.shape)), [y32], [y64])


# ---- the optimisation steps ---------------------------------------------------------------------------

def cyclegan_step(nets, real_A, real_B, dt):
    G_A, G_B, D_A, D_B = (copy.deepcopy(n).to(dt).train() for n in nets)
    A, B = torch.from_numpy(real_A).to(dt), torch.from_numpy(real_B).to(dt)
    opt_G = torch.optim.Adam(itertools.chain(G_A.parameters(), G_B.parameters()), lr=LR, betas=BETAS)
    opt_D = torch.optim.Adam(itertools.chain(D_A.parameters(), D_B.parameters()), lr=LR, betas=BETAS)
    pool_A, pool_B = ImagePool(50, random.Random(0)), ImagePool(50, random.Random(1))
    mse, l1 = nn.MSELoss(), nn.L1Loss()

    def gan(pred, real):
        return mse(pred, torch.full_like(pred, 1.0 if real else 0.0))

    r = {}
    fake_B = G_A(A)
    rec_A = G_B(fake_B)
    fake_A = G_B(B)
    rec_B = G_A(fake_A)
    for p in itertools.chain(D_A.parameters(), D_B.parameters()):
        p.requires_grad_(False)
    opt_G.zero_grad()
    idt_A = G_A(B)
    r["loss_idt_A"] = l1(idt_A, B) * 10.0 * 0.5
    idt_B = G_B(A)
    r["loss_idt_B"] = l1(idt_B, A) * 10.0 * 0.5
    r["loss_G_A"] = gan(D_A(fake_B), True)
    r["loss_G_B"] = gan(D_B(fake_A), True)
    r["loss_cycle_A"] = l1(rec_A, A) * 10.0
    r["loss_cycle_B"] = l1(rec_B, B) * 10.0
    r["loss_G"] = (r["loss_G_A"] + r["loss_G_B"] + r["loss_cycle_A"] + r["loss_cycle_B"] + r["loss_idt_A"] +
                   r["loss_idt_B"])
    r["loss_G"].backward()
    opt_G.step()
    for p in itertools.chain(D_A.parameters(), D_B.parameters()):
        p.requires_grad_(True)
    opt_D.zero_grad()
    for D, real, fake, pool, key in ((D_A, B, fake_B, pool_B, "loss_D_A"), (D_B, A, fake_A, pool_A, "loss_D_B")):
        f = pool.query(fake)
        loss = (gan(D(real), True) + gan(D(f.detach()), False)) * 0.5
        loss.backward()
        r[key] = loss
    opt_D.step()
    res = {"losses": {k: np.array([float(v)]) for k, v in r.items()},
           "images": {k: v.detach().numpy() for k, v in (("fake_B", fake_B), ("rec_A", rec_A), ("fake_A", fake_A),
                                                          ("rec_B", rec_B), ("idt_A", idt_A), ("idt_B", idt_B))}}
    nets = dict(zip(("G_A", "G_B", "D_A", "D_B"), (G_A, G_B, D_A, D_B)))
    res["grads"] = {n: state(m, "", grads=True) for n, m in nets.items()}
    res["after"] = {n: state(m, "") for n, m in nets.items()}
    return res


def pix2pix_step(nets, real_A, real_B, dt):
    G, D = (copy.deepcopy(n).to(dt).train() for n in nets)
    A, B = torch.from_numpy(real_A).to(dt), torch.from_numpy(real_B).to(dt)
    opt_G = torch.optim.Adam(G.parameters(), lr=LR, betas=BETAS)
    opt_D = torch.optim.Adam(D.parameters(), lr=LR, betas=BETAS)
    bce, l1 = nn.BCEWithLogitsLoss(), nn.L1Loss()

    def gan(pred, real):
        return bce(pred, torch.full_like(pred, 1.0 if real else 0.0))

    r = {}
    fake_B = G(A)
    for p in D.parameters():
        p.requires_grad_(True)
    opt_D.zero_grad()
    r["loss_D_fake"] = gan(D(torch.cat((A, fake_B), 1).detach()), False)
    r["loss_D_real"] = gan(D(torch.cat((A, B), 1)), True)
    r["loss_D"] = (r["loss_D_fake"] + r["loss_D_real"]) * 0.5
    r["loss_D"].backward()
    opt_D.step()
    for p in D.parameters():
        p.requires_grad_(False)
    opt_G.zero_grad()
    r["loss_G_GAN"] = gan(D(torch.cat((A, fake_B), 1)), True)
    r["loss_G_L1"] = l1(fake_B, B) * 100.0
    r["loss_G"] = r["loss_G_GAN"] + r["loss_G_L1"]
    r["loss_G"].backward()
    opt_G.step()
    return {"losses": {k: np.array([float(v)]) for k, v in r.items()},
            "images": {"fake_B": fake_B.detach().numpy()},
            "grads": {"G": state(G, "", grads=True), "D": state(D, "", grads=True)},
            "after": {"G": state(G, ""), "D": state(D, "")}}


def step_case(name, step, nets, inputs, rep, out):
    for n, net in nets.items():
        out += state(net, "%s.%s." % (name, n))
    out += [("%s.%s" % (name, k), v) for k, v in inputs.items()]
    r64 = step(list(nets.values()), inputs["real_A"], inputs["real_B"], torch.float64)
    r32 = step(list(nets.values()), inputs["real_A"], inputs["real_B"], torch.float32)
    for k, v in r64["losses"].items():
        out.append(("%s.%s" % (name, k), v))
        rep.add("%s.%s = %.6g" % (name, k, v[0]), [r32["losses"][k]], [v], rel=True)
    for k, v in r64["images"].items():
        out.append(("%s.%s" % (name, k), v))
    rep.add("%s outputs (%s)" % (name, ", ".join(r64["images"])), list(r32["images"].values()),
            list(r64["images"].values()))
    for n, net in nets.items():
        g64, g32 = r64["grads"][n], r32["grads"][n]
        out += [("%s.grad.%s.%s" % (name, n, k), v) for k, v in g64]
        # Each gradient tensor's error relative to its own largest value, but for the biases an
        # InstanceNorm cancels (zero in exact arithmetic: rounding noise on both sides).
        skip = set(cancelled_biases(net))
        worst = max(maxdiff(a, b) / float(np.abs(b).max()) for (k, a), (_, b) in zip(g32, g64) if k not in skip)
        gmax = max(float(np.abs(b).max()) for _, b in g64)
        print("  %-44s max|f32-f64| / max|f64| per tensor %8.1e   (max|grad| %.3g)"
              % ("%s.grad.%s" % (name, n), worst, gmax))
        rep.rows.append(("%s.grad.%s (relative, per tensor)" % (name, n), worst, gmax))
    for n in nets:
        a64, a32 = r64["after"][n], r32["after"][n]
        out += [("%s.after.%s.%s" % (name, n, k), v) for k, v in a64]
        rep.add("%s.after.%s" % (name, n), [v for _, v in a32], [v for _, v in a64])
    return r64, r32


def cancelled_biases(net):
    """Keys of the conv biases an affine-free InstanceNorm cancels (their gradient is 0 in exact arithmetic)."""
    mods = list(net.named_modules())
    out = []
    for (p, m), (_, nxt) in zip(mods, mods[1:]):
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and m.bias is not None and \
                isinstance(nxt, nn.InstanceNorm2d) and not nxt.affine:
            out.append(p + ".bias")
    return out


# ---- main -----------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", nargs="?", default="tests/data/gan_golden.safetensors")
    ap.add_argument("--widths", choices=sorted(WIDTHS), default="small")
    ap.add_argument("--quiet-layouts", action="store_true", help="do not print the key lists")
    a = ap.parse_args()
    W = WIDTHS[a.widths]
    check_layouts(not a.quiet_layouts)
    check_inplace_skip()

    out, rep = [], Report()
    meta = {"generator": "tools/gen_golden_gan.py",
            "reference": "junyanz/pytorch-CycleGAN-and-pix2pix models/networks.py, cycle_gan_model.py, "
                         "pix2pix_model.py (rebuilt in tools/gan_ref.py)",
            "widths": a.widths + ": " + ", ".join("%s %d" % kv for kv in W.items()),
            "init": "init_weights normal 0.02 (conv weights N(0,0.02), BatchNorm gamma N(1,0.02)), then every "
                    "bias and BatchNorm beta + N(0,0.05); eval-mode running_mean N(0,0.1), running_var U(0.5,1.5)",
            "precision": "references computed in float64 from the float32 weights and inputs, stored float32"}

    print("forward passes (float64 reference, float32 run):")
    res = make(ResnetGenerator(3, 3, W["res"], "instance", False, 2), 1)
    forward_case("res", res, [("x", picture(3, 20, 24, 1)), ("x_odd", picture(3, 21, 19, 2))], [None], rep, out)
    meta["res"] = ("ResnetGenerator(input_nc 3, output_nc 3, ngf %d, norm instance (affine False, no running "
                   "stats), n_blocks 2, reflect padding, no dropout); x (1,3,20,24) -> y; x_odd (1,3,21,19) -> "
                   "y_odd (1,3,24,20)" % W["res"])

    unet = random_stats(make(UnetGenerator(3, 3, 5, W["unet"], "batch", True), 2), 12)
    forward_case("unet", unet, [("x", picture(3, 32, 32, 3))], ["train", "eval"], rep, out)
    meta["unet"] = ("UnetGenerator(3, 3, num_downs 5, ngf %d, norm batch, use_dropout True: no Dropout module at "
                    "num_downs 5); x (1,3,32,32) -> y_train (batch statistics) and y_eval (running statistics as "
                    "stored)" % W["unet"])

    patch = random_stats(make(NLayerDiscriminator(6, W["patch"], 3, "batch"), 3), 13)
    forward_case("patch", patch, [("x", picture(6, 32, 32, 4))], ["train", "eval"], rep, out)
    meta["patch"] = ("NLayerDiscriminator(input_nc 6, ndf %d, n_layers 3, norm batch); x (1,6,32,32) -> y_train, "
                     "y_eval (1,1,2,2)" % W["patch"])

    patchi = make(NLayerDiscriminator(3, W["patchi"], 3, "instance"), 4)
    forward_case("patchi", patchi, [("x", picture(3, 32, 32, 5))], [None], rep, out)
    meta["patchi"] = ("NLayerDiscriminator(input_nc 3, ndf %d, n_layers 3, norm instance); x (1,3,32,32) -> y "
                      "(1,1,2,2)" % W["patchi"])

    pixel = random_stats(make(PixelDiscriminator(6, W["pixel"], "batch"), 5), 15)
    forward_case("pixel", pixel, [("x", picture(6, 16, 16, 6))], ["train", "eval"], rep, out)
    meta["pixel"] = ("PixelDiscriminator(input_nc 6, ndf %d, norm batch: the last two 1x1 convolutions have no "
                     "bias); x (1,6,16,16) -> y_train, y_eval (1,1,16,16)" % W["pixel"])

    print("CycleGAN step (float64 reference, float32 run):")
    cyc = {"G_A": make(ResnetGenerator(3, 3, W["cyc_G"], "instance", False, 2), 21),
           "G_B": make(ResnetGenerator(3, 3, W["cyc_G"], "instance", False, 2), 22),
           "D_A": make(NLayerDiscriminator(3, W["cyc_D"], 3, "instance"), 23),
           "D_B": make(NLayerDiscriminator(3, W["cyc_D"], 3, "instance"), 24)}
    cs = W["cyc_size"]
    r64, r32 = step_case("cyc", cyclegan_step, cyc, {"real_A": picture(3, cs, cs, 7), "real_B": picture(3, cs, cs, 8)},
                         rep, out)
    for n in ("G_A", "D_A"):
        ks = cancelled_biases(cyc[n])
        g64 = dict(r64["grads"][n])
        g32 = dict(r32["grads"][n])
        a64, a32 = dict(r64["after"][n]), dict(r32["after"][n])
        rest = [k for k, _ in r64["after"][n] if k not in ks]
        print("  %s: biases cancelled by InstanceNorm %s: |grad| f64 %.1e, f32 %.1e; after-step |f32-f64| "
              "%.1e there, %.1e elsewhere" % (n, ",".join(k.split(".bias")[0] for k in ks),
                                             max(float(np.abs(g64[k]).max()) for k in ks),
                                             max(float(np.abs(g32[k]).max()) for k in ks),
                                             max(maxdiff(a32[k], a64[k]) for k in ks),
                                             max(maxdiff(a32[k], a64[k]) for k in rest)))
    meta["cyc"] = ("one CycleGANModel.optimize_parameters in float64: G_A, G_B ResnetGenerator(3, 3, ngf %d, instance, "
                   "2 blocks), D_A, D_B NLayerDiscriminator(3, ndf %d, n_layers 3, instance); lsgan, lambda_A = "
                   "lambda_B = 10, lambda_identity 0.5, Adam lr 2e-4 betas (0.5, 0.999), pool 50 (first query "
                   "returns the image); G step (D frozen) then D step with the fakes of the first forward; "
                   "<net>.<key> before, grad.<net>.<key>, after.<net>.<key>" % (W["cyc_G"], W["cyc_D"]))

    print("pix2pix step (float64 reference, float32 run):")
    p2p = {"G": make(UnetGenerator(3, 3, 5, W["p2p_G"], "batch", False), 31),
           "D": make(NLayerDiscriminator(6, W["p2p_D"], 3, "batch"), 32)}
    step_case("p2p", pix2pix_step, p2p, {"real_A": picture(3, 32, 32, 9), "real_B": picture(3, 32, 32, 10)},
              rep, out)
    meta["p2p"] = ("one Pix2PixModel.optimize_parameters in float64: G UnetGenerator(3, 3, num_downs 5, ngf %d, batch, "
                   "no dropout), D NLayerDiscriminator(6, ndf %d, n_layers 3, batch), training mode; vanilla GAN "
                   "(BCEWithLogits), lambda_L1 100, pool 0, Adam 2e-4 (0.5, 0.999); D step first, then G step through "
                   "the updated D; running statistics after: G moved once, D three times"
                   % (W["p2p_G"], W["p2p_D"]))

    meta["float32_vs_float64"] = "; ".join("%s %.1e" % (w, d) for w, d, _ in rep.rows)
    names = [n for n, _ in out]
    assert len(names) == len(set(names)), "duplicate tensor names"
    write_safetensors(a.out, out, meta)
    print("wrote %s: %d tensors, %d bytes" % (a.out, len(out), os.path.getsize(a.out)))


if __name__ == "__main__":
    main()
