"""T4: a module-quality pipeline for Python monorepos, built as a doit DAG."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("t4tasks")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
