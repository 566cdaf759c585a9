#!/usr/bin/python3
"""Writes the PyTorch checkpoints tests/test_pth.c reads: small valid ones made by torch.save into
tests/data/pth/, and hostile ones crafted byte by byte into fuzz/regressions/pth/ (which
tests/test_fuzz_regressions.c also replays through the fuzz target).

    /usr/bin/python3 tools/gen_pth_tests.py [tests/data/pth] [fuzz/regressions/pth]

The legacy files' storage keys are memory addresses (torch.save's legacy layout names storages by
id), so running the script again writes files of the same content but other bytes.

Valid (tests/data/pth/):
  tiny.pth          zip; state_dict of Sequential(Conv2d(2, 3, 1), BatchNorm2d(3)), with _metadata:
                    0.weight (3,2,1,1) = arange(6)/2 - 1, 0.bias = [0.25, -0.25, 2], 1.weight ones(3),
                    1.bias zeros(3), 1.running_mean [0.1, 0.2, 0.3], 1.running_var ones(3),
                    1.num_batches_tracked int64 scalar 7
  mixed.pth         zip; OrderedDict of (in this order)
                    f16 (2,3) float16 arange(6)/4 - 0.5; bf16 (4) bfloat16 [1, -2, 0.5, 3];
                    f64 (2,2) float64 [[1e-3, -2.5], [1e10, 3]];
                    t (4,3) = arange(12).reshape(3,4).t() (strides (1,4));
                    base (4,5) arange(20); slice = base[1:3, 2:4] (shape (2,2), strides (5,1), offset 7,
                    sharing base's storage); scalar 3.5 (0 dims); empty (0,3);
                    param Parameter([1, 2]); half_t (3,2) = float16 arange(6).reshape(2,3).t()
  mixed_legacy.pth  the same, _use_new_zipfile_serialization=False
  v1_legacy.pth     legacy, tensors rebuilt as PyTorch 0.3 did (torch._utils._rebuild_tensor, four
                    arguments) and the OrderedDict as Python 2 pickled it (REDUCE on a list of
                    [key, value] pairs): w (2,3) arange(6), in1.running_mean zeros(2)
  proto4.pth        zip, pickle protocol 4 (FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL): a (2,2) arange(4)
  ckpt.pth          zip; {'epoch': 3, 'model': {'w': arange(3), 'b': [0.5]}, 'optimizer': Adam's state_dict}
  dataparallel.pth  zip; module.w arange(3), module.b [0.5] (nn.DataParallel's names)
  resnet_tiny.pth   zip; the state_dict of a CycleGAN ResnetGenerator(3, 3, ngf 4, norm instance, 2 blocks)
                    as junyanz/pytorch-CycleGAN-and-pix2pix builds it (tools/gan_ref.py): model.1.weight ...
                    model.19.bias, 20 float32 tensors, no InstanceNorm entries; its tensors are also in
                    resnet_tiny.safetensors (same names, F32) for comparison
  resnet_tiny_old.pth  legacy (tensors rebuilt by _rebuild_tensor, as PyTorch 0.3 saved them), the same
                    state_dict plus running_mean and running_var (random) for each of the 9 InstanceNorms
                    (model.2, model.5, model.8, model.1x.conv_block.2 and .6, model.13, model.16), in module
                    order, as the pretrained CycleGAN files of 2017 hold them; the reference's loader drops
                    them (its __patch_instance_norm_state_dict), so the expected tensors are
                    resnet_tiny.safetensors'
  unet_tiny.pth     zip; the state_dict of a pix2pix UnetGenerator(3, 3, num_downs 5, ngf 1, norm batch),
                    weights, BatchNorm running statistics (random) and num_batches_tracked (int64 scalar 3):
                    46 entries, from model.model.0.weight to model.model.3.bias; the 39 float ones also in
                    unet_tiny.safetensors. (ngf 1 keeps it at 16 KB: ngf 4 would be 260 KB; every key is
                    the same at any width.)
  gan_tiny_forward.safetensors  what those two generators make of a fixed picture, by PyTorch in float64
                    (the weights as stored, widened), stored float32, for the converter's end-to-end test:
                    resnet_tiny.input (12, 16, 3) and unet_tiny.input (32, 64, 3), HWC pictures in [0, 1];
                    resnet_tiny.output, unet_tiny.output (train(): batch norm from the picture's own
                    statistics, as the reference's test.py runs by default) and unet_tiny.output_eval
                    (eval(): running statistics), each (G(2 x - 1) + 1) / 2 in the same HWC layout.
                    unet_tiny (num_downs 5) has no dropout layer, so train() is deterministic.

Hostile (fuzz/regressions/pth/hostile-*.pth): each is refused; tests/test_pth.c lists the status
and the words of the message expected for each. The hostile-gan-*.pth ones are well-formed
checkpoints (torch.save) of broken CycleGAN / pix2pix generators, refused by the converter
(impasto_convert_pth --arch auto), not by the reader: a first convolution wider than the rest, a
tensor missing, one too many, an infinite weight, a U-Net nested 11 deep.

    /usr/bin/python3 tools/gen_pth_tests.py --gan-only   # only gan_tiny_forward and hostile-gan-*
"""
import collections
import io
import os
import pickle
import struct
import sys
import zipfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gan_ref import ResnetGenerator, UnetGenerator, init_normal  # noqa: E402
from safetensors_np import write_safetensors  # noqa: E402


