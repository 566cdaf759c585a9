"""Each method on numpy arrays: shape, dtype, range, and keyword arguments reaching the library.
Tiny sizes keep the suite fast."""

import os

import numpy as np
import pytest

import impasto
from conftest import check_image, need_model


def test_fast_shapes(content):
    need_model("candy")
    out = impasto.fast(content, model="candy", threads=2)
    check_image(out, content.shape[:2])
    half = impasto.fast(content, model="candy", content_scale=2)
    check_image(half, (20, 26))
    u8 = impasto.fast((content * 255).astype(np.uint8), model="candy")
    assert np.abs(u8 - out).mean() < 0.02
    check_image(impasto.fast(content[:, :, 0], model="candy"), content.shape[:2])


def test_fast_tiled(content):
    """Forced tiles with the exact statistics give the untiled picture; bad options are refused."""
    need_model("candy")
    whole = impasto.fast(content, model="candy", tile=0)
    tiled = impasto.fast(content, model="candy", tile=32, tile_halo=8)
    assert tiled.shape == whole.shape
    assert np.abs(tiled - whole).mean() < 0.05
    est = impasto.fast(content, model="candy", tile=32, norm_stats="estimate", stats_side=64)
    check_image(est, content.shape[:2])
    with pytest.raises(impasto.InvalidArgument):
        impasto.fast(content, model="candy", norm_stats="guess")
    with pytest.raises(impasto.InvalidArgument):
        impasto.fast(content, model="candy", tile=30)


def test_fast_keeps_alpha(content):
    need_model("candy")
    rgba = np.concatenate([content, np.full(content.shape[:2] + (1,), 0.25, np.float32)], axis=2)
    out = impasto.fast(rgba, model="candy")
    check_image(out, content.shape[:2], channels=4)
    assert np.allclose(out[:, :, 3], 0.25, atol=1e-6)


def test_fast_model_by_path(content):
    path = need_model("mosaic")
    a = impasto.fast(content, model=path)
    b = impasto.fast(content, model="candy") if os.path.isfile(path.replace("mosaic", "candy")) else None
    check_image(a, content.shape[:2])
    if b is not None:
        assert np.abs(a - b).mean() > 0.02


def test_adain_shape_and_alpha(content, style):
    need_model("adain")
    full = impasto.adain(content, style, content_size=32, style_size=32, threads=2)
    check_image(full)
    assert max(full.shape[:2]) == 32 and full.shape[0] < full.shape[1]
    # alpha=0 decodes the content's own features: nearer the content than alpha=1's picture
    # (the decoder's reconstruction of a 40x52 synthetic picture is only rough)
    rec = impasto.adain(content, style, alpha=0, content_size=0, style_size=0)
    styled = impasto.adain(content, style, alpha=1, content_size=0, style_size=0)
    check_image(rec, content.shape[:2])
    d_rec = np.abs(rec - content).mean()
    d_styled = np.abs(styled - content).mean()
    assert d_rec < 0.7 * d_styled, (d_rec, d_styled)
    assert np.abs(rec - styled).mean() > 0.1


def test_adain_several_styles_and_weights(content, style):
    need_model("adain")
    other = style[:, ::-1, ::-1].copy()
    a = impasto.adain(content, [style, other], style_weights=[1, 0], content_size=32, style_size=32)
    b = impasto.adain(content, style, content_size=32, style_size=32)
    assert np.abs(a - b).max() < 1e-4
    with pytest.raises(impasto.InvalidArgument, match="2 style images"):
        impasto.adain(content, [style, other], style_weights=[1])


def test_wct(content, style):
    need_model("adain")
    one = impasto.wct(content, style, levels=1, content_size=32, style_size=32)
    check_image(one)
    assert max(one.shape[:2]) == 32
    # alpha=0 at relu4_1 alone decodes the content's own features, as AdaIN's alpha=0 does
    zero = impasto.wct(content, style, levels=1, alpha=0, content_size=0, style_size=0)
    rec = impasto.adain(content, style, alpha=0, content_size=0, style_size=0)
    assert np.abs(zero - rec).max() < 1e-4
    assert np.abs(impasto.wct(content, style, levels=1, content_size=0, style_size=0) - zero).mean() > 0.1
    need_model("lst-r31")
    two = impasto.wct(content, style, content_size=32, style_size=32)
    check_image(two, one.shape[:2])
    assert np.abs(two - one).mean() > 1e-3


