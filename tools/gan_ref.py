"""The networks of junyanz/pytorch-CycleGAN-and-pix2pix (models/networks.py), rebuilt module for module so
that their state_dict keys and shapes are the reference's, for the golden-file generator
(tools/gen_golden_gan.py), the converter's test checkpoints (tools/gen_pth_tests.py) and the benchmark
(bench/gan_bench.py). PyTorch only; nothing here imports the reference.

What the reference builds (its defaults: ngf = ndf = 64, init 'normal' with gain 0.02):
  norm 'instance'  InstanceNorm2d(affine=False, track_running_stats=False): no parameters, no buffers;
                   the convolutions before it then carry a bias (use_bias), which the norm cancels.
  norm 'batch'     BatchNorm2d(affine=True, track_running_stats=True), eps 1e-5, momentum 0.1; the
                   convolutions before a norm have no bias.
  ResnetGenerator  model = Sequential(pad3, conv7, norm, relu, [conv3/2, norm, relu] x2, ResnetBlock x n,
                   [convT3/2 (padding 1, output_padding 1), norm, relu] x2, pad3, conv7 (bias always),
                   tanh); ResnetBlock.conv_block = Sequential(pad1, conv3, norm, relu, [dropout 0.5],
                   pad1, conv3, norm), its output x + conv_block(x).
  UnetGenerator    model = the outermost UnetSkipConnectionBlock; each block's `model` Sequential:
                   outermost [down, sub, relu, upT (bias always), tanh];
                   innermost [lrelu, down, relu, upT, upnorm];
                   others    [lrelu, down, downnorm, sub, relu, upT, upnorm, (dropout 0.5)];
                   a non-outermost block returns cat(x, model(x)) on channels. Dropout only in the
                   num_downs - 5 blocks of ngf*8 channels next to the innermost one.
  NLayerDiscriminator  model = Sequential(conv4/2 (bias), lrelu, [conv4/2, norm, lrelu] x (n_layers-1),
                   conv4/1, norm, lrelu, conv4/1 -> 1 channel (bias)); padding 1 everywhere; channel
                   multipliers min(2^n, 8).
  PixelDiscriminator   net = Sequential(conv1 (bias), lrelu, conv1, norm, lrelu, conv1 -> 1 channel); the
                   last two convolutions have a bias only with instance norm (use_bias).
LeakyReLU slopes are 0.2; every ReLU and LeakyReLU is in place, as in the reference (harmless: see
tools/gen_golden_gan.py's check).
"""
import torch
import torch.nn as nn


def norm_layer(kind):
    """The reference's get_norm_layer: a maker of the norm for `c` channels."""
    if kind == "batch":
        return lambda c: nn.BatchNorm2d(c, affine=True, track_running_stats=True)
    if kind == "instance":
        return lambda c: nn.InstanceNorm2d(c, affine=False, track_running_stats=False)
    raise ValueError("norm %r: batch or instance" % kind)


