"""Public registry routes: the signed documents every verifier fetches (no authentication)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from healthcode.errors import ErrorCode, RequestError
from healthcode.server.openapi import error_responses
from interop.registry import store
from interop.registry.deps import SessionDep, Version
from interop.registry.models import PublishedDocument

router = APIRouter(prefix="/v1", tags=["trust list"])

_CACHE = "public, max-age=60"

#: A published document: 304 to a matching If-None-Match, 404 when there is none yet.
_DOCUMENT: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the If-None-Match ETag is current"},
    **error_responses(ErrorCode.NOT_FOUND),
}


def _send(request: Request, document: PublishedDocument | None, what: str) -> Response:
    if document is None:
        raise RequestError(ErrorCode.NOT_FOUND, f"no {what} is published")
    headers = {"ETag": document.etag, "Cache-Control": _CACHE}
    if request.headers.get("if-none-match") == document.etag:
        return Response(status_code=304, headers=headers)
    return Response(document.document_json, media_type="application/json", headers=headers)


@router.get("/trust-list", responses=_DOCUMENT)
def current_trust_list(request: Request, session: SessionDep) -> Response:
    """The newest signed trust list (ETag / If-None-Match answers 304 when unchanged)."""
    return _send(request, store.latest_document(session, store.TRUST_LIST), "trust list")


@router.get("/trust-list/{version}", responses=_DOCUMENT)
def trust_list_version(version: Version, request: Request, session: SessionDep) -> Response:
    """Any published trust-list version (every version is kept)."""
    document = store.get_document(session, store.TRUST_LIST, version)
    return _send(request, document, f"trust list version {version}")


@router.get("/timestamp", responses=error_responses(ErrorCode.NOT_FOUND))
def timestamp(request: Request, session: SessionDep) -> Response:
    """The newest timestamp (§7.7): fetched on every refresh, even when the list is unchanged."""
    document = store.latest_document(session, store.TIMESTAMP)
    if document is None:
        raise RequestError(ErrorCode.NOT_FOUND, "no timestamp is published")
    return Response(
        document.document_json,
        media_type="application/json",
        headers={"ETag": document.etag, "Cache-Control": "no-cache"},
    )


@router.get("/root/latest", responses=_DOCUMENT)
def latest_root(request: Request, session: SessionDep) -> Response:
    """The newest root document (§7.1)."""
    return _send(request, store.latest_document(session, store.ROOT), "root")


@router.get("/root/{version}", responses=_DOCUMENT)
def root_version(version: Version, request: Request, session: SessionDep) -> Response:
    """Root document `version`; clients walk N -> N+1 one version at a time."""
    return _send(request, store.get_document(session, store.ROOT, version), f"root {version}")
