"""The package itself: the library it loads, version(), the status -> exception mapping."""

import os
import re

import pytest

import impasto
from impasto import _native
from conftest import HEADER, HERE


def test_installed_wheel_is_what_runs():
    """Under run_tests.sh (IMPASTO_TEST_INSTALLED=1): the package comes from the venv, not the
    source tree, and uses the libimpasto bundled in it."""
    if os.environ.get("IMPASTO_TEST_INSTALLED") != "1":
        pytest.skip("not run by run_tests.sh against an installed wheel")
    pkg = os.path.dirname(os.path.abspath(impasto.__file__))
    source = os.path.normpath(os.path.join(HERE, "..", "impasto"))
    assert pkg != source
    lib = impasto.library_path()
    assert os.path.dirname(lib) == os.path.join(pkg, "_lib"), lib


def test_version():
    if not _native.has("impasto_version"):
        with pytest.raises(impasto.Unsupported, match="impasto_version"):
            impasto.version()
        pytest.skip("the loaded libimpasto has no impasto_version()")
    v = impasto.version()
    assert re.fullmatch(r"\d+\.\d+\.\d+", v), v
    if os.path.isfile(HEADER):
        text = open(HEADER, encoding="utf-8").read()
        parts = [re.search(r"#define IMPASTO_VERSION_%s (\d+)" % k, text) for k in ("MAJOR", "MINOR", "PATCH")]
        if all(parts):
            assert v == ".".join(p.group(1) for p in parts)


def test_every_status_has_its_exception():
    L = _native.lib()
    expect = {
        L.IMPASTO_ERR_INVALID_ARG: impasto.InvalidArgument, L.IMPASTO_ERR_IO: impasto.FileError,
        L.IMPASTO_ERR_FORMAT: impasto.FormatError, L.IMPASTO_ERR_TOO_LARGE: impasto.TooLarge,
        L.IMPASTO_ERR_NOMEM: impasto.OutOfMemory, L.IMPASTO_ERR_UNSUPPORTED: impasto.Unsupported,
        L.IMPASTO_ERR_CHECKSUM: impasto.ChecksumError, L.IMPASTO_ERR_CANCELLED: impasto.Cancelled,
        L.IMPASTO_ERR_NOT_FINITE: impasto.NotFinite,
    }
    for status, cls in expect.items():
        e = _native.error_for(status, "the message")
        assert type(e) is cls and e.status == status and str(e) == "the message"
        assert isinstance(e, impasto.Error)
    # no message: the library's fixed description of the status
    assert str(_native.error_for(L.IMPASTO_ERR_CANCELLED, "")) == "cancelled"


def test_library_message_reaches_the_exception(content):
    from conftest import need_model

    need_model("adain")
    with pytest.raises(impasto.InvalidArgument) as e:
        impasto.adain(content, content, tile=7)
    assert "tile" in str(e.value) and e.value.status == _native.lib().IMPASTO_ERR_INVALID_ARG
    need_model("vgg19")
    with pytest.raises(impasto.Error, match="(?i)adain"):
        impasto.adain(content, content, model="vgg19")
