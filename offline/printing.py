"""Print requests: fetch the offline credential from the issuer, render it, audit it.

The caller's bearer token goes to the issuer unchanged; the issuer authenticates the caller,
checks the role and issues the 7-day credential, and its answer says who the caller is
(`actor`, as in the issuer's own audit log) and the issuer's human name. This module renders
what came back and writes one audit record per printed code. Nothing is recorded for a request
that fails, and nothing is printed that could not be recorded. The service (`offline.app`) and
the CLI (`offline.cli`) both print through here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import Engine

from healthcode.errors import ErrorCode, PeerError, RequestError
from healthcode.fetch import PeerAnswer, PeerClient
from offline.audit import PrintRecord, now_utc, record_prints
from offline.sheet import (
    FamilySheet,
    Layout,
    OfflineCodeSheet,
    PrintableCode,
    read_offline_credential,
)

__all__ = [
    "MAX_FAMILY_MEMBERS",
    "FetchedCode",
    "OutputFormat",
    "PrintAction",
    "PrintJob",
    "check_layout",
    "fetch_family_codes",
    "fetch_offline_code",
    "render_and_audit",
]

#: One family sheet request prints at most this many members (six pages); more are refused
#: before any code is issued, never dropped.
MAX_FAMILY_MEMBERS: Final = 36
# Refs go into the issuer URL path: nothing that could change the path ("/", "..", "?").
_DEPENDENT_REF = re.compile(r"[A-Za-z0-9_-]{1,64}")
# The issuer's audit actor: `citizen:<pseudonym>`, `<role>:<username>`.
_ACTOR = re.compile(r"[a-z_]{1,32}:\S{1,63}")


class OutputFormat(StrEnum):
    PDF = "pdf"
    PNG = "png"


class PrintAction(StrEnum):
    """What was printed, and the role the issuer required for it."""

    ME = "print_me"
    FAMILY_MEMBER = "print_family_member"
    FAMILY = "print_family"
    COUNTER = "print_counter"
    #: A token or hc:/ text the operator already had, printed with the CLI (no issuer call).
    LOCAL = "print_local"

    @property
    def actor_role(self) -> str:
        """The issuer accepts these endpoints only from this role (Issuer HTTP API)."""
        if self is PrintAction.COUNTER:
            return "counter_staff"
        if self is PrintAction.LOCAL:
            return "local_operator"
        return "citizen"


@dataclass(frozen=True, slots=True)
class FetchedCode:
    """A code to print and who asked for it (the issuer's `actor`)."""

    code: PrintableCode
    actor: str


@dataclass(frozen=True, slots=True)
class PrintJob:
    """A rendered document and its media type."""

    content: bytes
    media_type: str
    filename: str


def _upstream_error(response: PeerAnswer) -> RequestError:
    """The issuer's refusal, passed on with its own code (401, 403, 404, ... stay as they are)."""
    try:
        body = response.json()
        code = ErrorCode(body["error"])
        message = str(body.get("message", ""))
    except (PeerError, ValueError, KeyError, TypeError):
        return RequestError(
            ErrorCode.UPSTREAM_UNAVAILABLE,
            f"the issuer answered HTTP {response.status_code} without a standard error body; "
            "try again later",
        )
    return RequestError(code, f"the issuer refused: {message}")


def _call_issuer(
    client: PeerClient,
    method: str,
    path: str,
    bearer_token: str,
    body: Mapping[str, Any] | None = None,
) -> Any:
    try:
        response = client.request(
            method, path, json=body, headers={"Authorization": f"Bearer {bearer_token}"}
        )
        if response.status_code >= 400:
            raise _upstream_error(response)
        return response.json()
    except PeerError as exc:
        if exc.code is ErrorCode.UPSTREAM_UNAVAILABLE:
            raise RequestError(
                exc.code, "the issuer service cannot be reached; try again later"
            ) from exc
        raise RequestError(
            exc.code, f"the issuer's answer could not be used ({exc.message}); try again later"
        ) from exc


def _unusable(what: str) -> RequestError:
    return RequestError(
        ErrorCode.UPSTREAM_UNAVAILABLE,
        f"the issuer's answer {what}; nothing was printed (is the issuer up to date?)",
    )


def _fetched(answer: Any, issuer_names: Mapping[str, str]) -> FetchedCode:
    """The printable code of an issuer's offline-code answer, and the actor it names.

    The issuer's human name comes from `issuer_names` (the operator's setting) or else from the
    answer's `issuer_name`; a code without either is not printed.
    """
    if not isinstance(answer, dict) or not isinstance(answer.get("token"), str):
        raise _unusable("has no credential 'token'")
    qr_text, credential = read_offline_credential(answer["token"])
    answered_issuer = answer.get("issuer")
    if answered_issuer is not None and answered_issuer != credential.issuer:
        raise _unusable(
            f"names issuer {answered_issuer!r} but the credential {credential.issuer!r}"
        )
    actor = answer.get("actor")
    if not isinstance(actor, str) or not _ACTOR.fullmatch(actor):
        raise _unusable("does not say who asked (an 'actor' like citizen:<pseudonym>)")
    answered_name = answer.get("issuer_name")
    name = issuer_names.get(credential.issuer) or (
        answered_name if isinstance(answered_name, str) else ""
    )
    if not name.strip():
        raise _unusable(
            f"does not name issuer {credential.issuer} in words (no 'issuer_name'); "
            "set HC_OFFLINE_ISSUER_NAMES"
        )
    code = PrintableCode(qr_text=qr_text, credential=credential, issuer_name=name)
    return FetchedCode(code, actor)


def fetch_offline_code(
    client: PeerClient,
    action: PrintAction,
    bearer_token: str,
    *,
    issuer_names: Mapping[str, str],
    dependent_ref: str | None = None,
    walk_in: Mapping[str, str] | None = None,
) -> FetchedCode:
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
        if walk_in is None:
            raise ValueError("a counter print needs the walk-in citizen's id_number and name")
        answer = _call_issuer(client, "POST", "/v1/counter/offline-code", bearer_token, walk_in)
    else:
        raise ValueError(f"{action} is not fetched one code at a time")
    return _fetched(answer, issuer_names)


def fetch_codes(
    client: PeerClient,
    action: PrintAction,
    bearer_token: str,
    *,
    issuer_names: Mapping[str, str],
    dependent_ref: str | None = None,
    walk_in: Mapping[str, str] | None = None,
) -> list[FetchedCode]:
    """The codes one print needs from the issuer: a family's, or the single one of `action`."""
    if action is PrintAction.FAMILY:
        return fetch_family_codes(client, bearer_token, issuer_names=issuer_names)
    return [
        fetch_offline_code(
            client,
            action,
            bearer_token,
            issuer_names=issuer_names,
            dependent_ref=dependent_ref,
            walk_in=walk_in,
        )
    ]


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
    client: PeerClient, bearer_token: str, *, issuer_names: Mapping[str, str]
) -> list[FetchedCode]:
    """Offline credentials of every dependent bound to the caller (not the caller's own).

    Raises:
        RequestError: NOT_FOUND if no dependent is bound; INVALID_REQUEST if more than
            `MAX_FAMILY_MEMBERS` are, before any code is issued.
    """
    refs = _dependent_refs(_call_issuer(client, "GET", "/v1/family", bearer_token))
    if not refs:
        raise RequestError(
            ErrorCode.NOT_FOUND, "no family member is bound to this account; bind one first"
        )
    if len(refs) > MAX_FAMILY_MEMBERS:
        raise RequestError(
            ErrorCode.INVALID_REQUEST,
            f"{len(refs)} family members are bound; one family sheet prints at most "
            f"{MAX_FAMILY_MEMBERS} (six pages). Print members one at a time with "
            "/v1/print/family/{ref}",
        )
    return [
        fetch_offline_code(
            client,
            PrintAction.FAMILY_MEMBER,
            bearer_token,
            issuer_names=issuer_names,
            dependent_ref=ref,
        )
        for ref in refs
    ]


