"""impasto: neural style transfer on the CPU (Python bindings of libimpasto, cffi ABI mode).

    import impasto
    out = impasto.adain("photo.jpg", "painting.jpg", alpha=0.8, content_size=512)
    impasto.save_image(out, "out.png")

Images go in as numpy arrays (H, W, C) float 0..1 (also uint8 0..255, 2-D gray), PIL images,
file paths or encoded bytes, and come out as float32 (H, W, C) numpy arrays (to_pil() makes a
PIL image). Options are the command line's long options in snake_case. Models are names
("vgg19", "adain", "lst-r31", "candy", ...) looked up by find_model(), or paths.

    impasto.gan_train("horses/", "h2z.safetensors", b="zebras/", steps=20000)   # CycleGAN
    zebra = impasto.translate("horse.jpg", "h2z.safetensors")                  # A -> B
"""

from ._api import (adain, attention, dream, encode_image, evaluate, fast, gan_train, load_image, save_image,
                   train, transfer, translate, version, wct)
from ._errors import (Cancelled, ChecksumError, Error, FileError, FormatError, InvalidArgument,
                      LibraryNotFound, ModelNotFound, NotFinite, OutOfMemory, TooLarge, Unsupported)
from ._images import to_pil
from ._models import clear_model_cache, find_model, search_dirs as model_search_dirs
from ._native import library_path
from ._run import Progress

__version__ = "0.1.0"

__all__ = [
    "transfer", "adain", "attention", "wct", "fast", "train", "translate", "gan_train", "evaluate", "dream",
    "load_image", "save_image", "encode_image", "to_pil", "version",
    "find_model", "model_search_dirs", "clear_model_cache", "library_path", "Progress",
    "Error", "InvalidArgument", "FileError", "FormatError", "TooLarge", "OutOfMemory",
    "Unsupported", "ChecksumError", "Cancelled", "NotFinite", "ModelNotFound", "LibraryNotFound",
]
