"""`python -m verifiers`: serve the checkpoint verifier (settings from `HC_VERIFIER_*`)."""

from __future__ import annotations

import logging

from healthcode.server.serve import serve
from verifiers.app import create_app
from verifiers.hotpath import scan_http_protocol
from verifiers.settings import VerifierSettings


def main(settings: VerifierSettings | None = None) -> None:
    """Serve on the configured host and port with one worker (uvloop + httptools).

    With `tls_certfile` and `tls_keyfile` set it serves HTTPS (the camera needs it on a LAN).
    """
    settings = settings or VerifierSettings()
    level = logging.getLevelName(settings.log_level.upper())
    app = create_app(settings)
    serve(
        app,
        settings,
        # No collector pause of ~80 ms every few seconds of peak load
        # (docs/performance-checkpoint.md).
        freeze_heap=True,
        # A plain scan is answered inside uvicorn's HTTP protocol (verifiers.fastpath); any
        # other request, and a scan the fast path passes on, reaches the app, whose scan
        # endpoint sits ahead of its routing (verifiers.hotpath, ADR 0009 and ADR 0015).
        http=scan_http_protocol(app),
        loop="uvloop",
        # uvicorn formats an access line for every request unless told not to; above INFO
        # nothing would be printed anyway, so skip the work.
        access_log=not isinstance(level, int) or level <= logging.INFO,
        ssl_certfile=settings.tls_certfile,
        ssl_keyfile=settings.tls_keyfile,
    )


if __name__ == "__main__":
    main()
