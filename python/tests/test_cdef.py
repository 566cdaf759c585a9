"""The package's hand-written cdef (impasto/_cdef.py) against include/impasto.h: every struct,
enum, typedef, #define and function declared in the cdef must be in the header with the same
text (comments, whitespace and `int a, b;` vs `int a; int b;` aside), so the two cannot drift
apart silently."""

import os
import re

import pytest

from conftest import HEADER
from impasto import _cdef


def _strip_comments(src):
    src = re.sub(r"/\*.*?\*/", " ", src, flags=re.S)
    return re.sub(r"//[^\n]*", " ", src)


def _squeeze(s):
    s = re.sub(r"\s+", " ", s).strip()
    return re.sub(r"\s*([*(),;{}\[\]=])\s*", r"\1", s)


def _split_members(body):
    """'int a,b;double c;' -> ['int a', 'int b', 'double c']: one member per declarator."""
    out = []
    for m in filter(None, body.split(";")):
        if "," in m and "(" not in m:
            parts = m.split(",")
            head = re.match(r"^(.*?)(\**\w+(?:\[[^\]]*\])?)$", parts[0])
            base = head.group(1)
            out.append(parts[0])
            out.extend(base + p for p in parts[1:])
        else:
            out.append(m)
    return out


def _normalize(decl):
    d = _squeeze(decl)
    m = re.match(r"^(typedef struct(?: \w+)?)\{(.*)\}(\w+)$", d)
    if m:
        return "%s{%s}%s" % (m.group(1), ";".join(_split_members(m.group(2) + ";")) + ";", m.group(3))
    return d


def _key(d):
    m = re.search(r"\}(\w+)$", d)  # typedef struct/enum {...} name
    if m:
        return m.group(1)
    m = re.search(r"\(\*(\w+)\)", d)  # typedef int (*name)(...)
    if m:
        return m.group(1)
    m = re.match(r"^typedef struct \w+ (\w+)$", d)  # opaque handle
    if m:
        return m.group(1)
    m = re.search(r"(\w+)\(", d)  # function
    if m:
        return m.group(1)
    raise AssertionError("cannot name the declaration %r" % d)


def declarations(src):
    """{name: normalized declaration} and {name: value} of the #defines of C source text."""
    src = _strip_comments(src).replace("\\\n", " ")  # comments and line continuations out
    defines = {m.group(1): m.group(2).strip()
               for m in re.finditer(r"^[ \t]*#[ \t]*define[ \t]+(\w+)[ \t]+(.+)$", src, re.M)}
    src = re.sub(r"^[ \t]*#.*$", " ", src, flags=re.M)
    src = re.sub(r'extern\s+"C"\s*\{', " ", src)
    decls, depth, start = {}, 0, 0
    for i, ch in enumerate(src):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == ";" and depth == 0:
            text = src[start:i].strip()
            start = i + 1
            if text:
                d = _normalize(text)
                decls[_key(d)] = d
    return decls, defines


def _header_text():
    if not os.path.isfile(HEADER):
        pytest.skip("header %s missing (set IMPASTO_HEADER)" % HEADER)
    with open(HEADER, encoding="utf-8") as f:
        return f.read()


def test_normalizer_itself():
    a, _ = declarations("typedef struct s { int a, b; const char *c, *d; } s; int f(int x);")
    b, _ = declarations("typedef struct s {\n int a;\n int b; /* x */\n const char *c;\n"
                        " const char *d;\n} s;\nint f(int  x) ;")
    assert a == b and set(a) == {"s", "f"}


def test_cdef_matches_header():
    header, hdefines = declarations(_header_text())
    cdef, cdefines = declarations(_cdef.CDEF)
    problems = []
    for name, decl in cdef.items():
        if name not in header:
            problems.append("%s: in the cdef, not in %s" % (name, HEADER))
        elif header[name] != decl:
            problems.append("%s differs:\n  cdef:   %s\n  header: %s" % (name, decl, header[name]))
    for name, value in cdefines.items():
        if hdefines.get(name) != value:
            problems.append("#define %s: cdef %s, header %s" % (name, value, hdefines.get(name)))
    assert not problems, "\n".join(problems)


def test_cdef_parses():
    import cffi

    ffi = cffi.FFI()
    ffi.cdef(_cdef.CDEF)
    assert ffi.sizeof("impasto_transfer_options") > 0


def test_library_exports_every_cdef_function():
    from impasto import _native

    header, _ = declarations(_header_text())
    cdef, _ = declarations(_cdef.CDEF)
    funcs = [n for n, d in cdef.items() if not d.startswith("typedef") and n in header]
    missing = [n for n in funcs if not _native.has(n)]
    assert not missing, "%s lacks %s (rebuild it from the current header)" % (
        _native.library_path(), ", ".join(missing))
