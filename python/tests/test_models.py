"""find_model's search order and its error; the model cache."""

import os
import sys

import pytest

import impasto


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return str(path)


def test_search_order(tmp_path, monkeypatch):
    env, xdg, cwd = tmp_path / "env", tmp_path / "xdg", tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.setenv("IMPASTO_MODEL_DIR", str(env))
    monkeypatch.setenv("XDG_DATA_HOME", str(xdg))
    monkeypatch.chdir(cwd)
    dirs = impasto.model_search_dirs()
    assert dirs[:3] == [str(env), str(xdg / "impasto" / "models"),
                        os.path.join(sys.prefix, "share", "impasto", "models")]
    assert dirs[3:] == ["/usr/local/share/impasto/models", str(cwd / "models")]
    name = "zz-test-style"
    local = _touch(cwd / "models" / (name + ".safetensors"))
    assert impasto.find_model(name) == local
    in_xdg = _touch(xdg / "impasto" / "models" / (name + ".safetensors"))
    assert impasto.find_model(name) == in_xdg
    in_env = _touch(env / (name + ".safetensors"))
    assert impasto.find_model(name) == in_env
    assert impasto.find_model(name + ".safetensors") == in_env


def test_default_xdg_and_paths(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert str(tmp_path / ".local" / "share" / "impasto" / "models") in impasto.model_search_dirs()
    p = _touch(tmp_path / "some" / "net.safetensors")
    assert impasto.find_model(p) == p
    assert impasto.find_model(tmp_path / "some" / "net.safetensors") == p
    with pytest.raises(impasto.ModelNotFound, match="no such file"):
        impasto.find_model(str(tmp_path / "some" / "other.safetensors"))


def test_not_found_names_every_place(tmp_path, monkeypatch):
    monkeypatch.setenv("IMPASTO_MODEL_DIR", str(tmp_path / "env"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(impasto.ModelNotFound) as e:
        impasto.find_model("no-such-style")
    msg = str(e.value)
    for d in impasto.model_search_dirs():
        assert os.path.join(d, "no-such-style.safetensors") in msg
    assert isinstance(e.value, FileNotFoundError) and isinstance(e.value, impasto.Error)
    with pytest.raises(impasto.ModelNotFound):
        impasto.fast([[0.5]], model="no-such-style")


def test_corrupt_model_is_a_format_error(tmp_path, content):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x08\0\0\0\0\0\0\0{broken}")
    with pytest.raises(impasto.Error) as e:
        impasto.fast(content, model=str(bad))
    assert "bad.safetensors" in str(e.value)
