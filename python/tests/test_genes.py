"""impasto.breed and impasto.Genes through the installed package: a painting's genes stand for it
in adain and wct, children are the same for the same seed and child, genes files round-trip, bad
input raises."""

import numpy as np
import pytest

import impasto
from conftest import check_image, model_path, need_model


def test_genes_stand_for_the_painting(content, style):
    need_model("adain")
    g = impasto.Genes.from_image(style, style_size=0)
    assert g.has_covariance and g.weights == ()
    # AdaIN with the painting's genes is AdaIN with the painting (the same moments).
    a = impasto.adain(content, style, style_size=0, content_size=0)
    b = impasto.adain(content, g, style_size=0, content_size=0)
    check_image(b, content.shape[:2])
    assert np.abs(a - b).max() < 1e-5
    # So is WCT's relu4_1 level (its mean and covariance).
    w1 = impasto.wct(content, style, levels=1, style_size=0, content_size=0)
    w2 = impasto.wct(content, g, levels=1, style_size=0, content_size=0)
    assert np.abs(w1 - w2).max() < 1e-4


def test_breed_children(content, style, tmp_path):
    need_model("adain")
    parents = [style, content, style[::-1].copy()]
    kids = impasto.breed(parents, children=3, seed=5)
    assert len(kids) == 3
    for k in kids:
        w = k.weights
        assert len(w) == 3 and abs(sum(w) - 1) < 1e-9 and min(w) >= 0
    assert kids[0].weights != kids[1].weights
    # Child i of a seed is the same child whatever the number of children; another seed differs.
    again = impasto.breed(parents, children=1, seed=5)
    assert again[0].weights == kids[0].weights
    assert impasto.breed(parents, children=1, seed=6)[0].weights != kids[0].weights
    # A child as a file: saved, loaded, the same picture; used as a path too, and as a parent.
    path = tmp_path / "child1.genes.safetensors"
    kids[0].save(path)
    back = impasto.Genes.load(path)
    assert back.weights == pytest.approx(kids[0].weights, abs=1e-6)
    a = impasto.adain(content, kids[0], content_size=0)
    b = impasto.adain(content, str(path), content_size=0)
    assert np.abs(a - b).max() < 1e-4  # the file keeps the genes as float32
    assert np.abs(a - impasto.adain(content, style, content_size=0)).max() > 0.01
    # Among paintings, with weights.
    mix = impasto.adain(content, [str(path), style], style_weights=[1, 1], content_size=0, style_size=0)
    check_image(mix, content.shape[:2])
    grand = impasto.breed([back, kids[1]], children=2, seed=1)
    assert len(grand) == 2 and len(grand[0].weights) == 2


def test_breed_bad_input(content, style, tmp_path):
    need_model("adain")
    with pytest.raises(impasto.InvalidArgument, match="children must be 1"):
        impasto.breed([style], children=0)
    with pytest.raises(impasto.InvalidArgument, match="children must be 1"):
        impasto.breed([style], children=10 ** 6)
    with pytest.raises(impasto.InvalidArgument, match="no parents"):
        impasto.breed([])
    with pytest.raises(impasto.InvalidArgument, match="mutation"):
        impasto.breed([style], mutation=5)
    # A model is not genes: one clear error naming the kind.
    with pytest.raises(impasto.FormatError, match="kind 'adain'"):
        impasto.Genes.load(model_path("adain"))
    with pytest.raises(impasto.FormatError):
        impasto.adain(content, model_path("adain"))
    # WCT's relu3_1 level needs the painting itself.
    g = impasto.Genes.from_image(style)
    with pytest.raises(impasto.InvalidArgument, match="relu4_1 statistics only"):
        impasto.wct(content, g, levels=2)
