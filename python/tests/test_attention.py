"""impasto.attention through the installed package: shapes, the picture over itself at a low
temperature, style swap, bad options raising InvalidArgument."""

import numpy as np
import pytest

import impasto
from conftest import check_image, need_model


def test_attention_shape_and_self(content, style):
    need_model("adain")
    out = impasto.attention(content, style, content_size=32, style_size=32, threads=2)
    check_image(out)
    assert max(out.shape[:2]) == 32
    # The noisy painting over itself at T 1e-4: each position finds its own features, the alpha=0
    # picture.
    own = impasto.attention(style, style, temperature=1e-4, content_size=0, style_size=0)
    rec = impasto.attention(style, style, alpha=0, content_size=0, style_size=0)
    assert np.abs(own - rec).max() < 1e-5
    swap = impasto.attention(content, [style, content], patch=3, hard=True, style_weights=[1, 1],
                             content_size=0, style_size=0)
    check_image(swap, content.shape[:2])


def test_attention_bad_options(content, style):
    need_model("adain")
    with pytest.raises(impasto.InvalidArgument, match="temperature"):
        impasto.attention(content, style, temperature=0)
    with pytest.raises(impasto.InvalidArgument, match="larger than painting 1"):
        impasto.attention(content, style[:16, :16], patch=3, content_size=0, style_size=0)
    with pytest.raises(TypeError, match="unexpected option"):
        impasto.attention(content, style, temprature=1)


def test_attention_layers(content, style):
    need_model("adain")
    need_model("lst-r31")
    r31 = impasto.attention(content, style, layers="relu3_1", content_size=0, style_size=0)
    check_image(r31, content.shape[:2])
    r41 = impasto.attention(content, style, content_size=0, style_size=0)
    assert np.abs(r31 - r41).max() > 0.05
    seen = []
    both = impasto.attention(content, [style, content], layers=["relu4_1", "relu3_1"], patch=3,
                             content_size=0, style_size=0, progress=lambda p: seen.append(p.level) and False)
    check_image(both, content.shape[:2])
    assert seen[0] == 0 and seen[-1] == 1
    # The picture over itself at relu3_1 and T 1e-4: its own features.
    own = impasto.attention(style, style, layers="relu3_1", temperature=1e-4, content_size=0, style_size=0)
    rec = impasto.attention(style, style, layers="relu3_1", alpha=0, content_size=0, style_size=0)
    assert np.abs(own - rec).max() < 1e-5
    with pytest.raises(impasto.InvalidArgument, match="layers is"):
        impasto.attention(content, style, layers="relu5_1")
    with pytest.raises(impasto.InvalidArgument, match="relu3_1 feature map"):
        impasto.attention(content, style[:8, :8], layers="relu3_1", patch=3, content_size=0, style_size=0)
