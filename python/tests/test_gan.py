"""CycleGAN and pix2pix: gan_train() and translate() on tiny networks (resnet_1blocks /
unet_32, ngf = ndf = 2, 32-pixel crops, 3 steps): a run takes a fraction of a second. The
pictures are written with save_image into tmp folders; no model file is needed."""

import os
import signal
import threading

import numpy as np
import pytest

import impasto
from conftest import check_image, model_path

TINY = dict(ngf=2, ndf=2, size=32, steps=3, threads=1)
CYC = dict(TINY, generator="resnet_1blocks")
P2P = dict(TINY, generator="unet_32")
CYC_LOSSES = ["D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B"]
P2P_LOSSES = ["G_GAN", "G_L1", "D_real", "D_fake"]


def _pictures(folder, n, size, seed):
    folder.mkdir()
    rng = np.random.default_rng(seed)
    for i in range(n):
        impasto.save_image(rng.random(size + (3,), dtype=np.float32), folder / ("p%d.png" % i))
    return folder


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Folders of pictures: A and B (40x40, unpaired), P (80x40, A|B pairs)."""
    d = tmp_path_factory.mktemp("gan")
    return {"root": d, "A": _pictures(d / "A", 2, (40, 40), 1),
            "B": _pictures(d / "B", 2, (40, 40), 2), "P": _pictures(d / "P", 2, (40, 80), 3)}


@pytest.fixture(scope="module")
def cyclegan(data):
    """A tiny CycleGAN, with what its progress callable saw."""
    seen = []
    out = impasto.gan_train(data["A"], data["root"] / "cyc.safetensors", b=data["B"], seed=5,
                            preview_every=3, progress=seen.append, **CYC)
    return out, seen


@pytest.fixture(scope="module")
def pix2pix(data):
    seen = []
    out = impasto.gan_train(data["P"], data["root"] / "p2p.safetensors", model="pix2pix",
                            progress=seen.append, **P2P)
    return out, seen


def test_cyclegan_train(cyclegan, data):
    out, seen = cyclegan
    assert out == str(data["root"] / "cyc.safetensors") and os.path.getsize(out) > 0
    assert [(p.step, p["num_steps"]) for p in seen] == [(1, 3), (2, 3), (3, 3)]
    assert [p.epoch for p in seen] == [0, 0, 1]  # an epoch: max(na, nb) = 2 steps
    assert seen[0].learning_rate == pytest.approx(2e-4) and seen[-1].learning_rate < 2e-4
    for p in seen:
        assert list(p.losses) == CYC_LOSSES
        assert all(np.isfinite(v) and v >= 0 for v in p.losses.values())
        assert p.checkpoint is None and p.seconds >= 0
    # preview_every=3: the first picture of A translated, on step 3 only
    assert seen[0].preview is None and seen[1].preview is None
    check_image(seen[2].preview)
    # no checkpoint_every: no checkpoint written beside the output
    assert not [n for n in os.listdir(data["root"]) if n.startswith("gan_step_")]


def test_cyclegan_translate_both_ways(cyclegan, content):
    out, _ = cyclegan
    ab = impasto.translate(content, out)
    check_image(ab, content.shape[:2])
    ba = impasto.translate(content, out, direction="BtoA", threads=1)
    check_image(ba, content.shape[:2])
    assert np.abs(ab - ba).mean() > 1e-4  # two generators
    # instance norm, no dropout: the same picture every time, eval or not
    assert np.array_equal(ab, impasto.translate(content, out, eval=True))
    # size: the longer side first; uint8 and gray pictures; alpha carried over
    check_image(impasto.translate(content, out, size=26), (20, 26))
    assert np.abs(impasto.translate((content * 255).astype(np.uint8), out) - ab).mean() < 0.02
    check_image(impasto.translate(content[:, :, 0], out), content.shape[:2])
    rgba = np.concatenate([content, np.full(content.shape[:2] + (1,), 0.25, np.float32)], axis=2)
    with_alpha = impasto.translate(rgba, out)
    check_image(with_alpha, content.shape[:2], channels=4)
    assert np.allclose(with_alpha[:, :, 3], 0.25, atol=1e-6)
    assert np.abs(with_alpha[:, :, :3] - ab).max() < 1e-5


def test_translate_from_threads(cyclegan, content):
    """One cached model, several threads: calls take its lock in turn, the results are the same."""
    out, _ = cyclegan
    want = impasto.translate(content, out)
    got = []
    threads = [threading.Thread(target=lambda: got.append(impasto.translate(content, out)))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(got) == 3 and all(np.array_equal(g, want) for g in got)


def test_translate_model_by_name(cyclegan, content, tmp_path, monkeypatch):
    out, _ = cyclegan
    (tmp_path / "h2z.safetensors").write_bytes(open(out, "rb").read())
    monkeypatch.setenv("IMPASTO_MODEL_DIR", str(tmp_path))
    assert np.array_equal(impasto.translate(content, "h2z"), impasto.translate(content, out))
    with pytest.raises(impasto.ModelNotFound, match="no-such-gan"):
        impasto.translate(content, "no-such-gan")


def test_pix2pix_train_and_translate(pix2pix, content):
    out, seen = pix2pix
    assert [p.step for p in seen] == [1, 2, 3]
    assert all(list(p.losses) == P2P_LOSSES for p in seen)
    ab = impasto.translate(content, out, seed=1)
    check_image(ab, content.shape[:2])
    # batch norm from the picture and dropout on (test.py's default): seeded; eval: neither
    assert np.array_equal(ab, impasto.translate(content, out, seed=1))
    ev = impasto.translate(content, out, eval=True)
    check_image(ev, content.shape[:2])
    assert np.array_equal(ev, impasto.translate(content, out, eval=True, seed=9))
    with pytest.raises(impasto.InvalidArgument, match="translates only A to B") as e:
        impasto.translate(content, out, direction="BtoA")
    assert e.value.status == impasto._native.lib().IMPASTO_ERR_INVALID_ARG


@pytest.mark.parametrize("task", ["colorize", "edges"])
def test_pix2pix_tasks_from_a_list(task, data, tmp_path, content):
    photos = sorted(str(data["A"] / n) for n in os.listdir(data["A"]))
    seen = []
    out = impasto.gan_train(photos, tmp_path / "t.safetensors", model="pix2pix", task=task,
                            progress=lambda p: seen.append(p.step), **dict(P2P, steps=2))
    assert seen == [1, 2]
    check_image(impasto.translate(content, out), content.shape[:2])


def test_translate_bad_inputs(cyclegan, content, tmp_path):
    out, _ = cyclegan
    with pytest.raises(impasto.InvalidArgument, match="direction"):
        impasto.translate(content, out, direction="sideways")
    with pytest.raises(impasto.InvalidArgument, match="size -1 outside"):
        impasto.translate(content, out, size=-1)
    with pytest.raises(impasto.InvalidArgument, match=r"too small \(2x2\) for resnet_1blocks"):
        impasto.translate(np.zeros((2, 2, 3), np.float32), out)
    with pytest.raises(impasto.InvalidArgument, match="seed"):
        impasto.translate(content, out, seed=-1)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x08\0\0\0\0\0\0\0{broken}")
    with pytest.raises(impasto.FormatError, match="bad.safetensors"):
        impasto.translate(content, str(bad))
    if os.path.isfile(model_path("candy")):  # a fast style network
        with pytest.raises(impasto.FormatError, match="not a CycleGAN or pix2pix one"):
            impasto.translate(content, "candy")


def test_gan_train_bad_inputs(data, tmp_path):
    A, B, P, o = data["A"], data["B"], data["P"], tmp_path / "x.safetensors"
    # refused by the Python layer, as the CLI refuses them
    with pytest.raises(impasto.InvalidArgument, match="give B's pictures too"):
        impasto.gan_train(A, o, **CYC)
    with pytest.raises(impasto.InvalidArgument, match="b is for model='cyclegan' only"):
        impasto.gan_train(P, o, b=B, model="pix2pix", **P2P)
    with pytest.raises(impasto.InvalidArgument, match="task is for model='pix2pix' only"):
        impasto.gan_train(A, o, b=B, task="edges", **CYC)
    with pytest.raises(impasto.InvalidArgument, match="lambda_l1 is for model='pix2pix' only"):
        impasto.gan_train(A, o, b=B, lambda_l1=5, **CYC)
    with pytest.raises(impasto.InvalidArgument, match="lambda_a is for model='cyclegan' only"):
        impasto.gan_train(P, o, model="pix2pix", lambda_a=5, **P2P)
    with pytest.raises(impasto.InvalidArgument, match="'cyclegan' or 'pix2pix', got 'munit'"):
        impasto.gan_train(A, o, b=B, model="munit")
    with pytest.raises(impasto.InvalidArgument, match="norm"):
        impasto.gan_train(A, o, b=B, norm="layer", **CYC)
    with pytest.raises(impasto.InvalidArgument, match="name it FILE.safetensors"):
        impasto.gan_train(A, tmp_path / "x.png", b=B, **CYC)
    with pytest.raises(impasto.InvalidArgument, match="not a folder"):
        impasto.gan_train(A, o, b=A / "p0.png", **CYC)
    with pytest.raises(TypeError, match="unexpected option 'lambda_A'"):
        impasto.gan_train(A, o, b=B, lambda_A=5, **CYC)
    # refused by the library before any work, with its message
    with pytest.raises(impasto.InvalidArgument, match="crop size 30 is not a multiple of 4"):
        impasto.gan_train(A, o, b=B, **dict(CYC, size=30))
    with pytest.raises(impasto.InvalidArgument, match="crop size 48 is not a multiple of 32"):
        impasto.gan_train(P, o, model="pix2pix", **dict(P2P, size=48))
    with pytest.raises(impasto.InvalidArgument, match="unknown generator 'resnet'"):
        impasto.gan_train(A, o, b=B, **dict(CYC, generator="resnet"))
    with pytest.raises(impasto.InvalidArgument, match="unknown discriminator 'patch'"):
        impasto.gan_train(A, o, b=B, discriminator="patch", **CYC)
    with pytest.raises(impasto.InvalidArgument, match="only one picture for domain B"):
        impasto.gan_train(A, o, b=[str(B / "p0.png")], **CYC)
    with pytest.raises(impasto.InvalidArgument, match="no pictures for domain A"):
        impasto.gan_train([], o, b=B, **CYC)
    odd = _pictures(tmp_path / "odd", 2, (40, 81), 4)
    with pytest.raises(impasto.InvalidArgument, match=r"an A\|B picture must have an even width"):
        impasto.gan_train(odd, o, model="pix2pix", **P2P)
    with pytest.raises(impasto.FileError, match="missing.png"):
        impasto.gan_train([str(A / "p0.png"), str(tmp_path / "missing.png")], o, b=B, **CYC)
    assert not o.exists()


def test_gan_options_reach_the_library(data, tmp_path):
    """Every option named as the CLI's: a run with all of them set differs from the defaults'."""
    base = impasto.gan_train(data["A"], tmp_path / "base.safetensors", b=data["B"], **CYC)
    other = impasto.gan_train(
        data["A"], tmp_path / "other.safetensors", b=data["B"], discriminator="n_layers",
        n_layers_d=2, norm="batch", dropout=True, gan_mode="vanilla", load_size=36, no_flip=True,
        pool_size=2, lambda_a=5, lambda_b=5, lambda_identity=0, lr=1e-3, beta1=0.9, epochs=1,
        epochs_decay=1, seed=3, checkpoint_dir=False, **CYC)
    assert open(base, "rb").read() != open(other, "rb").read()
    again = impasto.gan_train(data["A"], tmp_path / "again.safetensors", b=data["B"], **CYC)
    assert open(base, "rb").read() == open(again, "rb").read()  # seeded: the same model
    batch = impasto.gan_train(data["A"], tmp_path / "batch.safetensors", b=data["B"], batch_size=2,
                              checkpoint_dir=False, **CYC)
    assert b'"batch_size":"2"' in open(batch, "rb").read()


def test_gan_cancel_then_resume(data, cyclegan, tmp_path):
    """Returning True cancels after that step with a checkpoint (named by impasto.Cancelled);
    resumed from it, the run writes the same model as the unbroken one."""
    ckpt = tmp_path / "ckpt"
    seen = []

    def stop(p):
        seen.append(p.step)
        return p.step == 1

    with pytest.raises(impasto.Cancelled) as e:
        impasto.gan_train(data["A"], tmp_path / "c.safetensors", b=data["B"], seed=5,
                          checkpoint_dir=ckpt, progress=stop, **CYC)
    assert seen == [1] and e.value.status_name == "IMPASTO_ERR_CANCELLED"
    written = os.listdir(ckpt)
    assert written == ["gan_step_1.safetensors"] and str(ckpt / written[0]) in str(e.value)
    assert not (tmp_path / "c.safetensors").exists()
    steps = []
    out = impasto.gan_train(data["A"], tmp_path / "r.safetensors", b=data["B"], seed=5,
                            resume=ckpt / written[0], progress=lambda p: steps.append(p.step),
                            **CYC)
    assert steps == [2, 3]
    assert open(out, "rb").read() == open(cyclegan[0], "rb").read()


def test_gan_checkpoint_every_and_preview_image(data, tmp_path, content):
    seen = []
    impasto.gan_train(data["P"], tmp_path / "p.safetensors", model="pix2pix", checkpoint_every=2,
                      preview_every=2, preview_image=content,
                      progress=lambda p: seen.append((p.step, p.checkpoint, p.preview)), **P2P)
    assert [s[0] for s in seen] == [1, 2, 3]
    assert seen[0][1] is None and seen[1][1] == str(tmp_path / "gan_step_2.safetensors")
    assert seen[2][1] == str(tmp_path / "gan_step_3.safetensors")  # the last step too
    assert seen[0][2] is None
    for s in seen[1:]:
        check_image(s[2])
    assert os.path.isfile(tmp_path / "gan_step_2.safetensors")


def test_gan_progress_exceptions(data, tmp_path):
    before = signal.getsignal(signal.SIGINT)

    def interrupt(p):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        impasto.gan_train(data["A"], tmp_path / "k.safetensors", b=data["B"],
                          checkpoint_dir=False, progress=interrupt, **CYC)
    assert signal.getsignal(signal.SIGINT) is before

    seen = []

    def ctrl_c(p):  # Ctrl-C during the run: stops at the next step, KeyboardInterrupt after
        seen.append(p.step)
        if p.step == 1:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        impasto.gan_train(data["A"], tmp_path / "k.safetensors", b=data["B"],
                          checkpoint_dir=False, progress=ctrl_c, **CYC)
    assert seen == [1] and signal.getsignal(signal.SIGINT) is before

    def fail(p):
        raise ValueError("from the callback")

    with pytest.raises(ValueError, match="from the callback"):
        impasto.gan_train(data["A"], tmp_path / "k.safetensors", b=data["B"],
                          checkpoint_dir=False, progress=fail, **CYC)
    with pytest.raises(TypeError, match="progress must be callable"):
        impasto.gan_train(data["A"], tmp_path / "k.safetensors", b=data["B"], progress=1, **CYC)
    assert not (tmp_path / "k.safetensors").exists()
