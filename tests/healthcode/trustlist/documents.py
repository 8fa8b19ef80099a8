"""Helpers for trust-list tests: read a refusal's code, a document's payload, re-sign a list."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from healthcode import ErrorCode, IssuerEntry, TrustListError
from healthcode.trustlist import issuer_entry_payload
from tests.simulators import TrustRegistrySimulator

DAY = timedelta(days=1)


def error_code(excinfo: pytest.ExceptionInfo[TrustListError]) -> ErrorCode:
    return excinfo.value.code


def payload_of(document: bytes) -> dict[str, Any]:
    envelope = json.loads(document)
    payload: dict[str, Any] = json.loads(base64.urlsafe_b64decode(envelope["payload"] + "=="))
    return payload


def relist(registry: TrustRegistrySimulator, mutate: Callable[[dict[str, Any]], None]) -> bytes:
    """The current issuers, changed by `mutate` on the first entry's JSON, signed properly."""
    entries: list[dict[str, Any]] = [
        issuer_entry_payload(item) if isinstance(item, IssuerEntry) else dict(item)
        for item in registry.issuers
    ]
    mutate(entries[0])
    registry.issuers = list(entries)
    return registry.publish()
