"""Import layering: the contracts in pyproject.toml are the one definition of the rules.

The test runs them with import-linter (as CI's `lint-imports` does) and checks that they stay
whole: no contract ignores an import, and the web-stack contract names every core module
outside `healthcode.server`, so a new core module cannot slip past it.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[1]


def _contracts() -> list[dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    contracts: list[dict[str, Any]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def test_the_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run(
        [str(lint), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"Contracts: {len(_contracts())} kept, 0 broken." in run.stdout


def test_no_contract_ignores_an_import() -> None:
    for contract in _contracts():
        assert not contract.get("ignore_imports"), contract["name"]


def test_the_web_stack_contract_covers_every_core_module() -> None:
    (contract,) = [c for c in _contracts() if "web or storage stack" in c["name"]]
    core = {
        f"healthcode.{path.stem if path.is_file() else path.name}"
        for path in (ROOT / "healthcode").iterdir()
        if (path.suffix == ".py" and path.stem != "__init__")
        or (path.is_dir() and (path / "__init__.py").exists())
    }
    assert core - {"healthcode.server"} == set(contract["source_modules"])
