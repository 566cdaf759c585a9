"""Running one long library call: the progress callback, cancelling, Ctrl-C."""

import signal
import threading
import types

from ._native import ffi


class Progress(types.SimpleNamespace):
    """What a progress callable receives: attributes (p.iteration), also readable as a
    mapping (p["iteration"], dict(p))."""

    def __getitem__(self, key):
        try:
            return self.__dict__[key]
        except KeyError:
            raise KeyError(key) from None

    def keys(self):
        return self.__dict__.keys()

    def get(self, key, default=None):
        return self.__dict__.get(key, default)

    def __iter__(self):
        return iter(self.__dict__)

    def __len__(self):
        return len(self.__dict__)


class Runner:
    """Owns the cffi callback of one call.

    The callback never lets an exception escape into C: the first exception (including a
    KeyboardInterrupt raised inside the user's callable) is stored, the callback returns 1 so the
    library cancels, and finish() raises it once the C call has returned. While the call runs in
    the main thread, SIGINT only sets a flag the callback checks (the previous handler comes back
    afterwards); a call stopped that way raises KeyboardInterrupt."""

    def __init__(self, fn_type, user_progress, describe):
        if user_progress is not None and not callable(user_progress):
            raise TypeError("progress must be callable, got %r" % (user_progress,))
        self.user = user_progress
        self.describe = describe
        self.exc = None
        self.interrupted = False
        self.cancelled_by_user = False
        self.callback = ffi.callback(fn_type, self._on_progress)
        self._prev = None
        self._installed = False

    def _on_progress(self, p, _user):
        try:
            if self.exc is not None or self.interrupted:
                return 1
            if self.user is None:
                return 0
            if self.user(self.describe(p)):
                self.cancelled_by_user = True
                return 1
            return 0
        except BaseException as e:  # noqa: B902 - must not unwind through C
            if self.exc is None:
                self.exc = e
            return 1

    def _on_sigint(self, signum, frame):
        self.interrupted = True

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            try:
                prev = signal.getsignal(signal.SIGINT)
            except (ValueError, OSError):
                prev = None
            # Only take over Python's default behaviour; an ignored SIGINT, a handler set from
            # C (None) or the program's own handler is left alone.
            if prev is signal.default_int_handler:
                try:
                    signal.signal(signal.SIGINT, self._on_sigint)
                    self._prev, self._installed = prev, True
                except (ValueError, OSError):
                    pass
        return self

    def __exit__(self, *exc):
        if self._installed:
            signal.signal(signal.SIGINT, self._prev)
            self._installed = False
        return False

    def reraise(self):
        """Raise what the callback stored, or KeyboardInterrupt after Ctrl-C."""
        if self.exc is not None:
            e, self.exc = self.exc, None
            raise e
        if self.interrupted:
            raise KeyboardInterrupt
