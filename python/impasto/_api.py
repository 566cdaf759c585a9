"""The public functions: transfer, adain, wct, fast, train, translate, gan_train, evaluate, dream,
and image helpers."""

import math
import operator
import os

from . import _images as im
from ._errors import Cancelled, InvalidArgument
from ._genes import as_genes
from ._models import get_model
from ._native import Context, ffi, func, lib, text
from ._run import Progress, Runner

__all__ = ["transfer", "adain", "wct", "fast", "train", "translate", "gan_train", "evaluate", "dream",
           "load_image", "save_image", "encode_image", "version"]

_AUTO = object()


# ---- option helpers ------------------------------------------------------------------------

def _check_options(fname, given, allowed):
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise TypeError("%s() got unexpected option%s %s; its options are: %s" % (
            fname, "s" if len(unknown) > 1 else "", ", ".join(repr(u) for u in unknown),
            ", ".join(sorted(allowed))))


def _int(name, v):
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, bool):
        raise TypeError("%s takes a whole number, got %r" % (name, v))
    try:
        return operator.index(v)
    except TypeError:
        raise TypeError("%s takes a whole number, got %r" % (name, v)) from None


def _float(name, v):
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise TypeError("%s takes a number, got %r" % (name, v)) from None
    if not math.isfinite(f):
        raise InvalidArgument("%s must be finite, got %r" % (name, v))
    return f


def _bool(v):
    return 1 if v else 0


def _choice(name, v, choices):
    if v not in choices:
        raise InvalidArgument("%s is %s, got %r" % (name, " or ".join(repr(c) for c in choices), v))
    return choices[v]


def _floats(name, v):
    if isinstance(v, (str, bytes)):
        v = [x for x in v.replace(" ", ",").split(",") if x]
    try:
        return [_float(name, x) for x in v]
    except TypeError:
        raise TypeError("%s takes a list of numbers, got %r" % (name, v)) from None


def _layers(v):
    """A comma list of layer names from a string or a sequence of names."""
    if isinstance(v, str):
        return v
    return ",".join(str(x) for x in v)


def _count_layers(s):
    """Counted as the library splits the list (commas or spaces, empty items skipped)."""
    return len([x for x in s.replace(" ", ",").split(",") if x])


def _tile(name, v):
    if v is None or v == "auto":
        return -1
    return _int(name, v)


def _halo(name, v):
    if v is None or v == "exact":
        return -1
    return _int(name, v)


class _Keep:
    """Keeps the C objects one call points at alive until it returns."""

    def __init__(self):
        self.items = []

    def cstr(self, s):
        b = ffi.new("char[]", os.fsencode(s))
        self.items.append(b)
        return b

    def doubles(self, values):
        arr = ffi.new("double[]", list(values))
        self.items.append(arr)
        return arr

    def obj(self, x):
        """Keeps any object (a Genes, a cffi array) alive; returns it."""
        if x is not None:
            self.items.append(x)
        return x

    def image(self, ctx, img):
        c = im.to_cimage(ctx, img)
        self.items.append(c)
        return c.ptr

    def release(self):
        for x in self.items:
            if isinstance(x, im.CImage):
                x.release()
        self.items.clear()


def _style_list(styles):
    if isinstance(styles, (list, tuple)):
        if not styles:
            raise InvalidArgument("no style image")
        return list(styles)
    return [styles]


def _run(runner, call, out=None):
    """Calls call() with SIGINT handled. Returns (status, result) where result is the picture
    in *out as an array (or None); raises what the progress callback stored, or
    KeyboardInterrupt after Ctrl-C, once the C call has returned and *out is freed."""
    with runner:
        status = call()
    result = None
    if out is not None and out[0] != ffi.NULL:
        with im.CImage(out[0]) as r:
            result = im.to_array(r.ptr)
    runner.reraise()
    return status, result


# ---- images ---------------------------------------------------------------------------------

def load_image(src):
    """Decode a PNG or JPEG (a path, or the file's bytes) into a float32 (H, W, C) array, 0..1,
    C = 1..4 as stored (gray, gray+alpha, RGB, RGBA; EXIF orientation applied)."""
    ctx = Context()
    with im.load_c(ctx, src) as c:
        return im.to_array(c.ptr)


def save_image(img, path, quality=0):
    """Write an image (array, PIL image, ...) as PNG or JPEG, chosen by the extension (.png,
    .jpg, .jpeg); quality is for JPEG (1..100, 0 = 95). Written atomically. Returns the path."""
    ctx = Context()
    with im.to_cimage(ctx, img) as c:
        ctx.check(lib().impasto_image_save(ctx.ptr, c.ptr, os.fsencode(path), int(quality)))
    return os.fspath(path)


def encode_image(img, format="png", quality=0):
    """An image encoded as PNG or JPEG bytes (format "png", "jpg" or "jpeg")."""
    save_memory = func("impasto_image_save_memory")
    free = func("impasto_free")
    ctx = Context()
    data = ffi.new("void **")
    size = ffi.new("size_t *")
    with im.to_cimage(ctx, img) as c:
        ctx.check(save_memory(ctx.ptr, c.ptr, format.encode(), int(quality), data, size))
    try:
        return bytes(ffi.buffer(data[0], size[0]))
    finally:
        free(data[0])


def version():
    """The library's version (impasto_version())."""
    return text(func("impasto_version")())


# ---- Gatys et al. ---------------------------------------------------------------------------

_TRANSFER_OPTIONS = (
    "content_weight", "style_weight", "tv_weight", "num_iterations", "init", "init_image", "seed",
    "optimizer", "learning_rate", "lbfgs_history", "line_search", "image_size", "style_scale",
    "style_blend_weights", "pooling", "content_layers", "style_layers", "style_layer_weights",
    "original_colors", "normalize_gradients", "save_iter", "scales", "threads", "mask")


