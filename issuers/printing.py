"""Printing for the citizen app: the issuer forwards to the print service (ADR 0012).

The PDF renderer lives in `offline/` (its own service; services never import each other). The
app calls the issuer, same origin, and the issuer forwards the citizen's own bearer token to
the print service's `/v1/print/*`, which fetches the offline codes back from the issuer with
that token (so the print is audited under the citizen, as any code read) and renders the PDF.
The print service's answer is read by the bounded peer client (`healthcode.fetch`, the
`document` bounds); its refusals keep their code, anything else is `upstream_unavailable`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from healthcode.errors import ErrorCode, HealthcodeError, RequestError
from healthcode.fetch import PEER_BOUNDS, PeerClient
from issuers.settings import IssuerSettings

__all__ = ["PrintLayout", "PrintedDocument", "forward_print"]

_FILENAME = re.compile(r'filename="([A-Za-z0-9._-]{1,100})"')


class PrintLayout(StrEnum):
    A4 = "a4"
    CARD = "card"


@dataclass(frozen=True, slots=True)
class PrintedDocument:
    content: bytes
    filename: str


def forward_print(
    settings: IssuerSettings, path: str, token: str, layout: PrintLayout
) -> PrintedDocument:
    """POST `path` (e.g. `/v1/print/me`) to the print service with the caller's token."""
    if settings.print_url is None:
        raise RequestError(
            ErrorCode.UPSTREAM_UNAVAILABLE,
            "printing is not set up for this province (HC_ISSUER_PRINT_URL); ask at a "
            "service counter",
        )
    url = settings.print_url.rstrip("/") + path
    with PeerClient() as http:
        answer = http.post(
            url,
            PEER_BOUNDS.document,
            params={"layout": layout.value, "format": "pdf"},
            headers={"Authorization": f"Bearer {token}"},
        )
    if answer.status_code == 200 and answer.content.startswith(b"%PDF-"):
        match = _FILENAME.search(answer.headers.get("content-disposition", ""))
        return PrintedDocument(answer.content, match.group(1) if match else "health-code.pdf")
    is_json = answer.headers.get("content-type", "").startswith("application/json")
    raise _refusal(answer.status_code, answer.json() if is_json else None)


def _refusal(status: int, body: object) -> HealthcodeError:
    """The print service's refusal as ours (the same code and message), or upstream_*."""
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        try:
            code = ErrorCode(body["error"])
        except ValueError:
            code = None
        message = body.get("message")
        if code is not None and isinstance(message, str) and status < 500:
            return RequestError(code, message[:300])
    return RequestError(
        ErrorCode.UPSTREAM_UNAVAILABLE,
        f"the print service could not make the document (HTTP {status}); try again later",
    )
