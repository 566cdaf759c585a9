"""Images between Python (numpy, PIL, files, bytes) and libimpasto's impasto_image.

Pixels are always copied into an image the library owns (impasto_image_create +
impasto_image_data) and copied back out; numpy memory is never handed to the library to keep.
"""

import os

import numpy as np

from ._native import Context, ffi, func, lib

_PIL_MODES = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}


def _is_pil(x):
    mod = type(x).__module__ or ""
    return mod.startswith("PIL.") and hasattr(x, "mode") and hasattr(x, "size")


def _pil_to_array(im):
    if im.mode not in _PIL_MODES:
        if im.mode in ("I;16", "I;16B", "I;16L", "I"):
            a = np.asarray(im, dtype=np.float64)
            return (np.clip(a, 0, 65535) / 65535.0).astype(np.float32)[:, :, None]
        if im.mode == "F":
            return np.asarray(im, dtype=np.float32)[:, :, None]
        if im.mode == "1":
            im = im.convert("L")
        elif im.mode == "PA" or "transparency" in im.info or im.mode.endswith("A"):
            im = im.convert("RGBA")
        else:
            im = im.convert("RGB")
    return np.asarray(im)


def as_array(img):
    """Any accepted image value as a C-contiguous float32 (H, W, C) array, C in 1..4, without
    going through the library (paths and bytes are decoded by load_image)."""
    if isinstance(img, (str, bytes, bytearray, memoryview)) or isinstance(img, os.PathLike):
        from ._api import load_image
        return load_image(img)
    if _is_pil(img):
        img = _pil_to_array(img)
    a = np.asarray(img)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or not 1 <= a.shape[2] <= 4:
        raise ValueError("an image is (H, W) or (H, W, C) with C = 1 (gray), 2 (gray+alpha), 3 (RGB) "
                         "or 4 (RGBA); got an array of shape %s" % (a.shape,))
    if a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError("an image needs at least one pixel; got shape %s" % (a.shape,))
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / np.float32(255)
    elif a.dtype == np.uint16:
        a = a.astype(np.float32) / np.float32(65535)
    elif a.dtype == np.bool_:
        a = a.astype(np.float32)
    elif a.dtype.kind == "f":
        a = a.astype(np.float32, copy=False)
    else:
        raise TypeError("image arrays are float (0..1), uint8 (0..255) or uint16 (0..65535); got %s"
                        % a.dtype)
    return np.ascontiguousarray(a)


class CImage:
    """An impasto_image the Python side owns (freed on release() or garbage collection)."""

    __slots__ = ("ptr",)

    def __init__(self, ptr):
        self.ptr = ffi.gc(ptr, lib().impasto_image_free)

    def release(self):
        if self.ptr is not None:
            ffi.release(self.ptr)
            self.ptr = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def _new(ctx, status, out):
    ctx.check(status)
    return CImage(out[0])


def from_array(ctx, a):
    """A new impasto_image holding a copy of a float32 (H, W, C) array."""
    L = lib()
    h, w, c = a.shape
    out = ffi.new("impasto_image **")
    img = _new(ctx, L.impasto_image_create(ctx.ptr, w, h, c, out), out)
    ffi.memmove(L.impasto_image_data(img.ptr), a, a.nbytes)
    return img


def load_c(ctx, src):
    """Decode a file (path) or encoded bytes into a new impasto_image."""
    out = ffi.new("impasto_image **")
    if isinstance(src, (bytes, bytearray, memoryview)):
        buf = ffi.from_buffer(src)
        status = func("impasto_image_load_memory")(ctx.ptr, buf, len(buf), out)
    else:
        status = lib().impasto_image_load(ctx.ptr, os.fsencode(src), out)
    return _new(ctx, status, out)


def to_cimage(ctx, img):
    """Any accepted image value as a new impasto_image."""
    if isinstance(img, (str, bytes, bytearray, memoryview)) or isinstance(img, os.PathLike):
        return load_c(ctx, img)
    return from_array(ctx, as_array(img))


def to_array(ptr):
    """A numpy float32 (H, W, C) copy of an impasto_image (a cdata pointer)."""
    L = lib()
    h, w, c = L.impasto_image_height(ptr), L.impasto_image_width(ptr), L.impasto_image_channels(ptr)
    a = np.empty((h, w, c), dtype=np.float32)
    ffi.memmove(a, L.impasto_image_cdata(ptr), a.nbytes)
    return a


def to_pil(img):
    """An image (array, path, bytes, PIL image) as an 8-bit PIL image: L, LA, RGB or RGBA by its
    channels."""
    from PIL import Image

    if _is_pil(img):
        return img
    a = as_array(img)
    a8 = (np.clip(a, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if a8.shape[2] == 1:
        a8 = a8[:, :, 0]
    return Image.fromarray(a8)  # L, LA, RGB or RGBA from the shape


def new_context(threads=0):
    return Context(threads)
