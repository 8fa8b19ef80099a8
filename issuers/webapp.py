"""Serving the citizen app (`issuers/web/`, a PWA) at the province's `/`.

Caching: the shell (`index.html`), the service worker and the manifest are revalidated on every
load (`no-cache`, answered 304 by ETag when unchanged), so a new release reaches phones at once;
a file whose name carries a content hash (`app.0123abcd.js`) or that is asked for with `?v=` is
immutable for a year. Every answer carries a Content-Security-Policy that lets the page load
and contact only its own origin: no CDN, no framing, and no inline script except the page's
own, each allowed by its sha256 (ADR 0026). The hashes are computed at start-up from the
`index.html` that is served, so an edited script can never run under a stale hash.
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib.resources import as_file, files
from pathlib import Path

from fastapi import FastAPI
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

__all__ = ["WebApp", "app_csp", "inline_script_hashes", "mount_web_app", "web_directory"]

_CSP = (
    "default-src 'self'; script-src 'self'{scripts}; style-src 'self'; "
    "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; manifest-src 'self'; "
    "worker-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
#: A `<script>` element's attributes and body; those with a `src` are not inline.
_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.DOTALL | re.IGNORECASE)
_HASHED_NAME = re.compile(r"\.[0-9a-f]{8,}\.[A-Za-z0-9]+$")
_REVALIDATE = "no-cache"
_IMMUTABLE = "public, max-age=31536000, immutable"
#: Python files (none should be there) and dot files are never served.
_HIDDEN = re.compile(r"(^|/)\.[^/]|\.py[cio]?$")


def inline_script_hashes(page: str) -> list[str]:
    """CSP sources (`'sha256-...'`) allowing exactly the inline scripts of the HTML `page`.

    The browser hashes a script's text as UTF-8 after the HTML parser turned CR LF into LF."""
    sources = []
    for attributes, body in _SCRIPT.findall(page):
        if re.search(r"\bsrc\s*=", attributes):
            continue
        text = body.replace("\r\n", "\n").replace("\r", "\n")
        digest = hashlib.sha256(text.encode("utf-8")).digest()
        sources.append(f"'sha256-{base64.b64encode(digest).decode('ascii')}'")
    return sources


def app_csp(shell: Path) -> str:
    """The policy of every answer of the app: its own origin only, plus the shell's inline
    scripts by hash (never 'unsafe-inline')."""
    hashes = inline_script_hashes(shell.read_text(encoding="utf-8"))
    return _CSP.format(scripts="".join(f" {source}" for source in hashes))


class WebApp(StaticFiles):
    """Static files with the app's caching rules and security headers."""

    def __init__(self, *, directory: Path) -> None:
        super().__init__(directory=directory, html=True)
        self.csp = app_csp(directory / "index.html")

    async def get_response(self, path: str, scope: Scope) -> Response:
        if _HIDDEN.search(path):
            path = "__not_served__"
        response = await super().get_response(path, scope)
        name = path.rsplit("/", 1)[-1]
        query = scope.get("query_string", b"")
        versioned = _HASHED_NAME.search(name) is not None or b"v=" in query
        response.headers["Cache-Control"] = _IMMUTABLE if versioned else _REVALIDATE
        response.headers["Content-Security-Policy"] = self.csp
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if name == "sw.js":
            response.headers["Service-Worker-Allowed"] = "/"
        if name.endswith(".webmanifest"):
            response.headers["Content-Type"] = "application/manifest+json"
        return response


def web_directory() -> Path:
    """The packaged `issuers/web/` folder (a real directory: the package is installed as files)."""
    with as_file(files("issuers") / "web") as path:
        return Path(path)


def mount_web_app(app: FastAPI) -> None:
    """Serve the app at `/`; mounted last, so every API route is matched before it."""
    # Compressed on the way out (the app's text files shrink to about a third: what a phone on
    # a slow network waits for); only this mount, never the API's answers.
    files = WebApp(directory=web_directory())
    app.mount("/", GZipMiddleware(files, minimum_size=500), name="citizen-app")
