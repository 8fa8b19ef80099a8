"""The API documentation page at `/docs`, served from Swagger UI vendored into the package.

FastAPI's own `/docs` and `/redoc` load their scripts from a CDN, which the machines that run a
province's services may not reach and which no health-code page may depend on. Every service
built by `create_base_app` therefore turns those off and serves instead: `/openapi.json` (the
contract), `/docs` (a page with no inline script) and `/docs/assets/*` (swagger-ui-dist from
npm, copied into `healthcode/server/swagger/`; its licence travels with it). ReDoc is not
offered: one viewer is enough.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response

__all__ = ["DOCS_CSP", "install_docs"]

_ASSETS = files("healthcode.server") / "swagger"
_MEDIA_TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "docs-init.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
#: The docs page runs only scripts from this origin; Swagger UI sets inline styles itself.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
_INIT_JS = """window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui",
    deepLinking: true, layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset]});
});
"""


def _page(title: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - API</title>
<link rel="icon" href="/docs/assets/favicon.png">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/docs-init.js"></script></body></html>
"""


def install_docs(app: FastAPI) -> None:
    """Serve `/docs` from the vendored Swagger UI (the app must be built with docs_url=None,
    redoc_url=None)."""
    page = _page(app.title.replace("<", "").replace("&", ""))
    headers = {"Content-Security-Policy": DOCS_CSP, "Cache-Control": "no-cache"}

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(page, headers=headers)

    @app.get("/docs/assets/{name}", include_in_schema=False)
    async def docs_asset(name: str) -> Response:
        media_type = _MEDIA_TYPES.get(name)
        if media_type is None:
            return Response(status_code=404)
        body = _INIT_JS.encode() if name == "docs-init.js" else (_ASSETS / name).read_bytes()
        # The vendored files change only with a release of the package.
        return Response(
            body, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"}
        )
