"""T4: a module-quality pipeline for Python monorepos, built as a doit DAG."""

# the single source of the version (pyproject reads it): importlib.metadata is slow at start-up
# (see docs/PERFORMANCE.md)
__version__ = "0.1.0"
