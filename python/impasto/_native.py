"""Loading libimpasto with cffi (ABI mode: no compiler at install time) and checking statuses."""

import ctypes.util
import glob
import os
import threading

from cffi import FFI

from ._cdef import CDEF
from ._errors import STATUS_CLASSES, Error, LibraryNotFound, OutOfMemory, Unsupported

ffi = FFI()
ffi.cdef(CDEF)

_HERE = os.path.dirname(os.path.abspath(__file__))
_lock = threading.Lock()
_lib = None
_lib_path = None


def _candidates():
    """(where, what to dlopen) in the order they are tried."""
    bundled = sorted(glob.glob(os.path.join(_HERE, "_lib", "libimpasto.so*")))
    if bundled:
        yield "bundled with the package", bundled[0]
    else:
        yield "bundled with the package", None
    env = os.environ.get("IMPASTO_LIBRARY")
    yield "IMPASTO_LIBRARY", env or None
    found = ctypes.util.find_library("impasto")
    yield "the system's libimpasto (ctypes.util.find_library)", found or "libimpasto.so.0"


def lib():
    """The loaded library (loaded on first use)."""
    global _lib, _lib_path
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is not None:
            return _lib
        tried = []
        for where, what in _candidates():
            if what is None:
                tried.append("%s: none" % where)
                continue
            try:
                loaded = ffi.dlopen(what)
            except OSError as e:
                tried.append("%s: %s (%s)" % (where, what, e))
                continue
            _lib, _lib_path = loaded, what
            return _lib
        raise LibraryNotFound("cannot load libimpasto; tried " + "; ".join(tried) +
                              ". Install a wheel that bundles it, set IMPASTO_LIBRARY to the "
                              "path of libimpasto.so, or install libimpasto.so.0 system-wide")


def library_path():
    """The file or name the library was loaded from."""
    lib()
    return _lib_path


def func(name):
    """lib().<name>, or impasto.Unsupported naming the function when the loaded library lacks it
    (an older libimpasto than this package's header)."""
    try:
        return getattr(lib(), name)
    except AttributeError:
        raise Unsupported("%s() is not in the loaded libimpasto (%s): the library is older than "
                          "this package; rebuild or update libimpasto" % (name, _lib_path)) from None


def has(name):
    try:
        getattr(lib(), name)
        return True
    except AttributeError:
        return False


def status_name(status):
    return ffi.string(ffi.cast("impasto_status", status))


def text(ptr):
    return "" if ptr == ffi.NULL else ffi.string(ptr).decode("utf-8", "replace")


def error_for(status, message):
    name = status_name(status)
    cls = STATUS_CLASSES.get(name, Error) if isinstance(name, str) else Error
    if not message:
        try:
            message = text(lib().impasto_status_string(status))
        except Exception:
            message = str(name)
    return cls(message, status)


class Context:
    """One impasto_ctx (settings and the last error message) for one API call."""

    def __init__(self, threads=0):
        L = lib()
        ptr = L.impasto_ctx_create()
        if ptr == ffi.NULL:
            raise OutOfMemory("out of memory", L.IMPASTO_ERR_NOMEM)
        self.ptr = ffi.gc(ptr, L.impasto_ctx_free)
        if threads:
            threads = int(threads)
            if threads < 0:
                raise ValueError("threads must be >= 0 (0 = one per core), got %d" % threads)
            L.impasto_ctx_set_threads(self.ptr, threads)

    def message(self):
        return text(lib().impasto_ctx_error(self.ptr))

    def error(self, status):
        return error_for(status, self.message())

    def check(self, status):
        if status != 0:
            raise self.error(status)
