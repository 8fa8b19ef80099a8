"""The staff sentences of the error catalogue: every code says what happened and what to do."""

from __future__ import annotations

import re

import pytest

from healthcode.errors import ERROR_INFO, ErrorCode


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_code_has_a_plain_sentence_in_both_languages(code: ErrorCode) -> None:
    info = ERROR_INFO[code]
    for sentence in (info.staff_zh, info.staff_en):
        happened, dash, todo = sentence.partition(" — ")
        assert dash, f"{code}: {sentence!r} has no ' — ' between what happened and what to do"
        assert happened.strip(), code
        assert todo.strip(), code
        # Plain words: the code itself belongs in the details line, never in the sentence
        # (a one-word code such as "expired" is also a plain English word).
        assert "_" not in code.value or code.value not in sentence
    assert re.search(r"[\u4e00-\u9fff]", info.staff_zh), code
    assert not re.search(r"[\u4e00-\u9fff]", info.staff_en), code
    # A placeholder the screen fills in appears in both languages or in neither.
    assert re.findall(r"\{\w+\}", info.staff_zh) == re.findall(r"\{\w+\}", info.staff_en)


def test_the_examples_of_the_issue_read_as_asked() -> None:
    assert ERROR_INFO[ErrorCode.MALFORMED_INPUT].staff_zh == "不是健康码 — 请出示身份证或离线码"
    assert (
        ERROR_INFO[ErrorCode.MALFORMED_INPUT].staff_en
        == "not a health code — ask for the ID card or printed code"
    )
    assert ERROR_INFO[ErrorCode.EXPIRED].staff_zh == "码已过期 — 请刷新健康码"
    assert ERROR_INFO[ErrorCode.EXPIRED].staff_en == "expired — ask them to refresh the code"
    assert len({info.staff_en for info in ERROR_INFO.values()}) > len(ErrorCode) * 0.8
