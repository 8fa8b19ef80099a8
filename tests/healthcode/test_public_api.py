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


def _standard_error_table() -> dict[str, tuple[str, str, str]]:
    """§9's table: code → (en, zh, HTTP column), read from docs/standard.md."""
    import re
    from pathlib import Path

    standard = (Path(__file__).parents[2] / "docs" / "standard.md").read_text()
    section = standard.split("## §9 Error codes", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        match = re.fullmatch(r"\| `([a-z_]+)` \| [^|]+ \| ([^|]+) / ([^|]+) \| ([^|]+) \|", line)
        if match:
            rows[match.group(1)] = (
                match.group(2).strip(),
                match.group(3).strip(),
                match.group(4).strip(),
            )
    return rows


def test_the_standards_error_table_and_the_library_agree() -> None:
    table = _standard_error_table()
    # Both directions: no code missing from the table, no table row the library lacks.
    assert sorted(table) == sorted(code.value for code in ErrorCode)
    for code in ErrorCode:
        en, zh, _ = table[code.value]
        assert (ERROR_INFO[code].en, ERROR_INFO[code].zh) == (en, zh), code


def test_http_statuses_follow_the_standard() -> None:
    from healthcode.server.errors import HTTP_STATUS

    for code, (_, _, http) in _standard_error_table().items():
        status = HTTP_STATUS[ErrorCode(code)]
        if http == "200":
            # A verdict inside a verify call; refusing a request with it is 422 (413 for sizes).
            expected = 413 if code in {"input_too_large", "payload_too_large"} else 422
        else:
            # "200 in a verify call, else 422" → 422; "200 (request error: 413)" → 413
            expected = int(http.split()[-1].rstrip(")"))
        assert status == expected, code