def test_wct_mask(content, style):
    """Each gray level of the mask is a region whitened on its own and coloured by its own style:
    away from the edge, each half is nearer the one-style run of its style than the other's."""
    need_model("adain")
    red = np.clip(style * [1.0, 0.3, 0.2] + [0.4, 0, 0], 0, 1).astype(np.float32)
    blue = np.clip(style * [0.2, 0.3, 1.0] + [0, 0, 0.4], 0, 1).astype(np.float32)
    mask = np.zeros((40, 52, 1), np.float32)
    mask[:, 26:] = 1
    kw = dict(levels=1, content_size=0, style_size=0)
    both = impasto.wct(content, [red, blue], mask=mask, **kw)
    check_image(both, (40, 52))
    only_red, only_blue = impasto.wct(content, red, **kw), impasto.wct(content, blue, **kw)
    left, right = slice(0, 16), slice(36, 52)
    d = lambda a, b, s: float(np.abs(a[:, s] - b[:, s]).mean())
    assert d(both, only_red, left) < d(both, only_blue, left)
    assert d(both, only_blue, right) < d(both, only_red, right)
    with pytest.raises(impasto.InvalidArgument, match="2 gray levels for 3 style images"):
        impasto.wct(content, [red, blue, red], mask=mask, **kw)
    with pytest.raises(impasto.InvalidArgument, match="needs a mask"):
        impasto.wct(content, [red, blue], **kw)


def test_transfer(content, style):
    need_model("vgg19")
    seen = []
    out = impasto.transfer(content, style, image_size=32, num_iterations=2, seed=3, threads=2,
                           save_iter=1, progress=seen.append)
    check_image(out)
    assert max(out.shape[:2]) == 32 and out.shape[0] < out.shape[1]
    assert [(p.iteration, p["num_iterations"]) for p in seen] == [(1, 2), (2, 2)]
    assert all(np.isfinite(p.loss) and p.loss > 0 and p.style_loss > 0 for p in seen)
    # save_iter: the picture so far, on the iterations it names before the last
    check_image(seen[0].image, out.shape[:2])
    assert seen[1].image is None
    again = impasto.transfer(content, style, image_size=32, num_iterations=2, seed=3)
    assert np.array_equal(out, again)


def test_transfer_mask(content, style):
    need_model("vgg19")
    # two gray levels for two styles (left dark, right light), as `impasto transfer --mask`
    mask = np.zeros((40, 52), np.float32)
    mask[:, 26:] = 1
    out = impasto.transfer(content, [style, content], mask=mask, image_size=32, num_iterations=2, seed=3)
    check_image(out)
    assert max(out.shape[:2]) == 32
    # soft masks, one per style
    ramp = np.tile(np.linspace(0, 1, 52, dtype=np.float32), (40, 1))
    out = impasto.transfer(content, [style, content], mask=[1 - ramp, ramp], image_size=32, num_iterations=1)
    check_image(out)
    with pytest.raises(impasto.InvalidArgument, match="2 gray levels for 3 style images"):
        impasto.transfer(content, [style, content, style], mask=mask, image_size=32, num_iterations=1)
    with pytest.raises(impasto.InvalidArgument, match="mask has 2 soft masks for 3 style images"):
        impasto.transfer(content, [style, content, style], mask=[ramp, ramp], image_size=32)
    with pytest.raises(impasto.InvalidArgument, match="no style blend weights"):
        impasto.transfer(content, [style, content], mask=mask, style_blend_weights=[1, 2], image_size=32)


