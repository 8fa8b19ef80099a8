"""JSON nesting is bounded before parsing, and never escapes as RecursionError."""

from __future__ import annotations

import pytest

from healthcode.boundedjson import JSONTooDeep, check_depth, loads


def test_depth_at_the_bound_parses_and_one_more_is_refused() -> None:
    assert loads(b"[" * 4 + b"]" * 4, max_depth=4) == [[[[]]]]
    with pytest.raises(JSONTooDeep, match="deeper than 3"):
        loads(b"[" * 4 + b"]" * 4, max_depth=3)


def test_brackets_inside_strings_do_not_count() -> None:
    text = '{"a": "[[[[{{{{\\"[[[[", "b": ["\\\\", "]]]]"]}'
    assert loads(text, max_depth=2) == {"a": '[[[[{{{{"[[[[', "b": ["\\", "]]]]"]}


def test_a_recursion_bomb_is_a_value_error_not_a_recursion_error() -> None:
    with pytest.raises(ValueError, match="deeper than 32"):
        loads(b'{"x":' + b"[" * 200_000 + b"]" * 200_000 + b"}")


@pytest.mark.parametrize("bad", [b"{", b"[1,]", b"\xff\xfe", "\ud800"])
def test_malformed_text_is_a_value_error(bad: bytes | str) -> None:
    with pytest.raises(ValueError):
        loads(bad)


def test_check_depth_counts_objects_and_arrays_alike() -> None:
    check_depth(b'{"a":{"b":[1]}}', 3)
    with pytest.raises(JSONTooDeep):
        check_depth(b'{"a":{"b":[1]}}', 2)
