"""T4: a module-quality pipeline for Python monorepos, built as a doit DAG."""

# the single source of the version (pyproject reads it): importlib.metadata costs ~30 ms at start-up
__version__ = "0.1.0"