def save(obj, path, **kw):
    torch.save(obj, path, **kw)


# ---- valid files -------------------------------------------------------------------------------

def tiny():
    net = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 1), torch.nn.BatchNorm2d(3))
    with torch.no_grad():
        net[0].weight.copy_((torch.arange(6.0) / 2 - 1).reshape(3, 2, 1, 1))
        net[0].bias.copy_(torch.tensor([0.25, -0.25, 2.0]))
        net[1].running_mean.copy_(torch.tensor([0.1, 0.2, 0.3]))
        net[1].num_batches_tracked.fill_(7)
    return net.state_dict()


def mixed():
    base = torch.arange(20.0).reshape(4, 5)
    d = collections.OrderedDict()
    d["f16"] = (torch.arange(6.0) / 4 - 0.5).reshape(2, 3).half()
    d["bf16"] = torch.tensor([1.0, -2.0, 0.5, 3.0]).bfloat16()
    d["f64"] = torch.tensor([[1e-3, -2.5], [1e10, 3.0]], dtype=torch.float64)
    d["t"] = torch.arange(12.0).reshape(3, 4).t()
    d["base"] = base
    d["slice"] = base[1:3, 2:4]
    d["scalar"] = torch.tensor(3.5)
    d["empty"] = torch.zeros(0, 3)
    d["param"] = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    d["half_t"] = torch.arange(6.0).reshape(2, 3).half().t()
    assert d["t"].stride() == (1, 4) and d["slice"].storage_offset() == 7
    return d


class V1Tensor:
    """Pickles as PyTorch 0.3 pickled a tensor: _rebuild_tensor(storage, offset, size, stride)."""

    def __init__(self, t):
        self.t = t

    def __reduce__(self):
        t = self.t
        return (torch._utils._rebuild_tensor, (t.storage(), t.storage_offset(), tuple(t.size()), t.stride()))


class Py2OrderedDict:
    """Pickles as Python 2's OrderedDict.__reduce__ did: OrderedDict([[key, value], ...])."""

    def __init__(self, items):
        self.items = items

    def __reduce__(self):
        return (collections.OrderedDict, ([[k, v] for k, v in self.items],))


