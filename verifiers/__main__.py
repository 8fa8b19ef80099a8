"""`python -m verifiers`: serve the checkpoint verifier (settings from `HC_VERIFIER_*`)."""

from __future__ import annotations

import gc
import logging

import uvicorn

from healthcode.server.logs import log_config
from healthcode.server.readlimits import with_read_deadlines
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
    # Everything loaded so far (modules, the app, settings) lives as long as the process. Out
    # of the collector's sight, a full collection under load walks what scans created since
    # instead of 118 000 objects more: no pause of ~80 ms every few seconds of peak load
    # (docs/performance-checkpoint.md).
    gc.collect()
    gc.freeze()
    uvicorn.run(
        # A plain scan is answered inside uvicorn's HTTP protocol (verifiers.fastpath); any
        # other request, and a scan the fast path passes on, reaches the app, whose scan
        # endpoint sits ahead of its routing (verifiers.hotpath, ADR 0009 and ADR 0015).
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=log_config(settings.log_level, settings.log_format),
        loop="uvloop",
        # ... with the header and body read limits every service has (slow-loris).
        http=with_read_deadlines(scan_http_protocol(app)),
        # uvicorn formats an access line for every request unless told not to; above INFO
        # nothing would be printed anyway, so skip the work.
        access_log=not isinstance(level, int) or level <= logging.INFO,
        ssl_certfile=settings.tls_certfile,
        ssl_keyfile=settings.tls_keyfile,
    )


if __name__ == "__main__":
    main()
