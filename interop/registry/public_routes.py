"""Public registry routes: the signed documents every verifier fetches (no authentication)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from healthcode.errors import ErrorCode, RequestError
from interop.registry import store
from interop.registry.deps import SessionDep
from interop.registry.models import PublishedDocument

router = APIRouter(prefix="/v1", tags=["trust list"])

_CACHE = "public, max-age=60"


def _send(request: Request, document: PublishedDocument | None, what: str) -> Response:
    if document is None:
        raise RequestError(ErrorCode.NOT_FOUND, f"no {what} is published")
    headers = {"ETag": document.etag, "Cache-Control": _CACHE}
    if request.headers.get("if-none-match") == document.etag:
        return Response(status_code=304, headers=headers)
    return Response(document.document_json, media_type="application/json", headers=headers)


@router.get("/trust-list")
def current_trust_list(request: Request, session: SessionDep) -> Response:
    """The newest signed trust list (ETag / If-None-Match answers 304 when unchanged)."""
    return _send(request, store.latest_document(session, store.TRUST_LIST), "trust list")


@router.get("/trust-list/{version}")
def trust_list_version(version: int, request: Request, session: SessionDep) -> Response:
    """Any published trust-list version (every version is kept)."""
    document = store.get_document(session, store.TRUST_LIST, version)
    return _send(request, document, f"trust list version {version}")


@router.get("/timestamp")
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


@router.get("/root/latest")
def latest_root(request: Request, session: SessionDep) -> Response:
    """The newest root document (§7.1)."""
    return _send(request, store.latest_document(session, store.ROOT), "root")


@router.get("/root/{version}")
def root_version(version: int, request: Request, session: SessionDep) -> Response:
    """Root document `version`; clients walk N -> N+1 one version at a time."""
    return _send(request, store.get_document(session, store.ROOT, version), f"root {version}")