def _transfer_info(want_image):
    def describe(p):
        return Progress(scale_index=p.scale_index, num_scales=p.num_scales, width=p.width,
                        height=p.height, iteration=p.iteration, num_iterations=p.num_iterations,
                        loss=p.loss, content_loss=p.content_loss, style_loss=p.style_loss,
                        tv_loss=p.tv_loss, seconds=p.seconds,
                        image=im.to_array(p.image) if want_image and p.image != ffi.NULL else None)
    return describe


def transfer(content, styles, *, model=None, progress=None, **options):
    """Repaint `content` in the style of `styles` (one image or a list to blend) by Gatys et
    al.'s optimisation over VGG-19 (`impasto transfer`). Options are the CLI's long options in
    snake_case: image_size=512, num_iterations=1000 (or one per scale), content_weight=5,
    style_weight=100, tv_weight=1e-3, style_scale=1, style_blend_weights, init="random"|"image",
    init_image, seed=-1, optimizer="lbfgs"|"adam", learning_rate=10, lbfgs_history=100,
    line_search=False, pooling="max"|"avg", content_layers, style_layers, style_layer_weights,
    original_colors=False, normalize_gradients=False, save_iter=100, scales=[...], threads=0,
    mask (spatial control, Gatys et al. 2017's guided Gram matrices: an image whose gray levels,
    darkest first, each take their own style, or a list of soft masks, one per style, each's gray
    value that style's weight; not with style_blend_weights).

    progress(p) is called every iteration with p.iteration, p.num_iterations, p.loss,
    p.content_loss, p.style_loss, p.tv_loss, p.seconds, p.scale_index, p.num_scales, p.width,
    p.height and p.image (the picture so far every save_iter iterations, else None); returning
    True cancels (impasto.Cancelled, whose .result is the picture so far). Returns a float32
    (H, W, 3) array (4 channels when the content has alpha)."""
    _check_options("transfer", options, _TRANSFER_OPTIONS)
    L = lib()
    styles = _style_list(styles)
    ctx = Context(options.get("threads", 0))
    keep = _Keep()
    opt = ffi.new("impasto_transfer_options *")
    L.impasto_transfer_options_init(opt)
    try:
        o = options
        for k in ("content_weight", "style_weight", "tv_weight", "learning_rate", "style_scale"):
            if k in o:
                setattr(opt, k, _float(k, o[k]))
        for k in ("image_size", "lbfgs_history", "save_iter"):
            if k in o:
                setattr(opt, k, _int(k, o[k]))
        if "seed" in o:
            opt.seed = _int("seed", o["seed"])
        if "line_search" in o:
            opt.lbfgs_line_search = _bool(o["line_search"])
        for k in ("original_colors", "normalize_gradients"):
            if k in o:
                setattr(opt, k, _bool(o[k]))
        if "optimizer" in o:
            opt.optimizer = _choice("optimizer", o["optimizer"],
                                    {"lbfgs": L.IMPASTO_OPTIM_LBFGS, "adam": L.IMPASTO_OPTIM_ADAM})
        if "pooling" in o:
            opt.pooling = _choice("pooling", o["pooling"],
                                  {"max": L.IMPASTO_POOL_MAX, "avg": L.IMPASTO_POOL_AVG})
        if o.get("init") is not None:
            opt.init = _choice("init", o["init"],
                               {"random": L.IMPASTO_INIT_RANDOM, "image": L.IMPASTO_INIT_IMAGE})
        if o.get("init_image") is not None:
            if o.get("init") == "random":
                raise InvalidArgument("init='random' conflicts with init_image (which starts from "
                                      "that picture)")
            opt.init = L.IMPASTO_INIT_IMAGE
        if "content_layers" in o:
            opt.content_layers = keep.cstr(_layers(o["content_layers"]))
        if "style_layers" in o:
            opt.style_layers = keep.cstr(_layers(o["style_layers"]))
        if o.get("style_blend_weights") is not None:
            w = _floats("style_blend_weights", o["style_blend_weights"])
            if len(w) != len(styles):
                raise InvalidArgument("style_blend_weights has %d values for %d style images"
                                      % (len(w), len(styles)))
            opt.style_blend_weights = keep.doubles(w)
        if o.get("style_layer_weights") is not None:
            w = _floats("style_layer_weights", o["style_layer_weights"])
            n = _count_layers(ffi.string(opt.style_layers).decode())
            if len(w) != n:
                raise InvalidArgument("style_layer_weights has %d values for %d style layers"
                                      % (len(w), n))
            opt.style_layer_weights = keep.doubles(w)
        scales = o.get("scales")
        if scales is not None:
            scales = [_int("scales", s) for s in scales]
            if not 1 <= len(scales) <= L.IMPASTO_MAX_SCALES:
                raise InvalidArgument("scales takes 1 to %d sizes, got %d"
                                      % (L.IMPASTO_MAX_SCALES, len(scales)))
            if any(b < a for a, b in zip(scales, scales[1:])):
                raise InvalidArgument("scales go from coarse to fine, got %r" % (scales,))
            opt.num_scales = len(scales)
            for i, s in enumerate(scales):
                opt.scales[i] = s
            opt.image_size = scales[-1]
        its = o.get("num_iterations")
        if its is not None:
            if isinstance(its, (list, tuple)):
                its = [_int("num_iterations", n) for n in its]
                if len(its) == 1:
                    opt.num_iterations = its[0]
                elif len(its) != opt.num_scales:
                    raise InvalidArgument("num_iterations has %d values for %d scales (give one, "
                                          "or one per scale)" % (len(its), opt.num_scales))
                else:
                    opt.num_iterations = its[0]
                    for i, n in enumerate(its):
                        opt.scale_iterations[i] = n
            else:
                opt.num_iterations = _int("num_iterations", its)

        vgg = get_model(ctx, model if model is not None else "vgg19", "model")
        c_content = keep.image(ctx, content)
        c_styles = ffi.new("const impasto_image *[]", [keep.image(ctx, s) for s in styles])
        if o.get("init_image") is not None:
            opt.init_image = keep.image(ctx, o["init_image"])
        c_masks = None
        if o.get("mask") is not None:
            m = o["mask"]
            if isinstance(m, (list, tuple)):
                if len(m) != len(styles):
                    raise InvalidArgument("mask has %d soft masks for %d style images (give one mask "
                                          "of gray levels, or one soft mask per style)" % (len(m), len(styles)))
                c_masks = ffi.new("const impasto_image *[]", [keep.image(ctx, x) for x in m])
                opt.style_masks = c_masks
            else:
                opt.mask = keep.image(ctx, m)
        runner = Runner("impasto_progress_fn", progress, _transfer_info(progress is not None))
        opt.progress = runner.callback
        out = ffi.new("impasto_image **")
        status, result = _run(runner, lambda: L.impasto_transfer(ctx.ptr, vgg.ptr, c_content, c_styles,
                                                                 len(styles), opt, out), out)
        if status != L.IMPASTO_OK:
            err = ctx.error(status)
            if isinstance(err, Cancelled):
                err.result = result
            raise err
        return result
    finally:
        keep.release()


