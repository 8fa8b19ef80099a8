"""JSON from a peer, parsed with a bound on its nesting depth (issue 13, ADR 0018).

Python's `json` recurses once per nesting level, so `[[[[...]]]]` a few thousand deep escapes
as `RecursionError`, which no caller expects (it aborted whole revocation syncs and answered
500s). Nothing we exchange nests close to even 32 levels. `loads` counts the depth first,
outside strings, in one linear pass, and only then parses (with `json`, so the accepted
grammar is exactly what callers parsed before)::

    document = loads(body, max_depth=32)      # ValueError if deeper, or not JSON

Every failure is a `ValueError` (as `json.loads` raises), so callers keep their own mapping to
an error code (`trust_list_malformed`, `upstream_malformed`, ...).
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["DEFAULT_MAX_DEPTH", "JSONTooDeep", "check_depth", "loads"]

#: Our deepest document (a trust list: envelope > payload > issuers > issuer > keys > key > jwk)
#: nests 7 levels; 32 leaves room for extensions and is still far from any recursion limit.
DEFAULT_MAX_DEPTH = 32

# A JSON string (escapes unrolled, linear) or one bracket. Brackets inside strings are skipped.
_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_OPEN = frozenset(b"[{")


class JSONTooDeep(ValueError):
    """The document nests arrays/objects deeper than allowed."""


def check_depth(data: bytes, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
    """Raise `JSONTooDeep` if `data` nests deeper than `max_depth` (strings are skipped).

    Malformed input (an unterminated string) may count brackets inside it; such a document is
    refused either here or by the parser, never accepted.
    """
    depth = 0
    for match in _TOKENS.finditer(data):
        token = match.group()
        if len(token) != 1:
            continue  # a string
        if token[0] in _OPEN:
            depth += 1
            if depth > max_depth:
                raise JSONTooDeep(f"JSON nests deeper than {max_depth} levels")
        else:
            depth -= 1


def loads(data: bytes | str, *, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """Parse JSON after checking its depth; any failure is a `ValueError`.

    Raises:
        JSONTooDeep: nested deeper than `max_depth`.
        ValueError: not UTF-8 JSON.
    """
    if isinstance(data, str):
        try:
            data = data.encode("utf-8")
        except UnicodeEncodeError as exc:  # lone surrogates
            raise ValueError(f"not UTF-8 text ({exc.reason})") from exc
    check_depth(data, max_depth)
    try:
        return json.loads(data)
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 JSON ({exc.reason})") from exc