def test_transfer_options_reach_the_library(content, style):
    need_model("vgg19")
    # no iterations from the photo: the photo itself (resized), whatever the style
    start = impasto.transfer(content, style, image_size=26, num_iterations=0, init="image")
    assert start.shape == (20, 26, 3)
    small = content.reshape(20, 2, 26, 2, 3).mean(axis=(1, 3))
    assert np.abs(start - small).mean() < 0.02
    seen = []
    impasto.transfer(content, [style, style[::-1]], image_size=24, num_iterations=[1, 2],
                     scales=[16, 24], style_blend_weights=[1, 2], optimizer="adam",
                     learning_rate=1, style_layers=["relu1_1", "relu2_1"],
                     style_layer_weights=[1, 2], original_colors=True, seed=1,
                     progress=lambda p: seen.append((p.scale_index, p.iteration, p.width, p.height)))
    assert [s[:2] for s in seen] == [(0, 1), (1, 1), (1, 2)]
    assert max(seen[0][2:]) == 16 and max(seen[-1][2:]) == 24
    with pytest.raises(impasto.InvalidArgument, match="style_layer_weights has 1 values for 2"):
        impasto.transfer(content, style, style_layers="relu1_1,relu2_1", style_layer_weights=[1])
    with pytest.raises(TypeError, match="unexpected option 'imagesize'"):
        impasto.transfer(content, style, imagesize=32)
    with pytest.raises(impasto.InvalidArgument, match="optimizer"):
        impasto.transfer(content, style, optimizer="sgd")


def test_evaluate(content, style):
    need_model("vgg19")
    same = impasto.evaluate(content, content, [style])
    assert same["ssim"] == pytest.approx(1.0, abs=1e-6)
    assert same["psnr"] == float("inf")
    assert same["content_loss"] == pytest.approx(0.0, abs=1e-6)
    assert set(same["style_layers"]) == {"relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"}
    other = impasto.evaluate(style, content, style, style_layers=["relu1_1"], projections=8)
    assert other["ssim"] < 0.9 and other["content_loss"] > 0
    assert list(other["style_layers"]) == ["relu1_1"]
    assert other["style_loss"] == pytest.approx(0.0, abs=1e-3)


def _photos(folder, n=2, size=(36, 40)):
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(n):
        impasto.save_image(rng.random(size + (3,), dtype=np.float32), folder / ("p%d.png" % i))
    (folder / "notes.txt").write_text("ignored")
    return folder


def test_train_then_fast(tmp_path, style, content):
    need_model("vgg19")
    photos = _photos(tmp_path / "photos")
    steps = []
    out = impasto.train(style, photos, tmp_path / "net.safetensors", image_size=32, batch_size=1,
                        steps=2, threads=2, checkpoint_dir=False,
                        progress=lambda p: steps.append((p.step, p.num_steps, p.loss,
                                                         p.adversarial_loss, p.discriminator_loss)))
    assert out == str(tmp_path / "net.safetensors") and os.path.isfile(out)
    assert [s[:2] for s in steps] == [(1, 2), (2, 2)]
    assert all(np.isfinite(s[2]) for s in steps)
    assert all(s[3:] == (0, 0) for s in steps)  # no adversarial_weight: no adversarial losses
    check_image(impasto.fast(content, model=out), content.shape[:2])
    with pytest.raises(impasto.InvalidArgument, match="multiple of 4"):
        impasto.train(style, photos, tmp_path / "x.safetensors", image_size=30)
    with pytest.raises(impasto.InvalidArgument, match="safetensors"):
        impasto.train(style, photos, tmp_path / "x.png")


def test_train_adversarial(tmp_path, style):
    need_model("vgg19")
    photos = _photos(tmp_path / "photos")
    paintings = _photos(tmp_path / "paintings", size=(40, 36))
    seen = []
    impasto.train(style, photos, tmp_path / "adv.safetensors", image_size=32, batch_size=1,
                  steps=2, threads=2, checkpoint_dir=False, adversarial_weight=0.5,
                  paintings=paintings, progress=seen.append)
    assert [p.step for p in seen] == [1, 2]
    for p in seen:
        assert p.adversarial_loss > 0 and p.discriminator_loss > 0
        # the step's loss includes the (weighted) adversarial term
        assert p.loss == pytest.approx(p.content_loss + p.style_loss + p.adversarial_loss, rel=1e-6)
    with pytest.raises(impasto.InvalidArgument, match="paintings is for adversarial_weight"):
        impasto.train(style, photos, tmp_path / "x.safetensors", paintings=paintings)
    with pytest.raises(impasto.InvalidArgument, match="adversarial_weight must be >= 0"):
        impasto.train(style, photos, tmp_path / "x.safetensors", adversarial_weight=-1)
    with pytest.raises(impasto.InvalidArgument, match="no .png, .jpg or .jpeg files"):
        impasto.train(style, photos, tmp_path / "x.safetensors", adversarial_weight=1,
                      paintings=tmp_path)
