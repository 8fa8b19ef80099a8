"""The services start from a plain `pip install .`, as `scripts/demo` installs them: the
optional extras (`postgres`, `load`, `dev`) are imported only where they are used.

A regression here broke the demo once: the issuer's audit batcher imported psycopg at module
level, which only the `postgres` and `dev` extras install, so every issuer failed to start.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

#: Modules that only the optional extras install (pyproject.toml).
EXTRAS_ONLY = ("psycopg", "locust", "matplotlib", "playwright", "hypothesis", "pytest")
SERVICES = ("issuers.app", "verifiers.app", "interop.app", "offline.app", "federation.cli")


@pytest.mark.parametrize("module", SERVICES)
def test_a_service_imports_without_the_optional_extras(module: str) -> None:
    # A None entry in sys.modules makes `import name` raise ImportError, as if not installed.
    blocked = "; ".join(f"sys.modules[{name!r}] = None" for name in EXTRAS_ONLY)
    program = f"import sys; {blocked}; import {module}"
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