def check_layout(action: PrintAction, layout: Layout) -> None:
    """Refuse a layout the action cannot print, before anything is asked of the issuer.

    Raises:
        RequestError: INVALID_REQUEST for a family sheet in any layout but A4.
    """
    if action is PrintAction.FAMILY and layout is not Layout.A4:
        raise RequestError(
            ErrorCode.INVALID_REQUEST,
            "the family sheet is A4 only; print one member as a card with "
            "/v1/print/family/{ref}?layout=card",
        )


def render_and_audit(
    fetched: Sequence[FetchedCode],
    *,
    action: PrintAction,
    session_ref: str,
    channel: str,
    layout: Layout,
    output: OutputFormat,
    audit: Engine,
    png_dpi: int = 150,
) -> PrintJob:
    """Render the codes (a family sheet for `PrintAction.FAMILY`), then audit every one.

    `session_ref` is `offline.audit.actor_ref(bearer_token)` ("" when no session was used) and
    `channel` says which front end printed ("service", "cli"). The audit rows are written in one
    transaction after rendering succeeded; if they cannot be written, nothing is returned.
    """
    check_layout(action, layout)
    codes = [item.code for item in fetched]
    if action is PrintAction.FAMILY:
        document: FamilySheet | OfflineCodeSheet = FamilySheet(codes)
    else:
        (code,) = codes
        document = OfflineCodeSheet(code, layout)
    if output is OutputFormat.PNG:
        job = PrintJob(document.png(png_dpi), "image/png", "offline-code.png")
    else:
        job = PrintJob(document.pdf(), "application/pdf", "offline-code.pdf")
    at = now_utc()
    record_prints(
        audit,
        [
            PrintRecord(
                at=at,
                actor=item.actor,
                actor_role=action.actor_role,
                actor_ref=session_ref,
                channel=channel,
                action=action.value,
                subject=item.code.credential.subject,
                issuer=item.code.credential.issuer,
                jti=item.code.credential.jti,
                layout=layout.value,
                format=output.value,
            )
            for item in fetched
        ],
    )
    return job
