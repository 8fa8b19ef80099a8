"""The offline-code print service: `create_app(settings)`.

Endpoints (all need the caller's issuer bearer token, which is forwarded to the issuer):

- `POST /v1/print/me`                  the caller's own offline code
- `POST /v1/print/family/{ref}`        one dependent's code
- `POST /v1/print/family`              a family sheet with every dependent's code (at most
                                       `MAX_FAMILY_MEMBERS`; the caller's own code is not on it)
- `POST /v1/print/counter`             a walk-in citizen's code (role counter_staff), body
                                       `{"id_number", "name"}`

Query: `format=pdf|png` (default pdf), `layout=a4|card` (default a4).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from healthcode.errors import ErrorCode, RequestError
from healthcode.fetch import PeerClient
from healthcode.idnumber import parse_id_number
from healthcode.server import build_routes, create_base_app
from healthcode.server.openapi import error_responses
from healthcode.server.readiness import database_check
from offline.audit import actor_ref, open_audit_log
from offline.printing import (
    OutputFormat,
    PrintAction,
    PrintJob,
    check_layout,
    fetch_codes,
    render_and_audit,
)
from offline.settings import OfflineSettings, issuer_bounds
from offline.sheet import Layout

__all__ = ["create_app"]


class WalkInCitizen(BaseModel):
    """A citizen at a counter, identified by the ID card they present."""

    id_number: str = Field(pattern=r"^[0-9]{17}[0-9X]$")
    name: str = Field(min_length=1, max_length=32)


def bearer_token(authorization: Annotated[str | None, Header()] = None) -> str:
    """The caller's bearer token (checked by the issuer, not here)."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise RequestError(
            ErrorCode.UNAUTHENTICATED,
            "send 'Authorization: Bearer <token>' with a token from the issuer's login",
        )
    return token.strip()


Token = Annotated[str, Depends(bearer_token)]
DependentRef = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]

#: A printed code (PDF or PNG), or a refusal: this service's own, or the issuer's passed on
#: with its code (offline.printing._upstream_error).
PRINTED: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {}, "image/png": {}}, "description": "The printout"},
    **error_responses(
        ErrorCode.UNAUTHENTICATED,
        ErrorCode.TOKEN_EXPIRED,
        ErrorCode.FORBIDDEN,
        ErrorCode.NOT_FOUND,
        ErrorCode.CONFLICT,
        ErrorCode.INVALID_ID_NUMBER,
        ErrorCode.RATE_LIMITED,
        ErrorCode.UPSTREAM_UNAVAILABLE,
    ),
}
FormatQuery = Annotated[OutputFormat, Query(alias="format")]
LayoutQuery = Annotated[Layout, Query()]


def _respond(job: PrintJob) -> Response:
    return Response(
        job.content,
        media_type=job.media_type,
        headers={
            "Content-Disposition": f'inline; filename="{job.filename}"',
            # Personal data: never kept by a browser or a proxy.
            "Cache-Control": "no-store",
        },
    )


def create_app(settings: OfflineSettings | None = None) -> FastAPI:
    """The print service for `settings` (from the environment when None)."""
    settings = settings or OfflineSettings()
    audit = open_audit_log(settings.audit_database_url)
    client = PeerClient(settings.issuer_url, bounds=issuer_bounds(settings))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        client.close()
        audit.dispose()

    app = create_base_app(
        title="healthcode offline-code printer",
        lifespan=lifespan,
        description="Printable 7-day offline health codes (A4 sheet, wallet card, family).",
        service="offline",
        readiness={"audit_database": database_check(audit, "offline")},
    )
    app.state.settings = settings
    app.state.audit = audit

    def print_codes(
        action: PrintAction,
        token: str,
        layout: Layout,
        output: OutputFormat,
        *,
        dependent_ref: str | None = None,
        walk_in: dict[str, str] | None = None,
    ) -> Response:
        check_layout(action, layout)
        codes = fetch_codes(
            client,
            action,
            token,
            issuer_names=settings.issuer_names,
            dependent_ref=dependent_ref,
            walk_in=walk_in,
        )
        job = render_and_audit(
            codes,
            action=action,
            session_ref=actor_ref(token),
            channel="service",
            layout=layout,
            output=output,
            audit=audit,
            png_dpi=settings.png_dpi,
        )
        return _respond(job)

    @app.post("/v1/print/me", tags=["print"], responses=PRINTED)
    def print_me(
        token: Token, format: FormatQuery = OutputFormat.PDF, layout: LayoutQuery = Layout.A4
    ) -> Response:
        """Print the caller's own offline code."""
        return print_codes(PrintAction.ME, token, layout, format)

    @app.post("/v1/print/family/{dependent_ref}", tags=["print"], responses=PRINTED)
    def print_family_member(
        dependent_ref: DependentRef,
        token: Token,
        format: FormatQuery = OutputFormat.PDF,
        layout: LayoutQuery = Layout.A4,
    ) -> Response:
        """Print one bound dependent's offline code."""
        return print_codes(
            PrintAction.FAMILY_MEMBER, token, layout, format, dependent_ref=dependent_ref
        )

    @app.post("/v1/print/family", tags=["print"], responses=PRINTED)
    def print_family(
        token: Token, format: FormatQuery = OutputFormat.PDF, layout: LayoutQuery = Layout.A4
    ) -> Response:
        """Print a family sheet with every bound dependent's offline code."""
        return print_codes(PrintAction.FAMILY, token, layout, format)

    @app.post("/v1/print/counter", tags=["print"], responses=PRINTED)
    def print_counter(
        citizen: WalkInCitizen,
        token: Token,
        format: FormatQuery = OutputFormat.PDF,
        layout: LayoutQuery = Layout.A4,
    ) -> Response:
        """Print a walk-in citizen's offline code (counter staff, ID card presented)."""
        # Refuse a mistyped number here, before it travels anywhere.
        resident = parse_id_number(citizen.id_number)
        walk_in = {"id_number": resident.number, "name": citizen.name}
        return print_codes(PrintAction.COUNTER, token, layout, format, walk_in=walk_in)

    return build_routes(app)
