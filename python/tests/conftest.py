"""Shared fixtures. The tests import the installed `impasto` (run_tests.sh installs the wheel
into a venv and runs them from outside the source tree); models come from $IMPASTO_MODEL_DIR or
the repository's models/ folder, and a test whose model is missing is skipped, naming it."""

import os

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
MODEL_DIR = os.environ.get("IMPASTO_MODEL_DIR") or os.path.join(REPO, "models")
HEADER = os.environ.get("IMPASTO_HEADER") or os.path.join(REPO, "include", "impasto.h")

# find_model() looks in $IMPASTO_MODEL_DIR first: point it at the test models.
os.environ["IMPASTO_MODEL_DIR"] = MODEL_DIR


def model_path(name):
    return os.path.join(MODEL_DIR, name + ".safetensors")


def need_model(name):
    path = model_path(name)
    if not os.path.isfile(path):
        pytest.skip("model %s missing (no %s; run `make models` or set IMPASTO_MODEL_DIR)"
                    % (name, path))
    return path


@pytest.fixture(scope="session")
def content():
    """A 40x52 RGB photo stand-in: smooth gradients and a bright disc, float32 0..1."""
    y, x = np.mgrid[0:40, 0:52].astype(np.float32)
    r = x / 51.0
    g = y / 39.0
    b = ((x - 30) ** 2 + (y - 18) ** 2 < 120).astype(np.float32) * 0.8 + 0.1
    return np.stack([r, g, b], axis=2).astype(np.float32)


@pytest.fixture(scope="session")
def style():
    """A 36x36 RGB painting stand-in: coloured diagonal stripes with noise."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:36, 0:36].astype(np.float32)
    s = (np.sin((x + y) * 0.9) + 1) / 2
    img = np.stack([s, 1 - s, 0.5 * s + 0.25], axis=2)
    img += rng.normal(0, 0.05, img.shape)
    return np.clip(img, 0, 1).astype(np.float32)


def check_image(a, shape=None, channels=3):
    assert isinstance(a, np.ndarray)
    assert a.dtype == np.float32
    assert a.ndim == 3 and a.shape[2] == channels
    if shape is not None:
        assert a.shape[:2] == tuple(shape)
    assert np.isfinite(a).all()
    assert a.min() >= 0.0 and a.max() <= 1.0