def write_valid(d):
    os.makedirs(d, exist_ok=True)
    save(tiny(), os.path.join(d, "tiny.pth"))
    save(mixed(), os.path.join(d, "mixed.pth"))
    save(mixed(), os.path.join(d, "mixed_legacy.pth"), _use_new_zipfile_serialization=False)
    v1 = Py2OrderedDict([("w", V1Tensor(torch.arange(6.0).reshape(2, 3))),
                         ("in1.running_mean", V1Tensor(torch.zeros(2)))])
    save(v1, os.path.join(d, "v1_legacy.pth"), _use_new_zipfile_serialization=False)
    save(collections.OrderedDict(a=torch.arange(4.0).reshape(2, 2)), os.path.join(d, "proto4.pth"),
         pickle_protocol=4)
    w = torch.nn.Parameter(torch.arange(3.0))
    b = torch.nn.Parameter(torch.tensor([0.5]))
    opt = torch.optim.Adam([w, b], lr=1e-3)
    (w.sum() + b.sum()).backward()
    opt.step()
    with torch.no_grad():
        w.copy_(torch.arange(3.0))
        b.fill_(0.5)
    save({"epoch": 3, "model": collections.OrderedDict(w=w, b=b), "optimizer": opt.state_dict()},
         os.path.join(d, "ckpt.pth"))
    save(collections.OrderedDict([("module.w", torch.arange(3.0)), ("module.b", torch.tensor([0.5]))]),
         os.path.join(d, "dataparallel.pth"))


def gan_weights(net, seed):
    """init_weights('normal', 0.02) as the reference does it, then N(0, 0.05) on every bias and beta and
    random BatchNorm running statistics (mean N(0, 0.1), var U(0.5, 1.5)), num_batches_tracked 3."""
    torch.manual_seed(seed)
    init_normal(net)
    with torch.no_grad():
        for m in net.modules():
            if getattr(m, "bias", None) is not None:
                m.bias.add_(torch.randn(m.bias.shape) * 0.05)
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.running_mean.shape) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape) + 0.5)
                m.num_batches_tracked.fill_(3)
    return net


def write_gan(d):
    res = gan_weights(ResnetGenerator(3, 3, 4, "instance", False, 2), 7)
    sd = res.state_dict()
    save(sd, os.path.join(d, "resnet_tiny.pth"))
    floats = lambda sd: [(k, v.numpy()) for k, v in sd.items() if v.is_floating_point()]
    write_safetensors(os.path.join(d, "resnet_tiny.safetensors"), floats(sd),
                      {"generator": "tools/gen_pth_tests.py", "expected": "resnet_tiny.pth, resnet_tiny_old.pth"})
    # A 2017 file: the instance norms' running statistics in module order, legacy serialisation.
    old = collections.OrderedDict()
    g = torch.Generator().manual_seed(8)
    for path, m in res.named_modules():
        if isinstance(m, torch.nn.InstanceNorm2d):
            old[path + ".running_mean"] = torch.randn(m.num_features, generator=g) * 0.1
            old[path + ".running_var"] = torch.rand(m.num_features, generator=g) + 0.5
        for name, p in m.named_parameters(recurse=False):
            old[path + "." + name] = sd[path + "." + name]
    assert len(old) == len(sd) + 18 and all(k in old for k in sd)
    save(collections.OrderedDict((k, V1Tensor(v)) for k, v in old.items()), os.path.join(d, "resnet_tiny_old.pth"),
         _use_new_zipfile_serialization=False)
    unet = gan_weights(UnetGenerator(3, 3, 5, 1, "batch", False), 9)
    sd = unet.state_dict()
    assert sd["model.model.1.model.2.num_batches_tracked"].dtype == torch.int64
    save(sd, os.path.join(d, "unet_tiny.pth"))
    write_safetensors(os.path.join(d, "unet_tiny.safetensors"), floats(sd),
                      {"generator": "tools/gen_pth_tests.py", "expected": "unet_tiny.pth (num_batches_tracked left out)"})


