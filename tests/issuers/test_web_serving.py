"""The citizen app's files at the province's `/`, and `/docs` without a CDN."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from issuers.webapp import app_csp, inline_script_hashes, web_directory
from tests.issuers.conftest import IssuerService


@pytest.fixture
def web_files() -> Iterator[list[Path]]:
    """Test files placed in the served folder (the app's own files belong to its author)."""
    folder = web_directory()
    made = [folder / "test-asset.0123abcd.js", folder / "test-plain.css"]
    made[0].write_text("console.log(1);\n")
    made[1].write_text("body{}\n")
    yield made
    for path in made:
        path.unlink()


def test_shell_is_revalidated_and_locked_to_its_own_origin(issuer: IssuerService) -> None:
    page = issuer.http.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-cache"
    policy = page.headers["content-security-policy"]
    assert policy == app_csp(web_directory() / "index.html")
    assert "default-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert "http" not in policy  # no other origin is allowed
    # The page's one inline script (asking for the code early) is allowed by its hash, and
    # only in script-src.
    hashes = inline_script_hashes(page.text)
    assert len(hashes) == 1
    script_src = next(d for d in policy.split("; ") if d.startswith("script-src "))
    assert script_src == f"script-src 'self' {hashes[0]}"
    assert policy.count("sha256-") == 1
    assert page.headers["x-content-type-options"] == "nosniff"
    # Revalidation answers 304 while unchanged.
    again = issuer.http.get("/", headers={"If-None-Match": page.headers["etag"]})
    assert again.status_code == 304
    # No file in the app loads anything from another origin.
    for path in web_directory().rglob("*"):
        if path.suffix in {".html", ".js", ".css", ".webmanifest"}:
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"(src|href)=\"https?://", text), path


def test_hashed_assets_are_immutable_and_plain_ones_revalidated(
    issuer: IssuerService, web_files: list[Path]
) -> None:
    hashed = issuer.http.get("/test-asset.0123abcd.js")
    assert hashed.status_code == 200
    assert hashed.headers["cache-control"] == "public, max-age=31536000, immutable"
    plain = issuer.http.get("/test-plain.css")
    assert plain.headers["cache-control"] == "no-cache"
    versioned = issuer.http.get("/test-plain.css?v=3")
    assert versioned.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_service_worker_and_manifest_headers(issuer: IssuerService) -> None:
    folder = web_directory()
    made = []
    for name, body in (
        ("sw.js", "self.addEventListener('fetch',()=>{});\n"),
        ("manifest.webmanifest", '{"name":"x"}\n'),
    ):
        if not (folder / name).exists():
            (folder / name).write_text(body)
            made.append(folder / name)
    try:
        worker = issuer.http.get("/sw.js")
        assert worker.status_code == 200
        assert worker.headers["service-worker-allowed"] == "/"
        assert worker.headers["cache-control"] == "no-cache"
        assert "javascript" in worker.headers["content-type"]
        manifest = issuer.http.get("/manifest.webmanifest")
        assert manifest.headers["content-type"] == "application/manifest+json"
    finally:
        for path in made:
            path.unlink()


def test_unknown_paths_still_answer_the_standard_json(issuer: IssuerService) -> None:
    missing = issuer.http.get("/v1/no-such-endpoint")
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    hidden = issuer.http.get("/__init__.py")
    assert hidden.status_code == 404


def test_docs_page_loads_only_vendored_assets(issuer: IssuerService) -> None:
    page = issuer.http.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    scripts = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert scripts
    assert all(s.startswith("/docs/assets/") for s in scripts)
    for url in scripts:
        asset = issuer.http.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 0
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert issuer.http.get("/redoc").status_code == 404
    assert issuer.http.get("/docs/assets/../app.py").status_code == 404
    assert issuer.http.get("/openapi.json").json()["info"]["title"].startswith("healthcode")


def test_inline_script_hashes_match_what_the_browser_computes() -> None:
    # Known answers (sha256 of the script text, base64), as `openssl dgst -sha256 -binary |
    # base64` gives them; scripts with a src are not inline; the parser's CR LF becomes LF.
    page = (
        "<script src='/a.js'></script><script>alert(1)</script>"
        '<SCRIPT type="module">\r\nx()\r\n</SCRIPT >'
    )
    assert inline_script_hashes(page) == [
        "'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='",
        "'sha256-F4wm3/HuV6MrPWziU0ZEzTNInvfl5dk7Nc+6nvtdZFo='",
    ]
    assert inline_script_hashes("<p>no script</p>") == []