# ---- AdaIN and WCT --------------------------------------------------------------------------

def _pass_info(p):
    return Progress(stage=text(p.stage), level=p.level, num_levels=p.num_levels, done=p.done,
                    total=p.total, seconds=p.seconds)


_ADAIN_OPTIONS = ("alpha", "style_weights", "preserve_color", "mask", "content_size", "style_size",
                  "crop", "tile", "tile_halo", "memory", "threads")


def _feed_options(opt, o, keep, nstyles=None):
    """The options adain(), attention() and wct() share, from the keywords o into opt: alpha,
    content_size, style_size, tile, tile_halo, memory and, given nstyles, style_weights."""
    if "alpha" in o:
        opt.alpha = _float("alpha", o["alpha"])
    if nstyles is not None and o.get("style_weights") is not None:
        w = _floats("style_weights", o["style_weights"])
        if len(w) != nstyles:
            raise InvalidArgument("style_weights has %d values for %d style images" % (len(w), nstyles))
        opt.style_weights = keep.doubles(w)
    for k in ("content_size", "style_size"):
        if k in o:
            setattr(opt, k, _int(k, o[k]))
    if "tile" in o:
        opt.tile = _tile("tile", o["tile"])
    if "tile_halo" in o:
        opt.tile_halo = _halo("tile_halo", o["tile_halo"])
    if o.get("memory") is not None:
        opt.memory_mb = _int("memory", o["memory"])


def _pass_run(ctx, opt, progress, call):
    """Runs call(out) (a method on the encoder/decoder networks) with progress(p) as its
    impasto_pass_progress_fn; returns the picture as an array."""
    runner = Runner("impasto_pass_progress_fn", progress, _pass_info)
    opt.progress = runner.callback
    out = ffi.new("impasto_image **")
    status, result = _run(runner, lambda: call(out), out)
    ctx.check(status)
    return result


def adain(content, styles, *, model=None, progress=None, **options):
    """Repaint `content` in the style of `styles` (one image or a list to interpolate) by AdaIN
    in one pass (`impasto adain`). A style may also be genes: an impasto.Genes (breed(),
    Genes.from_image) or a genes file path (*.safetensors). Options: alpha=1, style_weights, preserve_color=False, mask
    (an image: each gray level a region painted by the matching style), content_size=512,
    style_size=512 (0 keeps the size), crop=False, tile=None (automatic; 0 never; N), tile_halo=None
    (exact), memory=1536 (MB), threads=0. progress(p) gets p.stage, p.level, p.num_levels, p.done,
    p.total, p.seconds; returning True cancels. Returns a float32 (H, W, 3|4) array."""
    _check_options("adain", options, _ADAIN_OPTIONS)
    L = lib()
    styles = _style_list(styles)
    ctx = Context(options.get("threads", 0))
    keep = _Keep()
    opt = ffi.new("impasto_adain_options *")
    L.impasto_adain_options_init(opt)
    try:
        o = options
        _feed_options(opt, o, keep, len(styles))
        for k in ("preserve_color", "crop"):
            if k in o:
                setattr(opt, k, _bool(o[k]))
        model_ = get_model(ctx, model if model is not None else "adain", "model")
        if o.get("mask") is not None:
            opt.mask = keep.image(ctx, o["mask"])
        c_content = keep.image(ctx, content)
        # A style may be genes (impasto.Genes or a *.safetensors genes file): its moments stand for
        # the painting's, and its image slot is NULL.
        genes = [keep.obj(as_genes(s)) for s in styles]
        c_styles = ffi.new("const impasto_image *[]", [ffi.NULL if g is not None else keep.image(ctx, s)
                                                       for s, g in zip(styles, genes)])
        if any(g is not None for g in genes):
            opt.style_genes = keep.obj(ffi.new("const impasto_genes *[]",
                                               [g.ptr if g is not None else ffi.NULL for g in genes]))
        return _pass_run(ctx, opt, progress, lambda out: L.impasto_adain(ctx.ptr, model_.ptr, c_content, c_styles,
                                                                         len(styles), opt, out))
    finally:
        keep.release()


_ATTENTION_OPTIONS = ("alpha", "temperature", "patch", "hard", "style_weights", "mask", "content_size",
                      "style_size", "tile", "tile_halo", "memory", "layers", "threads")
_ATTENTION_LAYERS = ("relu4_1", "relu3_1", "relu4_1,relu3_1")