def gan_forward(d):
    """gan_tiny_forward.safetensors: the generators of resnet_tiny.pth and unet_tiny.pth, loaded from those
    files, on fixed pictures, in float64."""
    def run(path, net, h, w, seed, train):
        net.load_state_dict(torch.load(path))
        net = net.double().train(train)
        g = torch.Generator().manual_seed(seed)
        pic = torch.rand(h, w, 3, generator=g)  # float32 in [0, 1)
        with torch.no_grad():
            y = net(pic.double().permute(2, 0, 1)[None] * 2 - 1)[0]
        return pic.numpy(), ((y + 1) / 2).permute(1, 2, 0).float().numpy()

    res_in, res_out = run(os.path.join(d, "resnet_tiny.pth"), ResnetGenerator(3, 3, 4, "instance", False, 2),
                          12, 16, 11, True)
    unet = lambda: UnetGenerator(3, 3, 5, 1, "batch", False)
    un_in, un_out = run(os.path.join(d, "unet_tiny.pth"), unet(), 32, 64, 12, True)
    un_in2, un_eval = run(os.path.join(d, "unet_tiny.pth"), unet(), 32, 64, 12, False)
    assert (un_in == un_in2).all() and abs(un_out - un_eval).max() > 1e-3
    write_safetensors(os.path.join(d, "gan_tiny_forward.safetensors"),
                      [("resnet_tiny.input", res_in), ("resnet_tiny.output", res_out), ("unet_tiny.input", un_in),
                       ("unet_tiny.output", un_out), ("unet_tiny.output_eval", un_eval)],
                      {"generator": "tools/gen_pth_tests.py",
                       "note": "outputs (G(2x-1)+1)/2 by PyTorch in float64, HWC; unet_tiny.output in train() "
                               "(batch statistics), unet_tiny.output_eval in eval()"})


def write_hostile_gan(d):
    """Checkpoints torch.save writes of generators the converter must refuse."""
    os.makedirs(d, exist_ok=True)
    small = lambda: gan_weights(ResnetGenerator(3, 3, 1, "instance", False, 1), 5).state_dict()
    files = {}
    sd = small()
    sd["model.1.weight"] = torch.zeros(2, 3, 7, 7)  # ngf 2 here, 1 everywhere else
    files["ngf-mismatch"] = sd
    sd = small()
    del sd["model.14.weight"]  # the second transposed convolution (1 block: 11 and 14)
    files["missing"] = sd
    sd = small()
    sd["model.2.weight"] = torch.ones(1)  # an affine instance norm: not the reference's
    files["extra"] = sd
    sd = gan_weights(UnetGenerator(3, 3, 5, 1, "batch", False), 6).state_dict()
    sd["model.model.1.model.3.model.5.weight"][0, 0, 1, 2] = float("inf")
    files["inf"] = sd
    files["unet-11-levels"] = gan_weights(UnetGenerator(1, 1, 11, 1, "instance", False), 6).state_dict()
    for name, sd in files.items():
        save(sd, os.path.join(d, "hostile-gan-%s.pth" % name))


# ---- hostile files: pickle bytes made by hand --------------------------------------------------

