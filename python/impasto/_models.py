"""Finding model files by name and keeping loaded models."""

import os
import sys
import threading

from ._errors import ModelNotFound
from ._native import ffi, func, lib

SUFFIX = ".safetensors"


def search_dirs():
    """The folders a model name is looked up in, in order."""
    dirs = []
    env = os.environ.get("IMPASTO_MODEL_DIR")
    if env:
        dirs.append(env)
    xdg = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    dirs.append(os.path.join(xdg, "impasto", "models"))
    dirs.append(os.path.join(sys.prefix, "share", "impasto", "models"))
    dirs.append("/usr/local/share/impasto/models")
    dirs.append(os.path.join(os.getcwd(), "models"))
    seen, out = set(), []
    for d in dirs:
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


def _is_path(name):
    if isinstance(name, os.PathLike):
        return True
    return os.sep in name or (os.altsep is not None and os.altsep in name)


def find_model(name):
    """The path of a model: `name` is a file path (anything with a folder separator, a
    path-like object, or an existing file), or a model name such as "candy", "vgg19", "adain",
    "lst-r31" (NAME.safetensors) looked up in $IMPASTO_MODEL_DIR, $XDG_DATA_HOME/impasto/models
    (default ~/.local/share/impasto/models), <sys.prefix>/share/impasto/models,
    /usr/local/share/impasto/models and ./models. Raises impasto.ModelNotFound naming every
    place searched."""
    if not isinstance(name, (str, os.PathLike)):
        raise TypeError("a model is a name or a path, got %r" % (name,))
    path = os.fspath(name)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not path:
        raise ValueError("empty model name")
    if _is_path(name) or os.path.isfile(path):
        if os.path.isfile(path):
            return os.path.abspath(path)
        raise ModelNotFound("model file %s: no such file" % path)
    fname = path if path.endswith(SUFFIX) else path + SUFFIX
    tried = []
    for d in search_dirs():
        cand = os.path.join(d, fname)
        if os.path.isfile(cand):
            return os.path.abspath(cand)
        tried.append(cand)
    raise ModelNotFound("model '%s' not found; looked for %s (set IMPASTO_MODEL_DIR, or give a path)"
                        % (path, ", ".join(tried)))


class _Cached:
    __slots__ = ("ptr", "lock", "path", "kind")

    def __init__(self, ptr, path, kind):
        self.ptr, self.path, self.kind = ptr, path, kind
        self.lock = threading.Lock()


_cache = {}
_cache_lock = threading.Lock()


def get_model(ctx, name, kind):
    """A loaded model for `name` (a name or path), kind "model" (impasto_model_load: vgg19,
    adain, lst-r31), "fast" (impasto_fast_load) or "gan" (impasto_gan_load: CycleGAN, pix2pix),
    cached per (real path, kind)."""
    path = os.path.realpath(find_model(name))
    key = (path, kind)
    with _cache_lock:
        m = _cache.get(key)
    if m is not None:
        return m
    L = lib()
    if kind == "gan":
        out = ffi.new("impasto_gan_model **")
        ctx.check(func("impasto_gan_load")(ctx.ptr, os.fsencode(path), out))
        m = _Cached(ffi.gc(out[0], L.impasto_gan_free), path, kind)
    elif kind == "fast":
        out = ffi.new("impasto_fast_model **")
        ctx.check(L.impasto_fast_load(ctx.ptr, os.fsencode(path), out))
        m = _Cached(ffi.gc(out[0], L.impasto_fast_free), path, kind)
    else:
        out = ffi.new("impasto_model **")
        ctx.check(L.impasto_model_load(ctx.ptr, os.fsencode(path), out))
        m = _Cached(ffi.gc(out[0], L.impasto_model_free), path, kind)
    with _cache_lock:
        return _cache.setdefault(key, m)


def clear_model_cache():
    """Forget every loaded model (their memory is freed once no call is using them)."""
    with _cache_lock:
        _cache.clear()