def attention(content, styles, *, model=None, model_r31=None, progress=None, **options):
    """Repaint `content` by attention over the features of `styles` (one image or a list)
    (`impasto attention`): each photo position takes the softmax-weighted mix of the paintings'
    patches. Options: layers="relu4_1" (the AdaIN model, `model`), "relu3_1" (the lst-r31 pair,
    `model_r31`) or "relu4_1,relu3_1" (both, coarse to fine; a list of the names works too),
    temperature=0.05, patch=1 (odd, up to 9), hard=False (patch=3 with hard=True is style swap),
    alpha=1, style_weights, mask, content_size=512, style_size=512, tile=None, tile_halo=None,
    memory=1536, threads=0. progress as adain() (p.level: 0 the first layer). Returns a float32
    (H, W, 3|4) array."""
    _check_options("attention", options, _ATTENTION_OPTIONS)
    L = lib()
    styles = _style_list(styles)
    ctx = Context(options.get("threads", 0))
    keep = _Keep()
    opt = ffi.new("impasto_attention_options *")
    L.impasto_attention_options_init(opt)
    try:
        o = options
        _feed_options(opt, o, keep, len(styles))
        if "temperature" in o:
            opt.temperature = _float("temperature", o["temperature"])
        if "patch" in o:
            opt.patch = _int("patch", o["patch"])
        if "hard" in o:
            opt.hard = _bool(o["hard"])
        layers = _layers(o.get("layers", "relu4_1")).replace(" ", "")
        if layers not in _ATTENTION_LAYERS:
            raise InvalidArgument("layers is %s, got %r" % (" or ".join(repr(x) for x in _ATTENTION_LAYERS),
                                                            o.get("layers")))
        m4 = get_model(ctx, model if model is not None else "adain", "model") if "relu4_1" in layers else None
        m3 = get_model(ctx, model_r31 if model_r31 is not None else "lst-r31", "model") \
            if "relu3_1" in layers else None
        if o.get("mask") is not None:
            opt.mask = keep.image(ctx, o["mask"])
        c_content = keep.image(ctx, content)
        c_styles = ffi.new("const impasto_image *[]", [keep.image(ctx, s) for s in styles])
        return _pass_run(ctx, opt, progress, lambda out: L.impasto_attention(
            ctx.ptr, m4.ptr if m4 else ffi.NULL, m3.ptr if m3 else ffi.NULL, c_content, c_styles, len(styles),
            opt, out))
    finally:
        keep.release()


def _result(ctx, status, out):
    r = im.CImage(out[0]) if out[0] != ffi.NULL else None
    try:
        ctx.check(status)
        return im.to_array(r.ptr)
    finally:
        if r is not None:
            r.release()


_WCT_OPTIONS = ("alpha", "mask", "content_size", "style_size", "tile", "tile_halo", "memory", "levels",
                "threads")


def wct(content, style, *, model=None, model_r31=None, progress=None, **options):
    """Repaint `content` in the style of `style` by whitening and colouring transforms
    (`impasto wct`). model is the relu4_1 pair ("adain"), model_r31 the relu3_1 pair
    ("lst-r31"). style may be genes with a covariance (an impasto.Genes or a genes file path,
    *.safetensors) with levels=1. With mask (an image: each gray level, darkest first, a region
    whitened with its own statistics), style is a list of one image per level. Options: levels=2
    (1: relu4_1 only), alpha=1, mask=None, content_size=512, style_size=512, tile=None,
    tile_halo=None, memory=1536, threads=0. progress as adain(). Returns a float32 (H, W, 3|4)
    array."""
    _check_options("wct", options, _WCT_OPTIONS)
    L = lib()
    ctx = Context(options.get("threads", 0))
    keep = _Keep()
    opt = ffi.new("impasto_wct_options *")
    L.impasto_wct_options_init(opt)
    try:
        o = options
        _feed_options(opt, o, keep)
        levels = _int("levels", o.get("levels", 2))
        if levels not in (1, 2):
            raise InvalidArgument("levels is 1 (relu4_1) or 2 (relu4_1 then relu3_1), got %d" % levels)
        m4 = get_model(ctx, model if model is not None else "adain", "model")
        m3 = get_model(ctx, model_r31 if model_r31 is not None else "lst-r31", "model") \
            if levels == 2 else None
        if o.get("mask") is not None:
            opt.mask = keep.image(ctx, o["mask"])
        styles = _style_list(style)
        c_content = keep.image(ctx, content)
        genes = None if isinstance(style, (list, tuple)) else keep.obj(as_genes(style))
        if genes is not None:
            opt.style_genes = genes.ptr
        c_styles = ffi.new("const impasto_image *[]", [ffi.NULL] if genes is not None else
                           [keep.image(ctx, s) for s in styles])
        return _pass_run(ctx, opt, progress, lambda out: L.impasto_wct_styles(
            ctx.ptr, m4.ptr, m3.ptr if m3 else ffi.NULL, c_content, c_styles, len(styles), opt, out))
    finally:
        keep.release()


# ---- fast style networks --------------------------------------------------------------------

def fast(photo, model="candy", content_scale=1, threads=0, tile=None, tile_halo=None, memory_mb=None,
         norm_stats="exact", stats_side=None):
    """Repaint `photo` with a pretrained fast style network (`impasto fast`): model is a style
    name ("candy", "mosaic", "pointilism", "rain_princess", "udnie", or a trained one) or a
    .safetensors path; content_scale shrinks the photo first. A photo over memory_mb (1536) runs
    in tiles (tile, tile_halo as `impasto fast --tile/--tile-halo`), each norm with the whole
    photo's statistics: norm_stats "exact" (gathered over the tiles) or "estimate" (from a copy
    shrunk to stats_side). Returns a float32 (H, W, 3|4) array."""
    L = lib()
    ctx = Context(threads)
    opt = ffi.new("impasto_fast_options *")
    L.impasto_fast_options_init(opt)
    opt.content_scale = _float("content_scale", content_scale)
    if tile is not None:
        opt.tile = _tile("tile", tile)
    if tile_halo is not None:
        opt.tile_halo = _halo("tile_halo", tile_halo)
    if memory_mb is not None:
        opt.memory_mb = _int("memory_mb", memory_mb)
    opt.stats = _choice("norm_stats", norm_stats, {"exact": 0, "estimate": 1})
    if stats_side is not None:
        opt.stats_side = _int("stats_side", stats_side)
    m = get_model(ctx, model, "fast")
    with im.to_cimage(ctx, photo) as c:
        out = ffi.new("impasto_image **")
        with m.lock:  # a fast model is used by one thread at a time
            status = L.impasto_fast_stylize(ctx.ptr, m.ptr, c.ptr, opt, out)
        return _result(ctx, status, out)


