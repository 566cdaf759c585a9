"""Only here to make the wheel platform-specific: it bundles libimpasto.so (a native library
loaded with cffi's ABI mode), so it is installed as platlib and tagged py3-none-<platform>, not
py3-none-any. Metadata is in pyproject.toml."""

from setuptools import setup
from setuptools.dist import Distribution


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True  # the bundled .so: platlib and a platform tag


cmdclass = {}
try:
    from wheel.bdist_wheel import bdist_wheel as _bdist_wheel
except ImportError:  # pragma: no cover - no wheel package: nothing to retag
    _bdist_wheel = None

if _bdist_wheel is not None:
    class bdist_wheel(_bdist_wheel):
        def get_tag(self):
            _, _, plat = super().get_tag()
            return "py3", "none", plat  # no Python extension module: any CPython 3 here

    cmdclass["bdist_wheel"] = bdist_wheel

setup(distclass=BinaryDistribution, cmdclass=cmdclass)
