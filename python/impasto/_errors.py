"""Exceptions: one class per impasto_status, all under impasto.Error."""


class Error(Exception):
    """A libimpasto call failed. `status` is the impasto_status value (an int, or None for
    errors found by the Python layer), `status_name` its C name ("IMPASTO_ERR_IO", ...) and
    `message` the library's message (impasto_ctx_error), which is also str(error)."""

    status_name = None

    def __init__(self, message, status=None):
        super().__init__(message)
        self.message = message
        self.status = status

    def __str__(self):
        return self.message


class InvalidArgument(Error, ValueError):
    """IMPASTO_ERR_INVALID_ARG: a bad argument or option value."""
    status_name = "IMPASTO_ERR_INVALID_ARG"


class FileError(Error, OSError):
    """IMPASTO_ERR_IO: a file could not be opened, read or written."""
    status_name = "IMPASTO_ERR_IO"

    def __init__(self, message, status=None):
        Error.__init__(self, message, status)


class FormatError(Error):
    """IMPASTO_ERR_FORMAT: a file is corrupt, truncated or not of the expected format."""
    status_name = "IMPASTO_ERR_FORMAT"


class TooLarge(Error):
    """IMPASTO_ERR_TOO_LARGE: an image or tensor exceeds a limit."""
    status_name = "IMPASTO_ERR_TOO_LARGE"


class OutOfMemory(Error, MemoryError):
    """IMPASTO_ERR_NOMEM."""
    status_name = "IMPASTO_ERR_NOMEM"


class Unsupported(Error):
    """IMPASTO_ERR_UNSUPPORTED: a valid file using a feature impasto does not support (also
    raised when the loaded libimpasto lacks a function this package needs)."""
    status_name = "IMPASTO_ERR_UNSUPPORTED"


class ChecksumError(Error):
    """IMPASTO_ERR_CHECKSUM: a file's checksum does not match its manifest."""
    status_name = "IMPASTO_ERR_CHECKSUM"


class Cancelled(Error):
    """IMPASTO_ERR_CANCELLED: the progress callable returned True. `result` holds the picture
    so far (numpy array) when the method leaves one (transfer), else None."""
    status_name = "IMPASTO_ERR_CANCELLED"
    result = None


class NotFinite(Error, ArithmeticError):
    """IMPASTO_ERR_NOT_FINITE: a NaN or infinity appeared (in an input or during a run)."""
    status_name = "IMPASTO_ERR_NOT_FINITE"


class ModelNotFound(FileError, FileNotFoundError):
    """find_model found no file for a model name; the message names every place searched."""
    status_name = None


class LibraryNotFound(Error, ImportError):
    """No libimpasto shared library could be loaded; the message names every place tried."""
    status_name = None

    def __init__(self, message, status=None):
        Error.__init__(self, message, status)


STATUS_CLASSES = {cls.status_name: cls for cls in (
    InvalidArgument, FileError, FormatError, TooLarge, OutOfMemory, Unsupported, ChecksumError,
    Cancelled, NotFinite)}
