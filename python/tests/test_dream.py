"""impasto.dream(): DeepDream through the package on 40x52 pictures and shallow layers (a few
steps each): the options reach the library, progress is reported and can cancel, zoom frames come
back as a list, bad options raise."""

import numpy as np
import pytest

import impasto
from conftest import check_image, need_model

SMALL = dict(layers="relu2_1", image_size=0, octaves=2, iterations=2, seed=1, threads=2)


def test_dream(content):
    need_model("vgg19")
    seen = []
    out = impasto.dream(content, progress=seen.append, **SMALL)
    check_image(out, content.shape[:2])
    assert np.abs(out - content).mean() > 1e-3
    assert [(p.octave, p.iteration) for p in seen] == [(0, 1), (0, 2), (1, 1), (1, 2)]
    assert seen[-1].width == 52 and seen[-1].height == 40 and seen[-1]["done"] == pytest.approx(1.0)
    assert all(p.objective > 0 and p.num_octaves == 2 and p.num_frames == 1 for p in seen)
    assert np.array_equal(out, impasto.dream(content, **SMALL))


def test_dream_options(content, style):
    need_model("vgg19")
    out = impasto.dream(content, guide=style, guide_size=0, layers=["relu2_1", "relu3_1:7"],
                        original_colors=True, tile=32, tile_halo="exact", pooling="avg",
                        octave_scale=1.3, learning_rate=2, jitter=4, **{k: v for k, v in SMALL.items()
                                                                        if k != "layers"})
    check_image(out, content.shape[:2])
    frames = impasto.dream(content, zoom_frames=2, zoom=1.1, **SMALL)
    assert isinstance(frames, list) and len(frames) == 2
    for f in frames:
        check_image(f, content.shape[:2])
    assert not np.array_equal(frames[0], frames[1])


def test_dream_cancel(content):
    need_model("vgg19")
    with pytest.raises(impasto.Cancelled) as e:
        impasto.dream(content, progress=lambda p: p.octave == 1, **SMALL)
    check_image(e.value.result, content.shape[:2])


def test_dream_refusals(content):
    need_model("vgg19")
    with pytest.raises(impasto.InvalidArgument, match="relu5_1 has channels 0..511"):
        impasto.dream(content, layers="relu5_1:512")
    with pytest.raises(impasto.InvalidArgument, match="unknown dream layer 'relu6_1'"):
        impasto.dream(content, layers="relu6_1")
    with pytest.raises(impasto.InvalidArgument, match="octaves must be 1"):
        impasto.dream(content, octaves=0)
    with pytest.raises(TypeError, match="unexpected option 'octave'"):
        impasto.dream(content, octave=2)