class ResnetBlock(nn.Module):
    def __init__(self, dim, kind, use_dropout, bias):
        super().__init__()
        norm = norm_layer(kind)
        half = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), norm(dim)]
        seq = half + [nn.ReLU(True)] + ([nn.Dropout(0.5)] if use_dropout else [])
        seq += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), norm(dim)]
        self.conv_block = nn.Sequential(*seq)

    def forward(self, x):
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    def __init__(self, input_nc=3, output_nc=3, ngf=64, norm="instance", use_dropout=False, n_blocks=9):
        super().__init__()
        mk = norm_layer(norm)
        bias = norm == "instance"
        seq = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7, bias=bias), mk(ngf), nn.ReLU(True)]
        c = ngf
        for _ in range(2):
            seq += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1, bias=bias), mk(2 * c), nn.ReLU(True)]
            c *= 2
        seq += [ResnetBlock(c, norm, use_dropout, bias) for _ in range(n_blocks)]
        for _ in range(2):
            seq += [nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1, bias=bias),
                    mk(c // 2), nn.ReLU(True)]
            c //= 2
        seq += [nn.ReflectionPad2d(3), nn.Conv2d(c, output_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*seq)

    def forward(self, x):
        return self.model(x)


class UnetSkipConnectionBlock(nn.Module):
    def __init__(self, outer_nc, inner_nc, input_nc=None, submodule=None, outermost=False, innermost=False,
                 norm="batch", use_dropout=False):
        super().__init__()
        mk = norm_layer(norm)
        bias = norm == "instance"
        self.outermost = outermost
        down = nn.Conv2d(input_nc or outer_nc, inner_nc, 4, stride=2, padding=1, bias=bias)
        if outermost:
            seq = [down, submodule, nn.ReLU(True), nn.ConvTranspose2d(2 * inner_nc, outer_nc, 4, 2, 1), nn.Tanh()]
        elif innermost:
            seq = [nn.LeakyReLU(0.2, True), down,
                   nn.ReLU(True), nn.ConvTranspose2d(inner_nc, outer_nc, 4, 2, 1, bias=bias), mk(outer_nc)]
        else:
            seq = [nn.LeakyReLU(0.2, True), down, mk(inner_nc), submodule,
                   nn.ReLU(True), nn.ConvTranspose2d(2 * inner_nc, outer_nc, 4, 2, 1, bias=bias), mk(outer_nc)]
            if use_dropout:
                seq.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*seq)

    def forward(self, x):
        if self.outermost:
            return self.model(x)
        # model(x) runs an in-place LeakyReLU on x first, so the skip half is lrelu(x), as in the reference.
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    def __init__(self, input_nc=3, output_nc=3, num_downs=8, ngf=64, norm="batch", use_dropout=False):
        super().__init__()
        blk = UnetSkipConnectionBlock(ngf * 8, ngf * 8, innermost=True, norm=norm)
        for _ in range(num_downs - 5):
            blk = UnetSkipConnectionBlock(ngf * 8, ngf * 8, submodule=blk, norm=norm, use_dropout=use_dropout)
        for mult in (4, 2, 1):
            blk = UnetSkipConnectionBlock(ngf * mult, ngf * mult * 2, submodule=blk, norm=norm)
        self.model = UnetSkipConnectionBlock(output_nc, ngf, input_nc=input_nc, submodule=blk, outermost=True,
                                             norm=norm)

    def forward(self, x):
        return self.model(x)


class NLayerDiscriminator(nn.Module):
    def __init__(self, input_nc, ndf=64, n_layers=3, norm="batch"):
        super().__init__()
        mk = norm_layer(norm)
        bias = norm == "instance"
        seq = [nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2 ** n, 8)
            stride = 2 if n < n_layers else 1
            seq += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=stride, padding=1, bias=bias), mk(ndf * mult),
                    nn.LeakyReLU(0.2, True)]
        seq += [nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1)]
        self.model = nn.Sequential(*seq)

    def forward(self, x):
        return self.model(x)


class PixelDiscriminator(nn.Module):
    def __init__(self, input_nc, ndf=64, norm="batch"):
        super().__init__()
        mk = norm_layer(norm)
        bias = norm == "instance"
        self.net = nn.Sequential(nn.Conv2d(input_nc, ndf, 1), nn.LeakyReLU(0.2, True),
                                 nn.Conv2d(ndf, 2 * ndf, 1, bias=bias), mk(2 * ndf), nn.LeakyReLU(0.2, True),
                                 nn.Conv2d(2 * ndf, 1, 1, bias=bias))

    def forward(self, x):
        return self.net(x)


def init_normal(net, gain=0.02):
    """The reference's init_weights(net, 'normal', gain), in the same module order (Module.apply: children
    before their parent): Conv*/Linear weights N(0, gain) and biases 0; BatchNorm2d weights N(1, gain) and
    biases 0. InstanceNorm (affine=False) has nothing to set."""
    def f(m):
        name = type(m).__name__
        if hasattr(m, "weight") and ("Conv" in name or "Linear" in name):
            nn.init.normal_(m.weight.data, 0.0, gain)
            if getattr(m, "bias", None) is not None:
                nn.init.constant_(m.bias.data, 0.0)
        elif "BatchNorm2d" in name:
            nn.init.normal_(m.weight.data, 1.0, gain)
            nn.init.constant_(m.bias.data, 0.0)
    net.apply(f)
    return net


class ImagePool:
    """util/image_pool.py's buffer of generated images: while fewer than `size` are held, each query's
    image is stored and returned as it is; once full, each image is, with probability 1/2, swapped for
    a random stored one (which is returned), else returned itself. size 0: no buffer. Returns detached
    tensors."""

    def __init__(self, size, rng=None):
        self.size, self.images = size, []
        self.rng = rng

    def query(self, images):
        if self.size == 0:
            return images
        out = []
        for im in images:
            im = im.detach()[None]
            if len(self.images) < self.size:
                self.images.append(im)
                out.append(im)
            elif self.rng.uniform(0, 1) > 0.5:
                j = self.rng.randint(0, self.size - 1)
                out.append(self.images[j].clone())
                self.images[j] = im
            else:
                out.append(im)
        return torch.cat(out, 0)
