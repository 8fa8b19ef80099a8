"""HAZARDOUS MATERIALS: raw, *unverified* decoding of health codes.

Nothing returned here has been checked against a signature or a trust list. It exists for
debugging tools and for tests; a checkpoint, a partner system or anything that shows a colour
to a person must use `healthcode.verify_credential` instead. This module is not re-exported
from `healthcode`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from healthcode.config import DEFAULT_LIMITS, Limits
from healthcode.jws import parse_compact
from healthcode.verify import extract_token

__all__ = ["decode_unverified"]


def decode_unverified(
    text: str, limits: Limits = DEFAULT_LIMITS
) -> tuple[Mapping[str, Any], dict[str, Any]]:
    """(header, claims) of a code WITHOUT verifying anything. Raises VerificationError."""
    warnings.warn(
        "decode_unverified returns unauthenticated data; never show it as a verdict",
        stacklevel=2,
    )
    parsed = parse_compact(extract_token(text, limits), limits)
    return parsed.header, parsed.claims(limits)
