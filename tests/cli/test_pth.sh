#!/bin/sh
# `impasto convert pth` as a user meets it: usage mistakes exit 2 with one line, refused and broken
# checkpoints exit 1 naming the file and write nothing; the CycleGAN / pix2pix generators of
# tests/data/pth convert (and translate, when the build has `impasto translate`); and, when
# /usr/bin/python3 has torch, the real networks round-trip: models/candy.safetensors written as
# TransformerNet .pth files (zip, and legacy with the InstanceNorm running_mean/var entries old
# checkpoints carry) and models/adain.safetensors as pytorch-AdaIN's vgg_normalised.pth (legacy,
# whole, to relu5_4) and decoder.pth (zip) convert back to the same tensors, and `impasto fast` /
# `impasto adain` with the converted files paint exactly what they paint with the originals (SSIM
# 1.0000). Run from the repository root (as `make test` does).
. tests/cli_lib.sh
D=tests/data/pth
H=fuzz/regressions/pth
C=examples/images/horses.jpg
S=examples/images/scream.jpg
O=$T/x.safetensors

expect "pth: no --arch" 2 "needs the checkpoint's network" -- "$B" convert pth $D/tiny.pth -o "$O"
expect "pth: unknown --arch" 2 "got 'vgg16'" -- "$B" convert pth $D/tiny.pth --arch vgg16 -o "$O"
expect "pth: transformernet takes one file" 2 "takes one checkpoint, got 2" -- "$B" convert pth $D/tiny.pth $D/mixed.pth --arch transformernet -o "$O"
expect "pth: adain takes two files" 2 "takes two checkpoints" -- "$B" convert pth $D/tiny.pth --arch adain -o "$O"
expect "pth: no file" 2 "no weights file given" -- "$B" convert pth --arch adain -o "$O"
expect "--arch is for pth only" 2 "--arch is for pth only" -- "$B" convert adain "$T" --arch adain -o "$O"
expect "pth: no output" 2 "no output file" -- "$B" convert pth $D/tiny.pth --arch transformernet
expect "pth: output onto the input" 2 "" -- "$B" convert pth "$D/tiny.pth" --arch transformernet -o "$D/tiny.pth"
expect "pth: os.system refused" 1 "asks for os.system, .*nothing was run" -- "$B" convert pth $H/hostile-global-os-system.pth --arch transformernet -o "$O"
expect "pth: builtins.eval refused" 1 "asks for builtins.eval" -- "$B" convert pth $H/hostile-reduce-builtins-eval.pth --arch transformernet -o "$O"
expect "pth: truncated" 1 "hostile-truncated-zip.pth: no zip directory" -- "$B" convert pth $H/hostile-truncated-zip.pth --arch transformernet -o "$O"
expect "pth: another network" 1 "not part of the fast-neural-style TransformerNet" -- "$B" convert pth $D/tiny.pth --arch transformernet -o "$O"
expect "pth: missing file" 1 "$T/none.pth" -- "$B" convert pth "$T/none.pth" --arch transformernet -o "$O"
expect "pth: an image" 1 "is a JPEG image, not a model" -- "$B" convert pth $C --arch transformernet -o "$O"
expect "pth: a generator takes one file" 2 "takes one checkpoint, got 2" -- "$B" convert pth $D/resnet_tiny.pth $D/unet_tiny.pth --arch auto -o "$O"
expect "pth: a ResNet as a U-Net" 1 "resnet_tiny.pth: the checkpoint of a resnet_2blocks generator (ResNet, 2 residual blocks), not of unet_256" -- "$B" convert pth $D/resnet_tiny.pth --arch unet_256 -o "$O"
expect "pth: 2 residual blocks as 9" 1 "not of resnet_9blocks: convert it as resnet_2blocks or auto" -- "$B" convert pth $D/resnet_tiny.pth --arch resnet_9blocks -o "$O"
expect "pth: a generator of the wrong width" 1 "hostile-gan-ngf-mismatch.pth: tensor 'model.10.conv_block.1.weight' has shape (4, 4, 3, 3)" -- "$B" convert pth $H/hostile-gan-ngf-mismatch.pth --arch auto -o "$O"
expect "pth: not a generator" 1 "tiny.pth: not a generator of pytorch-CycleGAN-and-pix2pix" -- "$B" convert pth $D/tiny.pth --arch auto -o "$O"
[ ! -e "$O" ] && ok "refused conversions write nothing" || bad "refused conversions write nothing"

