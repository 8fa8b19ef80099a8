"""Print requests: fetch the offline credential from the issuer, render it, audit it.

The caller's bearer token goes to the issuer unchanged; the issuer authenticates the caller,
checks the role and issues the 7-day credential. This service renders what came back and writes
one audit record per printed code. Nothing is recorded for a request that fails.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx
from sqlalchemy import Engine

from healthcode.errors import ErrorCode, RequestError
from offline.audit import PrintRecord, actor_ref, now_utc, record_prints
from offline.sheet import FamilySheet, Layout, OfflineCodeSheet, PrintableCode

__all__ = [
    "OutputFormat",
    "PrintAction",
    "PrintJob",
    "fetch_family_codes",
    "fetch_offline_code",
    "render_and_audit",
]

_MAX_FAMILY_MEMBERS = 20
# Refs go into the issuer URL path: nothing that could change the path ("/", "..", "?").
_DEPENDENT_REF = re.compile(r"[A-Za-z0-9_-]{1,64}")


class OutputFormat(StrEnum):
    PDF = "pdf"
    PNG = "png"


class PrintAction(StrEnum):
    """What was printed, and the role the issuer required for it."""

    ME = "print_me"
    FAMILY_MEMBER = "print_family_member"
    FAMILY = "print_family"
    COUNTER = "print_counter"

    @property
    def actor_role(self) -> str:
        """The issuer accepts these endpoints only from this role (Issuer HTTP API)."""
        return "counter_staff" if self is PrintAction.COUNTER else "citizen"


@dataclass(frozen=True, slots=True)
class PrintJob:
    """A rendered document and its media type."""

    content: bytes
    media_type: str
    filename: str


def _upstream_error(response: httpx.Response) -> RequestError:
    """The issuer's refusal, passed on with its own code (401, 403, 404, ... stay as they are)."""
    try:
        body = response.json()
        code = ErrorCode(body["error"])
        message = str(body.get("message", ""))
    except (ValueError, KeyError, TypeError):
        return RequestError(
            ErrorCode.UPSTREAM_UNAVAILABLE,
            f"the issuer answered HTTP {response.status_code} without a standard error body; "
            "try again later",
        )
    return RequestError(code, f"the issuer refused: {message}")


def _call_issuer(
    client: httpx.Client,
    method: str,
    path: str,
    bearer_token: str,
    body: Mapping[str, Any] | None = None,
) -> Any:
    try:
        response = client.request(
            method, path, json=body, headers={"Authorization": f"Bearer {bearer_token}"}
        )
    except httpx.HTTPError as exc:
        raise RequestError(
            ErrorCode.UPSTREAM_UNAVAILABLE,
            f"the issuer service cannot be reached ({type(exc).__name__}); try again later",
        ) from exc
    if response.status_code >= 400:
        raise _upstream_error(response)
    try:
        return response.json()
    except ValueError as exc:
        raise RequestError(
            ErrorCode.UPSTREAM_UNAVAILABLE, "the issuer answered with something that is not JSON"
        ) from exc


def _printable(answer: Any, issuer_names: Mapping[str, str]) -> PrintableCode:
    token = answer.get("token") if isinstance(answer, dict) else None
    if not isinstance(token, str):
        raise RequestError(
            ErrorCode.UPSTREAM_UNAVAILABLE, "the issuer's answer has no credential 'token'"
        )
    code = PrintableCode.from_token(token)
    name = issuer_names.get(code.credential.issuer, "")
    return PrintableCode(qr_text=code.qr_text, credential=code.credential, issuer_name=name)


def fetch_offline_code(
    client: httpx.Client,
    action: PrintAction,
    bearer_token: str,
    *,
    issuer_names: Mapping[str, str],
    dependent_ref: str | None = None,
    walk_in: Mapping[str, str] | None = None,
) -> PrintableCode:
    """Ask the issuer for one offline credential (the caller's, a dependent's or a walk-in's)."""
    if action is PrintAction.ME:
        answer = _call_issuer(client, "POST", "/v1/me/offline-code", bearer_token)
    elif action is PrintAction.FAMILY_MEMBER:
        if dependent_ref is None or not _DEPENDENT_REF.fullmatch(dependent_ref):
            raise RequestError(
                ErrorCode.INVALID_REQUEST,
                "a dependent ref is 1-64 letters, digits, '-' or '_' (as GET /v1/family lists)",
            )
        path = f"/v1/family/{dependent_ref}/offline-code"
        answer = _call_issuer(client, "POST", path, bearer_token)
    elif action is PrintAction.COUNTER:
        assert walk_in is not None
        answer = _call_issuer(client, "POST", "/v1/counter/offline-code", bearer_token, walk_in)
    else:
        raise ValueError(f"{action} prints several codes; use fetch_family_codes")
    return _printable(answer, issuer_names)


def _dependent_refs(listing: Any) -> list[str]:
    """Refs from `GET /v1/family`: a list, or an object holding one, of {"dependent_ref"}."""
    if isinstance(listing, dict):
        listing = next((v for v in listing.values() if isinstance(v, list)), [])
    refs = []
    for item in listing if isinstance(listing, list) else []:
        ref = item.get("dependent_ref") or item.get("ref") if isinstance(item, dict) else None
        if isinstance(ref, str) and ref:
            refs.append(ref)
    return refs


def fetch_family_codes(
    client: httpx.Client, bearer_token: str, *, issuer_names: Mapping[str, str]
) -> list[PrintableCode]:
    """Offline credentials of every dependent bound to the caller."""
    refs = _dependent_refs(_call_issuer(client, "GET", "/v1/family", bearer_token))
    if not refs:
        raise RequestError(
            ErrorCode.NOT_FOUND, "no family member is bound to this account; bind one first"
        )
    return [
        fetch_offline_code(
            client,
            PrintAction.FAMILY_MEMBER,
            bearer_token,
            issuer_names=issuer_names,
            dependent_ref=ref,
        )
        for ref in refs[:_MAX_FAMILY_MEMBERS]
    ]


def render_and_audit(
    codes: Sequence[PrintableCode],
    *,
    action: PrintAction,
    bearer_token: str,
    layout: Layout,
    output: OutputFormat,
    audit: Engine,
    png_dpi: int = 150,
) -> PrintJob:
    """Render the codes (a family sheet when several), then audit every one of them."""
    if action is PrintAction.FAMILY:
        if layout is not Layout.A4:
            raise RequestError(
                ErrorCode.INVALID_REQUEST,
                "the family sheet is A4 only; print one member as a card with "
                "/v1/print/family/{ref}?layout=card",
            )
        document: FamilySheet | OfflineCodeSheet = FamilySheet(codes)
    else:
        (code,) = codes
        document = OfflineCodeSheet(code, layout)
    if output is OutputFormat.PNG:
        job = PrintJob(document.png(png_dpi), "image/png", "offline-code.png")
    else:
        job = PrintJob(document.pdf(), "application/pdf", "offline-code.pdf")
    at = now_utc()
    ref = actor_ref(bearer_token)
    record_prints(
        audit,
        [
            PrintRecord(
                at=at,
                actor_role=action.actor_role,
                actor_ref=ref,
                action=action.value,
                subject=code.credential.subject,
                issuer=code.credential.issuer,
                jti=code.credential.jti,
                layout=layout.value,
                format=output.value,
            )
            for code in codes
        ],
    )
    return job
