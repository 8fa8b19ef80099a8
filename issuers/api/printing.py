"""Printing endpoints of the citizen app: 7-day offline codes as PDF, via the print service."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from starlette.concurrency import run_in_threadpool

from healthcode.errors import ErrorCode
from healthcode.fetch import PEER_FAILURES
from healthcode.server.openapi import error_responses
from issuers.api.deps import AUTHENTICATED, Caller, Context, citizen_subject
from issuers.family import dependent_of
from issuers.printing import PrintedDocument, PrintLayout, forward_print

router = APIRouter(prefix="/v1", tags=["printing"], responses=AUTHENTICATED)

LayoutQuery = Annotated[PrintLayout, Query()]


def _token(authorization: str | None) -> str:
    # get_principal already checked it: a Bearer token of an open session.
    assert authorization is not None
    return authorization.partition(" ")[2].strip()


def _pdf(document: PrintedDocument) -> Response:
    return Response(
        document.content,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{document.filename}"',
            "Cache-Control": "no-store",  # personal data
        },
    )


_PDF: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {}}, "description": "the PDF"},
    # No print service configured or reachable, or a bad answer from it; its own refusals
    # of the request (an ended session, too many prints) are relayed with their codes.
    **error_responses(
        ErrorCode.NOT_FOUND,
        ErrorCode.RATE_LIMITED,
        *PEER_FAILURES,
    ),
}


@router.post("/me/print", response_class=Response, responses=_PDF)
async def print_me(
    context: Context,
    caller: Caller,
    authorization: Annotated[str | None, Header()] = None,
    layout: LayoutQuery = PrintLayout.A4,
) -> Response:
    """The caller's 7-day offline code as a PDF (A4 sheet or wallet card) with a note on
    how to use it."""
    citizen_subject(caller)
    document = await run_in_threadpool(
        forward_print, context.settings, "/v1/print/me", _token(authorization), layout
    )
    return _pdf(document)


@router.post("/family/print", response_class=Response, responses=_PDF)
async def print_family(
    context: Context,
    caller: Caller,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    """A family sheet (A4) with every bound dependant's 7-day offline code."""
    citizen_subject(caller)
    document = await run_in_threadpool(
        forward_print, context.settings, "/v1/print/family", _token(authorization), PrintLayout.A4
    )
    return _pdf(document)


@router.post("/family/{dependent_ref}/print", response_class=Response, responses=_PDF)
async def print_dependant(
    dependent_ref: str,
    context: Context,
    caller: Caller,
    authorization: Annotated[str | None, Header()] = None,
    layout: LayoutQuery = PrintLayout.A4,
) -> Response:
    """One bound dependant's 7-day offline code as a PDF."""
    subject = citizen_subject(caller)

    def checked_and_printed() -> PrintedDocument:
        # The reference is checked here too, so nothing unknown travels to the printer.
        with context.session() as session:
            dependent_of(session, subject, dependent_ref)
        path = f"/v1/print/family/{dependent_ref}"
        return forward_print(context.settings, path, _token(authorization), layout)

    return _pdf(await run_in_threadpool(checked_and_printed))
