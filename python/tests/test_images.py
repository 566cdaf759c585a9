"""Images in and out: numpy (float, uint8, gray), PIL, files, bytes."""

import numpy as np
import pytest

import impasto
from impasto import _native
from conftest import check_image


def test_png_round_trip_float(tmp_path, content):
    path = tmp_path / "a.png"
    assert impasto.save_image(content, path) == str(path)
    back = impasto.load_image(str(path))
    check_image(back, content.shape[:2])
    assert np.abs(back - content).max() <= 0.5 / 255 + 1e-6


def test_inputs_uint8_gray_and_alpha(tmp_path):
    u8 = (np.arange(6 * 7 * 3) % 256).astype(np.uint8).reshape(6, 7, 3)
    impasto.save_image(u8, tmp_path / "u8.png")
    assert np.array_equal(np.round(impasto.load_image(tmp_path / "u8.png") * 255).astype(np.uint8), u8)
    gray = np.linspace(0, 1, 20, dtype=np.float32).reshape(4, 5)
    impasto.save_image(gray, tmp_path / "g.png")
    g = impasto.load_image(tmp_path / "g.png")
    assert g.shape == (4, 5, 1) and g.dtype == np.float32
    rgba = np.full((3, 3, 4), 0.5, np.float32)
    impasto.save_image(rgba, tmp_path / "a.png")
    assert impasto.load_image(tmp_path / "a.png").shape == (3, 3, 4)


def test_bad_arrays():
    with pytest.raises(ValueError, match="C = 1"):
        impasto.save_image(np.zeros((4, 4, 5), np.float32), "/tmp/never.png")
    with pytest.raises(ValueError):
        impasto.save_image(np.zeros((4,), np.float32), "/tmp/never.png")
    with pytest.raises(TypeError, match="int32"):
        impasto.save_image(np.zeros((4, 4, 3), np.int32), "/tmp/never.png")


def test_pil_in_and_out(tmp_path, content):
    Image = pytest.importorskip("PIL.Image")
    pil = impasto.to_pil(content)
    assert pil.mode == "RGB" and pil.size == (content.shape[1], content.shape[0])
    assert impasto.to_pil(content[:, :, :1]).mode == "L"
    assert impasto.to_pil(np.zeros((2, 2, 4), np.float32)).mode == "RGBA"
    back = impasto.load_image(impasto.save_image(pil, tmp_path / "p.png"))
    assert np.abs(back - content).max() <= 0.5 / 255 + 1e-6
    # palette and 1-bit images are converted
    impasto.save_image(pil.convert("P"), tmp_path / "pal.png")
    assert impasto.load_image(tmp_path / "pal.png").shape[2] == 3
    impasto.save_image(Image.new("1", (5, 4)), tmp_path / "bw.png")
    assert impasto.load_image(tmp_path / "bw.png").shape == (4, 5, 1)


def test_jpeg_by_extension(tmp_path, content):
    impasto.save_image(content, tmp_path / "a.jpg", quality=90)
    assert (tmp_path / "a.jpg").read_bytes()[:2] == b"\xff\xd8"
    back = impasto.load_image(tmp_path / "a.jpg")
    assert back.shape == content.shape and np.abs(back - content).mean() < 0.03


def test_bytes_in_and_out(tmp_path, content):
    if not (_native.has("impasto_image_load_memory") and _native.has("impasto_image_save_memory")
            and _native.has("impasto_free")):
        with pytest.raises(impasto.Unsupported, match="impasto_image_"):
            impasto.load_image(b"\x89PNG\r\n\x1a\n")
        pytest.skip("the loaded libimpasto has no impasto_image_load_memory/save_memory: "
                    "bytes in/out raise impasto.Unsupported")
    png = impasto.encode_image(content, "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    back = impasto.load_image(png)
    assert np.abs(back - content).max() <= 0.5 / 255 + 1e-6
    assert impasto.encode_image(content, "jpg")[:2] == b"\xff\xd8"
    with pytest.raises(impasto.FormatError):
        impasto.load_image(b"not an image at all")
    with pytest.raises(impasto.Error):
        impasto.encode_image(content, "gif")


def test_load_errors_carry_the_message(tmp_path):
    missing = tmp_path / "missing.png"
    with pytest.raises(impasto.FileError) as e:
        impasto.load_image(missing)
    assert "missing.png" in str(e.value) and e.value.status == 2
    assert isinstance(e.value, OSError) and isinstance(e.value, impasto.Error)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 30)
    with pytest.raises(impasto.FormatError) as e:
        impasto.load_image(bad)
    assert "bad.png" in e.value.message
