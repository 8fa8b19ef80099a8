"""The citizen web app (issue 15, ADR 0013): static files the issuer serves at `/`.

`web_router()` serves `/` (the page), `/sw.js` (the service worker, at the root so its scope is
the whole app), `/manifest.webmanifest` and `/web/...` (styles, scripts, icons, font). Files are
read once, at start-up, with a gzip copy of each text file and an ETag, so a request costs a
dictionary look-up; every answer says `no-cache` (revalidate by ETag: a deploy is picked up on
the next load; the service worker keeps the app usable offline) and carries the page's Content
Security Policy: nothing but this origin, no inline script or style.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header, Response

from healthcode.errors import ErrorCode, RequestError

__all__ = ["CONTENT_SECURITY_POLICY", "WEB_DIR", "web_router"]

WEB_DIR = Path(__file__).resolve().parent

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; manifest-src 'self'; worker-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".webmanifest": "application/manifest+json",
    ".png": "image/png",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
}
#: Already compressed: gzip would only cost time.
_COMPRESSED = {".png", ".woff2"}
#: Files of this folder that are not served (the build scripts, Python caches).
_NOT_SERVED = {".py", ".pyc"}


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    media_type: str
    etag: str


def _load(path: Path) -> Asset:
    body = path.read_bytes()
    gzipped = None
    if path.suffix not in _COMPRESSED:
        gzipped = gzip.compress(body, compresslevel=9, mtime=0)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return Asset(body, gzipped, _TYPES.get(path.suffix, "application/octet-stream"), etag)


def load_assets(directory: Path = WEB_DIR) -> dict[str, Asset]:
    """Every servable file of the app by its URL path."""
    assets: dict[str, Asset] = {}
    for path in sorted(directory.rglob("*")):
        if not path.is_file() or path.suffix in _NOT_SERVED or "__pycache__" in path.parts:
            continue
        relative = path.relative_to(directory).as_posix()
        if relative == "index.html":
            assets["/"] = _load(path)
        elif relative in {"sw.js", "manifest.webmanifest"}:
            assets["/" + relative] = _load(path)
        else:
            assets["/web/" + relative] = _load(path)
    return assets


def _answer(asset: Asset, if_none_match: str | None, accept_encoding: str | None) -> Response:
    headers = {
        "ETag": asset.etag,
        "Cache-Control": "no-cache",
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Vary": "Accept-Encoding",
    }
    if if_none_match is not None and asset.etag in {t.strip() for t in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    body = asset.body
    if asset.gzipped is not None and "gzip" in (accept_encoding or ""):
        body = asset.gzipped
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=asset.media_type, headers=headers)


def web_router(directory: Path = WEB_DIR) -> APIRouter:
    """The routes that serve the app's files (read from `directory` once, now)."""
    assets = load_assets(directory)
    router = APIRouter(include_in_schema=False)

    def serve(
        path: str,
        if_none_match: Annotated[str | None, Header()] = None,
        accept_encoding: Annotated[str | None, Header()] = None,
    ) -> Response:
        asset = assets.get(path)
        if asset is None:
            raise RequestError(ErrorCode.NOT_FOUND, f"no such file of the citizen app: {path}")
        return _answer(asset, if_none_match, accept_encoding)

    @router.get("/")
    def page(
        if_none_match: Annotated[str | None, Header()] = None,
        accept_encoding: Annotated[str | None, Header()] = None,
    ) -> Response:
        return serve("/", if_none_match, accept_encoding)

    @router.get("/sw.js")
    def service_worker(
        if_none_match: Annotated[str | None, Header()] = None,
        accept_encoding: Annotated[str | None, Header()] = None,
    ) -> Response:
        return serve("/sw.js", if_none_match, accept_encoding)

    @router.get("/manifest.webmanifest")
    def manifest(
        if_none_match: Annotated[str | None, Header()] = None,
        accept_encoding: Annotated[str | None, Header()] = None,
    ) -> Response:
        return serve("/manifest.webmanifest", if_none_match, accept_encoding)

    @router.get("/web/{path:path}")
    def file(
        path: str,
        if_none_match: Annotated[str | None, Header()] = None,
        accept_encoding: Annotated[str | None, Header()] = None,
    ) -> Response:
        return serve("/web/" + path, if_none_match, accept_encoding)

    return router
