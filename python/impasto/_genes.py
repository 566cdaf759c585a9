"""A style's genes and breeding (`impasto breed`): Genes, breed(), and the genes a style argument
of adain() or wct() may be."""

import os

from ._errors import InvalidArgument
from ._models import get_model
from ._native import Context, ffi, lib

# As the command line: at most this many children a call (`impasto breed --children`), and
# parents (IMPASTO_GENES_MAX_PARENTS in impasto.h).
MAX_CHILDREN = 64
MAX_PARENTS = 16

_GENES_SUFFIX = ".safetensors"


class Genes:
    """A style's genes: the mean and deviation of each of a painting's 512 relu4_1 channels (what
    adain uses of it) and their covariance (what wct's relu4_1 level uses), read with the AdaIN
    model's encoder and tied to it. Make them with Genes.from_image(painting) or Genes.load(path),
    mix them with breed(); pass them wherever adain() or wct() take a style (wct: levels=1)."""

    __slots__ = ("_ptr",)

    def __init__(self, ptr):
        """Takes over an impasto_genes pointer (use from_image, load or breed)."""
        self._ptr = ffi.gc(ptr, lib().impasto_genes_free)

    @property
    def ptr(self):
        return self._ptr

    @classmethod
    def from_image(cls, painting, *, model=None, style_size=512, threads=0):
        """The genes of a painting (an image: array, PIL image, path, bytes), resized so its
        longest side is style_size (0 keeps it), as adain() reads a style."""
        from . import _images as im
        from ._api import _int
        ctx = Context(threads)
        m = get_model(ctx, model if model is not None else "adain", "model")
        out = ffi.new("impasto_genes **")
        with im.to_cimage(ctx, painting) as c:
            ctx.check(lib().impasto_genes_from_image(ctx.ptr, m.ptr, c.ptr, _int("style_size", style_size), out))
        return cls(out[0])

    @classmethod
    def load(cls, path):
        """Genes from a file `impasto breed` or save() wrote. Raises impasto.FormatError for a file
        of another kind (a model), from another encoder, or with values genes cannot have."""
        ctx = Context()
        out = ffi.new("impasto_genes **")
        ctx.check(lib().impasto_genes_load(ctx.ptr, os.fsencode(os.fspath(path)), out))
        return cls(out[0])

    def save(self, path):
        """Writes the genes as safetensors (atomically), readable by load() and by `impasto adain
        -s FILE`; the name should end in .safetensors (e.g. child3.genes.safetensors) for the
        command line to take it as genes."""
        ctx = Context()
        ctx.check(lib().impasto_genes_save(ctx.ptr, self._ptr, os.fsencode(os.fspath(path))))

    @property
    def has_covariance(self):
        """True when the genes hold the covariance wct() needs."""
        return bool(lib().impasto_genes_has_covariance(self._ptr))

    @property
    def weights(self):
        """A child's parents' weights, in the order of the parents given to breed(); () for
        the genes of a painting."""
        w = ffi.new("const double **")
        n = lib().impasto_genes_weights(self._ptr, w)
        return tuple(float(w[0][i]) for i in range(n))

    def __repr__(self):
        w = self.weights
        return "<impasto.Genes %s>" % ("child of weights " + ", ".join("%.3f" % x for x in w) if w
                                       else "of a painting")


def is_genes_path(s):
    """A style given as a path ending in .safetensors is a genes file (as the command line)."""
    if isinstance(s, (str, os.PathLike)):
        p = os.fspath(s)
        return isinstance(p, str) and p.endswith(_GENES_SUFFIX)
    return False


def as_genes(s):
    """A style value as Genes when it is genes (a Genes or a genes file path), else None."""
    if isinstance(s, Genes):
        return s
    if is_genes_path(s):
        return Genes.load(s)
    return None


def breed(parents, children=8, *, seed=0, mutation=0.1, model=None, style_size=512, threads=0):
    """Children of `parents` (`impasto breed` without the painting): each parent is a painting
    (array, PIL image, image path or bytes), a Genes, or a genes file path (*.safetensors). Child
    i mixes the parents' genes with weights drawn from a flat Dirichlet and is mutated (deviations
    scaled by exp(mutation z), means moved by mutation sigma z); children 1 .. `children` of a seed
    are the command line's child1 .. childN of the same seed, whatever their number. Returns a list
    of Genes; paint a child with adain(photo, child)."""
    from ._api import _float, _int
    parents = list(parents) if isinstance(parents, (list, tuple)) else [parents]
    if not parents:
        raise InvalidArgument("no parents")
    if len(parents) > MAX_PARENTS:
        raise InvalidArgument("at most %d parents, got %d" % (MAX_PARENTS, len(parents)))
    n = _int("children", children)
    if not 1 <= n <= MAX_CHILDREN:
        raise InvalidArgument("children must be 1 .. %d, got %d" % (MAX_CHILDREN, n))
    seed = _int("seed", seed)
    if seed < 0 or seed >= 1 << 64:
        raise InvalidArgument("seed must be 0 .. 2^64 - 1, got %d" % seed)
    mutation = _float("mutation", mutation)
    genes = []
    for p in parents:
        g = as_genes(p)
        genes.append(g if g is not None else Genes.from_image(p, model=model, style_size=style_size,
                                                              threads=threads))
    ctx = Context(threads)
    arr = ffi.new("const impasto_genes *[]", [g.ptr for g in genes])
    kids = []
    for i in range(n):
        out = ffi.new("impasto_genes **")
        ctx.check(lib().impasto_genes_breed(ctx.ptr, arr, len(genes), seed, i + 1, mutation, out))
        kids.append(Genes(out[0]))
    return kids