# The reference's generators (tests/test_convert_gan.c checks every tensor and the translations
# against PyTorch's; here the command line's side).
for g in resnet_tiny:resnet_2blocks resnet_tiny_old:resnet_2blocks unet_tiny:unet_32; do
    f=${g%%:*} arch=${g#*:}
    "$B" convert pth $D/$f.pth --arch auto -o "$T/$f.safetensors" >"$T/out" 2>"$T/err"
    if [ $? -eq 0 ] && [ ! -s "$T/err" ] && grep -q '"kind":"gan-generator"' "$T/$f.safetensors" &&
        grep -q "\"netG\":\"$arch\"" "$T/$f.safetensors"; then ok "convert pth $f.pth --arch auto: $arch"
    else bad "convert pth $f.pth --arch auto: $arch"; fi
done
# `impasto translate` (when this build has it) runs the converted generator.
if "$B" help 2>&1 | grep -q "^ *translate"; then
    "$B" translate -m "$T/resnet_tiny.safetensors" -c $C -o "$T/translated.png" >"$T/out" 2>"$T/err" &&
        [ -s "$T/translated.png" ] && ok "translate with the converted resnet_tiny.pth" ||
        bad "translate with the converted resnet_tiny.pth"
else
    skip "translate with the converted resnet_tiny.pth" "no impasto translate in this build"
fi

PY=/usr/bin/python3
if ! $PY -c "import torch" >/dev/null 2>&1; then
    skip "pth round trips" "no torch in $PY (tools/install-deps.sh --reference)"
    echo "$pass passed, $fail failed"; [ $fail -eq 0 ]; exit
fi
if [ ! -f models/candy.safetensors ] || [ ! -f models/adain.safetensors ]; then
    skip "pth round trips" "no models/candy.safetensors or models/adain.safetensors (make models)"
    echo "$pass passed, $fail failed"; [ $fail -eq 0 ]; exit
fi

# The checkpoints, as the PyTorch examples and pytorch-AdaIN save them (state_dict() of the modules).
$PY - "$T" <<'EOF' >"$T/py.log" 2>&1
import collections, sys
sys.path.insert(0, "tools")
import torch, torch.nn as nn
from safetensors_np import read_safetensors
from gen_golden_fast import TransformerNet
from gen_golden_adain import conv, pad, decoder, encoder
out = sys.argv[1]
w, _ = read_safetensors("models/candy.safetensors")
net = TransformerNet()
net.load_state_dict({k: torch.from_numpy(v) for k, v in w.items()})
torch.save(net.state_dict(), out + "/candy.pth")
old = collections.OrderedDict(net.state_dict())
for n in ("in1", "res1.in2", "in5"):
    old[n + ".running_mean"] = torch.zeros(old[n + ".weight"].shape)
    old[n + ".running_var"] = torch.ones(old[n + ".weight"].shape)
torch.save(old, out + "/candy_legacy.pth", _use_new_zipfile_serialization=False)
a, _ = read_safetensors("models/adain.safetensors")
pool = lambda: nn.MaxPool2d((2, 2), (2, 2), (0, 0), ceil_mode=True)
vgg = nn.Sequential(*encoder(), pad(), conv(512, 512), nn.ReLU(), pad(), conv(512, 512), nn.ReLU(), pad(),
                    conv(512, 512), nn.ReLU(), pool(), pad(), conv(512, 512), nn.ReLU(), pad(), conv(512, 512),
                    nn.ReLU(), pad(), conv(512, 512), nn.ReLU(), pad(), conv(512, 512), nn.ReLU())
vgg.load_state_dict({k[8:]: torch.from_numpy(v) for k, v in a.items() if k.startswith("encoder.")}, strict=False)
assert [k for k in vgg.state_dict()][-1] == "51.bias"
dec = decoder()
dec.load_state_dict({k[8:]: torch.from_numpy(v) for k, v in a.items() if k.startswith("decoder.")})
torch.save(vgg.state_dict(), out + "/vgg_normalised.pth", _use_new_zipfile_serialization=False)
torch.save(dec.state_dict(), out + "/decoder.pth")
EOF
if [ $? -ne 0 ]; then echo "    $(tail -3 "$T/py.log")"; bad "torch writes the checkpoints"; echo "$pass passed, $fail failed"; exit 1; fi

# Same tensors, same names, same order as the originals.
same_tensors() {
    $PY - "$1" "$2" <<'EOF'
import sys
sys.path.insert(0, "tools")
import numpy as np
from safetensors_np import read_safetensors
a, _ = read_safetensors(sys.argv[1])
b, m = read_safetensors(sys.argv[2])
sys.exit(0 if list(a) == list(b) and all(np.array_equal(a[k], b[k]) for k in a) and m["kind"] else 1)
EOF
}

for f in candy candy_legacy; do
    "$B" convert pth "$T/$f.pth" --arch transformernet -o "$T/$f.safetensors" >"$T/out" 2>"$T/err"
    if [ $? -eq 0 ] && [ ! -s "$T/err" ] && same_tensors models/candy.safetensors "$T/$f.safetensors"; then
        ok "convert pth $f.pth: candy's tensors"; else bad "convert pth $f.pth: candy's tensors"; fi
done
grep -q "running_mean/running_var entries dropped" "$T/candy_legacy.safetensors" && ok "legacy candy: running stats dropped" ||
    bad "legacy candy: running stats dropped"
"$B" fast -m models/candy.safetensors -c $C -o "$T/fast-ref.png" --content-scale 8 >/dev/null 2>&1
"$B" fast -m "$T/candy_legacy.safetensors" -c $C -o "$T/fast-pth.png" --content-scale 8 >/dev/null 2>&1
"$B" compare "$T/fast-ref.png" "$T/fast-pth.png" >"$T/out" 2>"$T/err"
grep -q "SSIM 1.0000" "$T/out" && ok "fast with the converted .pth: identical" || bad "fast with the converted .pth: identical"

# Either order; adain-decoder is the same architecture.
"$B" convert pth "$T/decoder.pth" "$T/vgg_normalised.pth" --arch adain -o "$T/adain.safetensors" >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && same_tensors models/adain.safetensors "$T/adain.safetensors"; then ok "convert pth adain: adain's tensors"
else bad "convert pth adain: adain's tensors"; fi
"$B" convert pth "$T/vgg_normalised.pth" "$T/decoder.pth" --arch adain-decoder -o "$T/adain2.safetensors" >/dev/null 2>&1 &&
    same_tensors models/adain.safetensors "$T/adain2.safetensors" && ok "convert pth --arch adain-decoder" ||
    bad "convert pth --arch adain-decoder"
"$B" adain -m models/adain.safetensors -c $C -s $S -o "$T/adain-ref.png" --content-size 128 --style-size 128 >/dev/null 2>&1
"$B" adain -m "$T/adain.safetensors" -c $C -s $S -o "$T/adain-pth.png" --content-size 128 --style-size 128 >/dev/null 2>&1
"$B" compare "$T/adain-ref.png" "$T/adain-pth.png" >"$T/out" 2>"$T/err"
grep -q "SSIM 1.0000" "$T/out" && ok "adain with the converted .pth: identical" || bad "adain with the converted .pth: identical"
expect "adain: two decoders" 1 "neither of them is pytorch-AdaIN's vgg_normalised.pth" -- "$B" convert pth "$T/decoder.pth" "$T/decoder.pth" --arch adain -o "$O"
expect "adain: a TransformerNet as the decoder" 1 "not part of pytorch-AdaIN's decoder" -- "$B" convert pth "$T/vgg_normalised.pth" "$T/candy.pth" --arch adain -o "$O"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