def uni(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def glob(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def long1(i):
    """An integer as pickle writes it (BININT1, BININT2, BININT or LONG1 by size)."""
    return pickle.dumps(i, protocol=2)[2:-1]


def storage(key, numel, stype="FloatStorage"):
    return b"(" + uni("storage") + glob("torch", stype) + uni(key) + uni("cpu") + long1(numel) + b"tQ"


def tensor(st, offset, shape, stride):
    ints = lambda v: b"(" + b"".join(long1(x) for x in v) + b"t"
    return (glob("torch._utils", "_rebuild_tensor_v2") + b"(" + st + long1(offset) + ints(shape) + ints(stride) +
            b"\x89" + glob("collections", "OrderedDict") + b")R" + b"tR")


def state_dict(items):
    """OrderedDict() then SETITEMS of (name, tensor pickle) pairs."""
    return b"\x80\x02" + glob("collections", "OrderedDict") + b")R(" + b"".join(uni(n) + t for n, t in items) + b"u."


def archive(pkl, storages=(), folder="archive", compression=zipfile.ZIP_STORED):
    """A zip as torch lays it out (folder/data.pkl, folder/data/<key>, folder/version)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        def put(name, data):
            z.writestr(zipfile.ZipInfo(folder + "/" + name, date_time=(1980, 1, 1, 0, 0, 0)), data,
                       compress_type=compression)
        put("data.pkl", pkl)
        for key, data in storages:
            put("data/" + key, data)
        put("version", b"3\n")
    return buf.getvalue()


def floats(*v):
    return struct.pack("<%df" % len(v), *v)


def legacy_header():
    sys_info = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}
    return (pickle.dumps(0x1950a86a20f9469cfc6c, protocol=2) + pickle.dumps(1001, protocol=2) +
            pickle.dumps(sys_info, protocol=2))


def write_hostile(d, valid):
    os.makedirs(d, exist_ok=True)
    six = floats(1, 2, 3, 4, 5, 6)
    good = state_dict([("w", tensor(storage("0", 6), 0, (2, 3), (3, 1)))])
    files = {
        # Code execution, refused where the global is named.
        "global-os-system": archive(b"\x80\x02" + glob("os", "system") + uni("echo pwned") + b"\x85R."),
        "global-posix-system": archive(b"\x80\x02" + glob("posix", "system") + uni("id") + b"\x85R."),
        "reduce-builtins-eval": archive(b"\x80\x02" + glob("builtins", "eval") + uni("1+1") + b"\x85R."),
        "stack-global-exec": archive(b"\x80\x04\x8c\x08builtins\x8c\x04exec\x93" + uni("1") + b"\x85R."),
        "whole-module": archive(b"\x80\x02" + glob("__main__", "Net") + b")\x81."),
        "legacy-os-system": legacy_header() + b"\x80\x02" + glob("os", "system") + uni("id") + b"\x85R.",
        # Calls and opcodes a state_dict never uses.
        "reduce-on-string": archive(b"\x80\x02" + uni("os.system") + b")R."),
        "reduce-on-storage-type": archive(b"\x80\x02" + glob("torch", "FloatStorage") + b")R."),
        "inst": archive(b"\x80\x02(ios\nsystem\n."),
        "obj": archive(b"\x80\x02(" + glob("collections", "OrderedDict") + b"o."),
        "newobj": archive(b"\x80\x02" + glob("collections", "OrderedDict") + b")\x81."),
        "build-on-tensor": archive(state_dict([("w", tensor(storage("0", 6), 0, (2, 3), (3, 1)) +
                                                b"}b")]), [("0", six)]),
        "persid-module": archive(b"\x80\x02(" + uni("module") + b"tQ."),
        # Sizes and indices.
        "storage-missing": archive(good),
        "storage-size-mismatch": archive(good, [("0", floats(1, 2))]),
        "past-storage": archive(state_dict([("w", tensor(storage("0", 6), 1, (2, 3), (3, 1)))]), [("0", six)]),
        "storage-2p62": archive(state_dict([("w", tensor(storage("0", 1 << 62), 0, (2,), (1,)))]), [("0", six)]),
        "shape-2p62": archive(state_dict([("w", tensor(storage("0", 6), 0, (1 << 62,), (1,)))]), [("0", six)]),
        "stride-overflow": archive(state_dict([("w", tensor(storage("0", 6), 0, (1 << 40, 1 << 40),
                                                           (1 << 40, 1 << 30)))]), [("0", six)]),
        "expanded-view": archive(state_dict([("w", tensor(storage("0", 6), 0, (1000,), (0,)))]), [("0", six)]),
        "storage-key-path": archive(state_dict([("w", tensor(storage("../0", 6), 0, (6,), (1,)))]), [("0", six)]),
        "string-2p31": archive(b"\x80\x02X\x00\x00\x00\x80abc."),
        "negative-dim": archive(state_dict([("w", tensor(storage("0", 6), 0, (-1,), (1,)))]), [("0", six)]),
        "nine-dims": archive(state_dict([("w", tensor(storage("0", 6), 0, (1,) * 9, (1,) * 9))]), [("0", six)]),
        "deep-nesting": archive(b"\x80\x02" + b"(" * 1000 + b"."),
        # A list of 4096 references to one pair, made into an OrderedDict 1100 times: 9 million
        # items from 16 KB.
        "dict-amplification": archive(b"\x80\x02]q\x00K\x01K\x02\x86q\x010(" + b"h\x01" * 4096 + b"e" +
                                      glob("collections", "OrderedDict") + b"q\x02" +
                                      b"h\x02h\x00\x85R0" * 1100 + b"."),
        "memo-out-of-range": archive(b"\x80\x02h\x07."),
        "memo-index-2p32": archive(b"\x80\x02)r\xff\xff\xff\xff."),
        "stack-underflow": archive(b"\x80\x02R."),
        "setitems-on-list": archive(b"\x80\x02](" + uni("a") + uni("b") + b"u."),
        "no-stop": archive(b"\x80\x02" + glob("collections", "OrderedDict") + b")R"),
        "truncated-pickle": archive(good[: len(good) // 2], [("0", six)]),
        "not-a-dict": archive(b"\x80\x02]."),
        "no-tensors": archive(b"\x80\x02}(" + uni("epoch") + b"K\x03u."),
        "duplicate-name": archive(state_dict([("w", tensor(storage("0", 6), 0, (6,), (1,))),
                                              ("w", tensor(storage("0", 6), 0, (6,), (1,)))]), [("0", six)]),
        "nan": archive(good, [("0", floats(1, 2, float("nan"), 4, 5, 6))]),
        "int-weights": archive(state_dict([("w", tensor(storage("0", 6, "LongStorage"), 0, (6,), (1,)))]),
                               [("0", struct.pack("<6q", 1, 2, 3, 4, 5, 6))]),
        # Zip damage.
        "compressed": archive(good, [("0", six)], compression=zipfile.ZIP_DEFLATED),
        "no-data-pkl": archive(good, [("0", six)], folder="archive").replace(b"data.pkl", b"data.pkx"),
        "legacy-unknown-record": legacy_header() + good + pickle.dumps(["9"], protocol=2) +
                                 struct.pack("<q", 6) + six,
    }
    t = open(os.path.join(valid, "tiny.pth"), "rb").read()
    files["truncated-zip"] = t[: len(t) // 2]
    # The zip64 end record (which torch always writes) claims 2^20 entries.
    e64 = t.rfind(b"PK\x06\x06")
    files["zip-entries-2p20"] = t[:e64 + 24] + struct.pack("<QQ", 1 << 20, 1 << 20) + t[e64 + 40:]
    # The first storage's bytes changed: its CRC-32 no longer matches.
    z = zipfile.ZipFile(io.BytesIO(t))
    info = [i for i in z.infolist() if i.filename.endswith("/data/0")][0]
    lh = info.header_offset
    start = lh + 30 + struct.unpack("<H", t[lh + 26:lh + 28])[0] + struct.unpack("<H", t[lh + 28:lh + 30])[0]
    files["crc-mismatch"] = t[:start] + bytes([t[start] ^ 0x40]) + t[start + 1:]
    # The zip64 end record moved past the end of the file.
    loc = t.rfind(b"PK\x06\x07")
    files["zip64-offset-past-end"] = t[:loc + 8] + struct.pack("<Q", 1 << 40) + t[loc + 16:]
    lg = open(os.path.join(valid, "mixed_legacy.pth"), "rb").read()
    files["legacy-truncated"] = lg[:-10]
    for name, data in files.items():
        with open(os.path.join(d, "hostile-%s.pth" % name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    gan_only = "--gan-only" in sys.argv
    args = [a for a in sys.argv[1:] if a != "--gan-only"]
    valid = args[0] if len(args) > 0 else "tests/data/pth"
    hostile = args[1] if len(args) > 1 else "fuzz/regressions/pth"
    if not gan_only:
        write_valid(valid)
        write_gan(valid)
        write_hostile(hostile, valid)
    gan_forward(valid)
    write_hostile_gan(hostile)
    print("wrote %s and %s" % (valid, hostile))
