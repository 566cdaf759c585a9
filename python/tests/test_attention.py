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