# ---- training -------------------------------------------------------------------------------

_TRAIN_OPTIONS = ("content_weight", "style_weight", "content_layers", "style_layers", "lr",
                  "batch_size", "image_size", "style_size", "epochs", "steps", "checkpoint_every",
                  "checkpoint_dir", "resume", "preview_every", "preview_image", "seed", "threads",
                  "style_name", "adversarial_weight", "paintings")

_PHOTO_EXTS = (".png", ".jpg", ".jpeg")


def _photo_list(photos, name="photos", empty="no training photos"):
    """Picture files from a folder (every PNG/JPEG in it, sorted) or a list of files. An empty
    list is refused with `empty` (None: returned, for the library to refuse)."""
    if isinstance(photos, (str, bytes, os.PathLike)):
        d = os.fsdecode(photos)
        if not os.path.isdir(d):
            raise InvalidArgument("%s is a folder or a list of image files; %s is not a folder"
                                  % (name, d))
        names = sorted(n for n in os.listdir(d)
                       if not n.startswith(".") and n.lower().endswith(_PHOTO_EXTS))
        if not names:
            raise InvalidArgument("no .png, .jpg or .jpeg files in %s" % d)
        return [os.path.join(d, n) for n in names]
    if not hasattr(photos, "__iter__"):
        raise TypeError("%s is a folder or a list of image files, got %r" % (name, photos))
    out = [os.fsdecode(p) for p in photos]
    if not out and empty is not None:
        raise InvalidArgument(empty)
    return out


def _model_output(output):
    """A model file to write: FILE.safetensors in a writable folder. Returns (path, its folder)."""
    output = os.fsdecode(output)
    if not output.endswith(".safetensors"):
        raise InvalidArgument("the output is a model: name it FILE.safetensors, got '%s'" % output)
    outdir = os.path.dirname(os.path.abspath(output))
    if not os.access(outdir, os.W_OK):
        raise InvalidArgument("cannot write %s: the folder %s is missing or not writable"
                              % (output, outdir))
    return output, outdir


def _checkpoint_dir(keep, o, outdir):
    """checkpoint_dir: default (or None) the output's folder, False for none; made if missing."""
    ckpt = o.get("checkpoint_dir", _AUTO)
    if ckpt is _AUTO or ckpt is None:
        ckpt = outdir
    if ckpt is False:
        return ffi.NULL
    ckpt = os.fsdecode(ckpt)
    os.makedirs(ckpt, exist_ok=True)
    return keep.cstr(ckpt)


def _seed(v):
    seed = _int("seed", v)
    if seed < 0:
        raise InvalidArgument("seed must be >= 0, got %d" % seed)
    if seed >= 1 << 64:
        raise InvalidArgument("seed must be below 2**64, got %d" % seed)
    return seed


def _cstrs(keep, paths):
    """A const char *[] of the paths (kept alive by keep), or NULL for none."""
    if not paths:
        return ffi.NULL
    arr = ffi.new("const char *[]", [keep.cstr(p) for p in paths])
    keep.items.append(arr)
    return arr


def _train_info(want_preview):
    def describe(p):
        return Progress(step=p.step, num_steps=p.num_steps, epoch=p.epoch, loss=p.loss,
                        content_loss=p.content_loss, style_loss=p.style_loss,
                        adversarial_loss=p.adversarial_loss,
                        discriminator_loss=p.discriminator_loss, seconds=p.seconds,
                        checkpoint=text(p.checkpoint) if p.checkpoint != ffi.NULL else None,
                        preview=im.to_array(p.preview)
                        if want_preview and p.preview != ffi.NULL else None)
    return describe


def train(style, photos, output, *, model=None, progress=None, **options):
    """Train a fast style network on `photos` (a folder: every PNG/JPEG in it, or a list of
    files) in the style of `style`, and write it to `output` (.safetensors, which fast() loads)
    (`impasto train`). Options: content_weight=1e5, style_weight=1e10, content_layers,
    style_layers, lr=1e-3, batch_size=4, image_size=256 (a multiple of 4), style_size=0, epochs=2,
    steps, checkpoint_every=0, checkpoint_dir (default: the output's folder; False for none),
    resume, preview_every=0, preview_image, seed=42, threads=0, style_name (default: the style
    file's name), adversarial_weight=0 (off; else a PatchGAN discriminator's loss joins the
    perceptual ones, about 1e-3 of the step's loss to start), paintings (what the
    discriminator calls real: a folder or a list of files; default: crops of the style image).
    progress(p) gets p.step, p.num_steps, p.epoch, p.loss, p.content_loss, p.style_loss,
    p.adversarial_loss, p.discriminator_loss (0 without adversarial_weight), p.seconds,
    p.checkpoint, p.preview after every step; returning True cancels (a checkpoint is written,
    impasto.Cancelled names it). Returns the output path."""
    _check_options("train", options, _TRAIN_OPTIONS)
    L = lib()
    o = options
    output, outdir = _model_output(output)
    photo_list = _photo_list(photos)
    adv = _float("adversarial_weight", o["adversarial_weight"]) \
        if o.get("adversarial_weight") is not None else 0.0
    if adv < 0:
        raise InvalidArgument("adversarial_weight must be >= 0, got %r" % adv)
    painting_list = None
    if o.get("paintings") is not None:
        if not adv > 0:
            raise InvalidArgument("paintings is for adversarial_weight W (W > 0)")
        painting_list = _photo_list(o["paintings"], "paintings", "no paintings")
    ctx = Context(o.get("threads", 0))
    keep = _Keep()
    opt = ffi.new("impasto_train_options *")
    L.impasto_train_options_init(opt)
    try:
        for k in ("content_weight", "style_weight"):
            if k in o:
                setattr(opt, k, _float(k, o[k]))
        if "lr" in o:
            opt.learning_rate = _float("lr", o["lr"])
        for k in ("batch_size", "image_size", "style_size", "epochs", "steps", "checkpoint_every",
                  "preview_every"):
            if o.get(k) is not None:
                setattr(opt, k, _int(k, o[k]))
        if "image_size" in o and opt.image_size % 4:
            raise InvalidArgument("image_size must be a multiple of 4, got %d" % opt.image_size)
        if "seed" in o:
            opt.seed = _seed(o["seed"])
        for k in ("content_layers", "style_layers"):
            if k in o:
                setattr(opt, k, keep.cstr(_layers(o[k])))
        opt.adversarial_weight = adv
        if painting_list:
            opt.paintings = _cstrs(keep, painting_list)
            opt.npaintings = len(painting_list)
        opt.checkpoint_dir = _checkpoint_dir(keep, o, outdir)
        if o.get("resume") is not None:
            opt.resume = keep.cstr(o["resume"])
        name = o.get("style_name")
        if name is None and isinstance(style, (str, os.PathLike)):
            base = os.path.basename(os.fsdecode(style))
            name = base.split(".")[0]
        if name:
            opt.style_name = keep.cstr(name)
        vgg = get_model(ctx, model if model is not None else "vgg19", "model")
        c_style = keep.image(ctx, style)
        if o.get("preview_image") is not None:
            opt.preview_image = keep.image(ctx, o["preview_image"])
        c_photos = [keep.cstr(p) for p in photo_list]
        photo_arr = ffi.new("const char *[]", c_photos)
        runner = Runner("impasto_train_progress_fn", progress, _train_info(progress is not None))
        opt.progress = runner.callback
        status, _ = _run(runner, lambda: L.impasto_train(ctx.ptr, vgg.ptr, c_style, photo_arr,
                                                           len(photo_list), opt,
                                                           os.fsencode(output)))
        ctx.check(status)
        return output
    finally:
        keep.release()


