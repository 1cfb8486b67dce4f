"""Run from the monorepo (``make test-unit``), the example is not installed in the workspace's
environment: import it from ``src/``, as its own environment (``pip install -e .``) would,
and the tests' sample events from this folder."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for folder in (str(HERE.parent / "src"), str(HERE)):
    if folder not in sys.path:
        sys.path.insert(0, folder)
