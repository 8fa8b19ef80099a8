"""The standard's public surface changes only on purpose (httpx's exported-members test)."""

from __future__ import annotations

import types

import healthcode
from healthcode import ERROR_INFO, ErrorCode


def test_all_is_sorted_and_complete() -> None:
    # Submodules appear in vars() once anything imports them; they are not the public API.
    public = sorted(
        name
        for name, value in vars(healthcode).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    )
    assert sorted(healthcode.__all__) == public


def test_hazmat_is_not_reexported() -> None:
    assert "decode_unverified" not in healthcode.__all__


def test_every_error_code_has_staff_texts() -> None:
    assert set(ERROR_INFO) == set(ErrorCode)
    for info in ERROR_INFO.values():
        assert info.en
        assert info.zh
        assert info.hint.endswith(".") or info.hint.endswith(")")


def test_every_error_code_is_in_the_standard() -> None:
    from pathlib import Path

    standard = (Path(__file__).parents[2] / "docs" / "standard.md").read_text()
    missing = [code.value for code in ErrorCode if f"`{code.value}`" not in standard]
    assert missing == []