# ---- CycleGAN and pix2pix ---------------------------------------------------------------------

def translate(photo, model, *, direction="AtoB", size=0, eval=False, seed=0, threads=0):
    """Translate `photo` with a CycleGAN or pix2pix generator (`impasto translate`): model is a
    model of gan_train() (or a converted reference generator), a name found as find_model()
    finds one, or a path. direction="AtoB", or "BtoA" (a CycleGAN's second generator); size=0
    keeps the picture's size, else its longer side is resized to size first; eval=True runs
    batch norm from its running statistics and no dropout (the reference's test.py --eval);
    seed draws pix2pix's dropout. Returns a float32 (H, W, 3) array of the (resized) picture's
    size (4 channels when it has alpha, which is carried over)."""
    L = lib()
    run = func("impasto_translate")
    ctx = Context(threads)
    opt = ffi.new("impasto_translate_options *")
    L.impasto_translate_options_init(opt)
    opt.direction = _choice("direction", direction,
                            {"AtoB": L.IMPASTO_A_TO_B, "BtoA": L.IMPASTO_B_TO_A})
    opt.size = _int("size", size)
    opt.eval_mode = _bool(eval)
    opt.seed = _seed(seed)
    m = get_model(ctx, model, "gan")
    with im.to_cimage(ctx, photo) as c:
        out = ffi.new("impasto_image **")
        with m.lock:  # impasto_translate is not promised thread-safe on one model
            status = run(ctx.ptr, m.ptr, c.ptr, opt, out)
        return _result(ctx, status, out)


_GAN_OPTIONS = ("generator", "discriminator", "n_layers_d", "ngf", "ndf", "norm", "dropout",
                "gan_mode", "size", "load_size", "no_flip", "pool_size", "batch_size", "lambda_a", "lambda_b",
                "lambda_identity", "lambda_l1", "lr", "beta1", "epochs", "epochs_decay", "steps",
                "checkpoint_every", "checkpoint_dir", "resume", "preview_every", "preview_image",
                "seed", "threads")

# Options of one model only, as the CLI (and the reference's train.py) has them: given with the
# other model they are a mistake, not ignored.
_GAN_ONE_MODEL_ONLY = {"lambda_a": "cyclegan", "lambda_b": "cyclegan",
                       "lambda_identity": "cyclegan", "lambda_l1": "pix2pix"}


def _gan_info(want_preview):
    def describe(p):
        return Progress(step=p.step, num_steps=p.num_steps, epoch=p.epoch,
                        learning_rate=p.learning_rate,
                        losses={text(p.loss_names[i]): p.losses[i] for i in range(p.nlosses)},
                        seconds=p.seconds,
                        checkpoint=text(p.checkpoint) if p.checkpoint != ffi.NULL else None,
                        preview=im.to_array(p.preview)
                        if want_preview and p.preview != ffi.NULL else None)
    return describe


