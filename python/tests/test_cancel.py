"""Cancelling: a progress callable returning True, exceptions raised in it, Ctrl-C."""

import os
import signal
import threading
import time

import numpy as np
import pytest

import impasto
from conftest import check_image, need_model


def test_transfer_cancel_returns_picture_so_far(content, style):
    need_model("vgg19")
    with pytest.raises(impasto.Cancelled) as e:
        impasto.transfer(content, style, image_size=32, num_iterations=50,
                         progress=lambda p: p.iteration >= 2)
    assert e.value.status_name == "IMPASTO_ERR_CANCELLED" and str(e.value)
    check_image(e.value.result)


def test_keyboard_interrupt_from_progress_propagates(content, style):
    need_model("vgg19")
    calls = []

    def progress(p):
        calls.append(p.iteration)
        raise KeyboardInterrupt

    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        impasto.transfer(content, style, image_size=32, num_iterations=50, progress=progress)
    assert calls == [1]
    assert signal.getsignal(signal.SIGINT) is before


def test_other_exception_from_progress_propagates(content, style):
    need_model("vgg19")

    def progress(p):
        raise ValueError("from the callback")

    with pytest.raises(ValueError, match="from the callback"):
        impasto.transfer(content, style, image_size=32, num_iterations=50, progress=progress)


def test_ctrl_c_without_progress(content, style):
    """SIGINT during a transfer with no progress callable stops it at the next iteration, and
    the KeyboardInterrupt comes from the package once the C call has returned."""
    need_model("vgg19")
    from impasto import _models, _native

    _models.get_model(_native.Context(), "vgg19", "model")  # loaded and cached before the timer
    before = signal.getsignal(signal.SIGINT)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    t0 = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt) as e:
            impasto.transfer(content, style, image_size=32, num_iterations=1000000)
    finally:
        timer.cancel()
    assert time.monotonic() - t0 < 30
    assert e.traceback[-1].path.name == "_run.py"  # raised after the call, not in Python code
    assert signal.getsignal(signal.SIGINT) is before


def test_ctrl_c_with_progress(content, style):
    need_model("vgg19")
    seen = []

    def progress(p):
        seen.append(p.iteration)
        if p.iteration == 2:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        impasto.transfer(content, style, image_size=32, num_iterations=50, progress=progress)
    assert seen[:2] == [1, 2] and len(seen) <= 3


def test_cancel_in_a_thread(content, style):
    need_model("vgg19")
    got = []

    def run():
        try:
            impasto.transfer(content, style, image_size=32, num_iterations=50,
                             progress=lambda p: True)
        except impasto.Cancelled as e:
            got.append(e)

    t = threading.Thread(target=run)
    t.start()
    t.join(60)
    assert len(got) == 1


def test_train_cancel_writes_checkpoint(tmp_path, style):
    need_model("vgg19")
    photos = tmp_path / "photos"
    photos.mkdir()
    impasto.save_image(np.random.default_rng(0).random((36, 36, 3), dtype=np.float32), photos / "a.png")
    with pytest.raises(impasto.Cancelled) as e:
        impasto.train(style, [str(photos / "a.png")], tmp_path / "net.safetensors", image_size=32,
                      batch_size=1, steps=5, checkpoint_dir=tmp_path / "ckpt",
                      progress=lambda p: p.step >= 1)
    written = os.listdir(tmp_path / "ckpt")
    assert written and written[0].endswith(".safetensors")
    assert written[0] in str(e.value)


@pytest.mark.parametrize("method", ["adain", "wct"])
def test_one_pass_progress_and_cancel(method, content, style):
    need_model("adain")
    run = getattr(impasto, method)
    kw = dict(content_size=32, style_size=32)
    if method == "wct":
        kw["levels"] = 1
    seen = []
    run(content, style, progress=lambda p: seen.append((p.stage, p.done, p.total)), **kw)
    if not seen:
        pytest.skip("the loaded libimpasto never calls impasto_pass_progress_fn (older than the "
                    "header's %s progress)" % method)
    assert seen[-1][1] == seen[-1][2] and all(isinstance(s[0], str) for s in seen)
    with pytest.raises(impasto.Cancelled):
        run(content, style, progress=lambda p: True, **kw)
    with pytest.raises(KeyboardInterrupt):
        run(content, style, progress=_interrupt, **kw)


def _interrupt(p):
    raise KeyboardInterrupt