def gan_train(a, output, *, b=None, model="cyclegan", task=None, progress=None, **options):
    """Train a CycleGAN (model="cyclegan": the unpaired pictures of domains `a` and `b`,
    translated both ways) or a pix2pix (model="pix2pix": pairs from `a`, A -> B) and write it to
    `output` (.safetensors, which translate() loads) (`impasto gan train`). `a` and `b` are
    folders (every PNG/JPEG in them) or lists of files, 2 pictures at least each. task, pix2pix
    only: where the pairs come from: "ab" (the default: pictures of A and B side by side, A on
    the left, an even width), "colorize" (photos from their grey), "edges" (photos from their
    edges). Options as the CLI's, with junyanz/pytorch-CycleGAN-and-pix2pix's defaults:
    generator ("resnet_9blocks" for cyclegan, "unet_256" for pix2pix; also "resnet_6blocks",
    "unet_128", any "resnet_<n>blocks" or "unet_<2^k>"), discriminator="basic" ("n_layers",
    "pixel"), n_layers_d=3, ngf=64, ndf=64, norm ("instance" for cyclegan, "batch" for
    pix2pix; "none"), dropout (None: off for cyclegan, on for pix2pix; True, False),
    gan_mode ("lsgan" for cyclegan, "vanilla" for pix2pix), size=256 (the training crops'
    side: a multiple of 4 for resnet generators, of 2^k for unet_<2^k>), load_size (size *
    286 / 256), no_flip=False, pool_size (50 for cyclegan, 0 for pix2pix), batch_size=1 (every
    loss the mean over the batch's pictures), lambda_a=10,
    lambda_b=10, lambda_identity=0.5 (cyclegan only), lambda_l1=100 (pix2pix only), lr=2e-4,
    beta1=0.5, epochs=100, epochs_decay=100, steps (in all instead; the epochs split them),
    checkpoint_every=0, checkpoint_dir (default: the output's folder; False for none), resume,
    preview_every=0, preview_image (default: the first picture of a), seed=0, threads=0.
    progress(p) gets p.step, p.num_steps, p.epoch, p.learning_rate, p.losses ({name: value} as
    the reference prints them: D_A G_A cycle_A idt_A D_B G_B cycle_B idt_B, or G_GAN G_L1
    D_real D_fake), p.seconds, p.checkpoint, p.preview (the preview translated A -> B every
    preview_every steps, else None) after every step; returning True cancels (a checkpoint is
    written, impasto.Cancelled names it). Returns the output path."""
    _check_options("gan_train", options, _GAN_OPTIONS)
    L = lib()
    run = func("impasto_gan_train")
    o = options
    kind = _choice("model", model, {"cyclegan": L.IMPASTO_GAN_CYCLEGAN,
                                    "pix2pix": L.IMPASTO_GAN_PIX2PIX})
    other = "pix2pix" if model == "cyclegan" else "cyclegan"
    given = [k for k, only in _GAN_ONE_MODEL_ONLY.items() if only == other and o.get(k) is not None]
    if b is not None and model == "pix2pix":
        raise InvalidArgument("b is for model='cyclegan' only (pix2pix learns from pairs, all in "
                              "a: see task)")
    if task is not None and model == "cyclegan":
        raise InvalidArgument("task is for model='pix2pix' only")
    if given:
        raise InvalidArgument("%s is for model='%s' only" % (given[0], other))
    if model == "cyclegan" and b is None:
        raise InvalidArgument("a CycleGAN learns from two domains: give B's pictures too (b=...)")
    pairs = _choice("task", "ab" if task is None else task,
                    {"ab": L.IMPASTO_PAIRS_AB, "colorize": L.IMPASTO_PAIRS_COLORIZE,
                     "edges": L.IMPASTO_PAIRS_EDGES})
    output, outdir = _model_output(output)
    a_list = _photo_list(a, "a", None)
    b_list = _photo_list(b, "b", None) if b is not None else []
    ctx = Context(o.get("threads", 0))
    keep = _Keep()
    opt = ffi.new("impasto_gan_train_options *")
    L.impasto_gan_train_options_init(opt)
    try:
        opt.model = kind
        opt.pairs = pairs
        for k in ("generator", "discriminator"):
            if o.get(k) is not None:
                if not isinstance(o[k], str):
                    raise TypeError("%s takes a name, got %r" % (k, o[k]))
                setattr(opt, k, keep.cstr(o[k]))
        for k, field in (("n_layers_d", "n_layers_d"), ("ngf", "ngf"), ("ndf", "ndf"),
                         ("size", "crop_size"), ("load_size", "load_size"),
                         ("pool_size", "pool_size"), ("batch_size", "batch_size"), ("epochs", "epochs"),
                         ("epochs_decay", "epochs_decay"), ("steps", "steps"),
                         ("checkpoint_every", "checkpoint_every"),
                         ("preview_every", "preview_every")):
            if o.get(k) is not None:
                v = _int(k, o[k])
                if v < 0:
                    raise InvalidArgument("%s must be >= 0, got %d" % (k, v))
                setattr(opt, field, v)
        for k, field in (("lambda_a", "lambda_a"), ("lambda_b", "lambda_b"),
                         ("lambda_identity", "lambda_identity"), ("lambda_l1", "lambda_l1"),
                         ("lr", "learning_rate"), ("beta1", "beta1")):
            if o.get(k) is not None:
                setattr(opt, field, _float(k, o[k]))
        if o.get("norm") is not None:
            opt.norm = _choice("norm", o["norm"], {"instance": 0, "batch": 1, "none": 2})
        if o.get("dropout") is not None:
            opt.dropout = _bool(o["dropout"])
        if o.get("gan_mode") is not None:
            opt.gan_mode = _choice("gan_mode", o["gan_mode"], {"lsgan": 0, "vanilla": 1})
        if "no_flip" in o:
            opt.no_flip = _bool(o["no_flip"])
        if "seed" in o:
            opt.seed = _seed(o["seed"])
        opt.checkpoint_dir = _checkpoint_dir(keep, o, outdir)
        if o.get("resume") is not None:
            opt.resume = keep.cstr(o["resume"])
        if o.get("preview_image") is not None:
            opt.preview_image = keep.image(ctx, o["preview_image"])
        a_arr, b_arr = _cstrs(keep, a_list), _cstrs(keep, b_list)
        runner = Runner("impasto_gan_progress_fn", progress, _gan_info(progress is not None))
        opt.progress = runner.callback
        status, _ = _run(runner, lambda: run(ctx.ptr, a_arr, len(a_list), b_arr, len(b_list), opt,
                                             os.fsencode(output)))
        ctx.check(status)
        return output
    finally:
        keep.release()


# ---- evaluation -----------------------------------------------------------------------------

_EVAL_OPTIONS = ("content_layers", "style_layers", "swd_layers", "style_size", "projections",
                 "seed", "pooling", "threads")


def evaluate(output, content, styles, *, model=None, **options):
    """Measure `output` against `content` and `styles` (`impasto eval`). Options: content_layers,
    style_layers, swd_layers, style_size=0, projections=64, seed=1, pooling="max", threads=0.
    Returns a dict: ssim, psnr (inf for identical images), edge, content_loss, style_loss, swd,
    color, and content_layers / style_layers / swd_layers (each {layer name: value})."""
    _check_options("evaluate", options, _EVAL_OPTIONS)
    L = lib()
    styles = _style_list(styles)
    o = options
    ctx = Context(o.get("threads", 0))
    keep = _Keep()
    opt = ffi.new("impasto_eval_options *")
    L.impasto_eval_options_init(opt)
    try:
        for k in ("content_layers", "style_layers", "swd_layers"):
            if o.get(k) is not None:
                setattr(opt, k, keep.cstr(_layers(o[k])))
        if "style_size" in o:
            opt.style_size = _int("style_size", o["style_size"])
        if "projections" in o:
            opt.swd_projections = _int("projections", o["projections"])
        if "seed" in o:
            opt.seed = _int("seed", o["seed"])
        if "pooling" in o:
            opt.pooling = _choice("pooling", o["pooling"],
                                  {"max": L.IMPASTO_POOL_MAX, "avg": L.IMPASTO_POOL_AVG})
        vgg = get_model(ctx, model if model is not None else "vgg19", "model")
        c_out = keep.image(ctx, output)
        c_content = keep.image(ctx, content)
        c_styles = ffi.new("const impasto_image *[]", [keep.image(ctx, s) for s in styles])
        res = ffi.new("impasto_eval_result *")
        ctx.check(L.impasto_evaluate(ctx.ptr, vgg.ptr, c_out, c_content, c_styles, len(styles),
                                     opt, res))

        def layers(n, names, values):
            return {text(names[i]): float(values[i]) for i in range(n)}

        return {
            "ssim": res.ssim, "psnr": res.psnr, "edge": res.edge,
            "content_loss": res.content_loss, "style_loss": res.style_loss, "swd": res.swd,
            "color": res.color,
            "content_layers": layers(res.num_content_layers, res.content_layer_name,
                                     res.content_layer_loss),
            "style_layers": layers(res.num_style_layers, res.style_layer_name, res.style_layer_loss),
            "swd_layers": layers(res.num_swd_layers, res.swd_layer_name, res.swd_layer),
        }
    finally:
        keep.release()


# ---- DeepDream ------------------------------------------------------------------------------

_DREAM_OPTIONS = ("layers", "image_size", "octaves", "octave_scale", "iterations", "learning_rate",
                  "jitter", "guide", "guide_size", "pooling", "original_colors", "tile", "tile_halo",
                  "seed", "zoom_frames", "zoom", "threads")


def _dream_info(p):
    return Progress(frame=p.frame, num_frames=p.num_frames, octave=p.octave, num_octaves=p.num_octaves,
                    width=p.width, height=p.height, iteration=p.iteration,
                    num_iterations=p.num_iterations, objective=p.objective, done=p.done,
                    seconds=p.seconds)


def dream(content, *, model=None, progress=None, **options):
    """DeepDream on `content` with VGG-19 (`impasto dream`). Options are the CLI's long options in
    snake_case: layers="relu4_2" (a comma list or a sequence; "relu5_1:17" is one channel),
    image_size=512 (0 keeps the photo's), octaves=4, octave_scale=1.4, iterations=10 (per
    octave), learning_rate=1.5, jitter=32, guide (an image to dream towards), guide_size=224,
    pooling="max"|"avg", original_colors=False, tile=512 (0: never), tile_halo=None (exact),
    seed=-1, zoom_frames=0, zoom=1.05, threads=0.

    progress(p) is called every step with p.frame, p.num_frames, p.octave, p.num_octaves,
    p.width, p.height, p.iteration, p.num_iterations, p.objective, p.done (0..1) and p.seconds;
    returning True cancels (impasto.Cancelled, whose .result is the picture so far). Returns a
    float32 (H, W, 3) array (4 channels when the content has alpha); with zoom_frames=N, the list
    of the N frames."""
    _check_options("dream", options, _DREAM_OPTIONS)
    L = lib()
    ctx = Context(options.get("threads", 0))
    keep = _Keep()
    opt = ffi.new("impasto_dream_options *")
    L.impasto_dream_options_init(opt)
    try:
        o = options
        for k in ("octave_scale", "learning_rate", "zoom"):
            if k in o:
                setattr(opt, k, _float(k, o[k]))
        for k in ("image_size", "octaves", "iterations", "jitter", "guide_size", "zoom_frames", "seed"):
            if k in o:
                setattr(opt, k, _int(k, o[k]))
        if "tile" in o:
            opt.tile = 0 if o["tile"] is None else _int("tile", o["tile"])
        if "tile_halo" in o:
            opt.tile_halo = _halo("tile_halo", o["tile_halo"])
        if "original_colors" in o:
            opt.original_colors = _bool(o["original_colors"])
        if "pooling" in o:
            opt.pooling = _choice("pooling", o["pooling"],
                                  {"max": L.IMPASTO_POOL_MAX, "avg": L.IMPASTO_POOL_AVG})
        if "layers" in o:
            opt.layers = keep.cstr(_layers(o["layers"]))
        vgg = get_model(ctx, model if model is not None else "vgg19", "model")
        c_content = keep.image(ctx, content)
        if o.get("guide") is not None:
            opt.guide = keep.image(ctx, o["guide"])
        frames = []
        frame_error = []

        def on_frame(img, index, _user):
            try:
                frames.append(im.to_array(img))
                return 0
            except BaseException as e:  # noqa: B902 - must not unwind through C
                frame_error.append(e)
                return 1

        frame_cb = ffi.callback("impasto_dream_frame_fn", on_frame)
        if opt.zoom_frames > 0:
            opt.frame = frame_cb
        runner = Runner("impasto_dream_progress_fn", progress, _dream_info)
        opt.progress = runner.callback
        out = ffi.new("impasto_image **")
        status, result = _run(runner, lambda: L.impasto_dream(ctx.ptr, vgg.ptr, c_content, opt, out), out)
        if frame_error:
            raise frame_error[0]
        if status != L.IMPASTO_OK:
            err = ctx.error(status)
            if isinstance(err, Cancelled):
                err.result = frames + [result] if opt.zoom_frames > 0 else result
            raise err
        return frames if opt.zoom_frames > 0 else result
    finally:
        keep.release()
