"""`python -m verifiers`: serve the checkpoint verifier (settings from `HC_VERIFIER_*`)."""

from __future__ import annotations

import functools
import gc
import logging

import uvicorn

from healthcode.server.logs import log_config
from healthcode.server.readlimits import with_read_deadlines
from verifiers.app import MAX_SCAN_BODY, answer_scan, create_app, scans_first
from verifiers.fastpath import scan_protocol
from verifiers.settings import VerifierSettings


def main(settings: VerifierSettings | None = None) -> None:
    """Serve on the configured host and port with one worker (uvloop + httptools).

    With `tls_certfile` and `tls_keyfile` set it serves HTTPS (the camera needs it on a LAN).
    """
    settings = settings or VerifierSettings()
    level = logging.getLevelName(settings.log_level.upper())
    app = create_app(settings)
    service = app.state.service
    # Everything loaded so far (modules, the app, settings) lives as long as the process. Out
    # of the collector's sight, a full collection under load walks what scans created since
    # instead of 118 000 objects more: no pause of ~80 ms every few seconds of peak load
    # (docs/performance-checkpoint.md).
    gc.collect()
    gc.freeze()
    uvicorn.run(
        # A plain scan is answered inside uvicorn's HTTP protocol (verifiers.fastpath); any
        # other request, and a scan the fast path passes on, reaches the app with the scan
        # handler in front of all of it (docs/performance-checkpoint.md, ADR 0009).
        scans_first(app),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=log_config(settings.log_level, settings.log_format),
        loop="uvloop",
        # ... with the header and body read limits every service has (slow-loris).
        http=with_read_deadlines(
            scan_protocol(
                functools.partial(answer_scan, service),
                MAX_SCAN_BODY,
                service.scan_log.journal,  # no answer leaves before its scan is journaled
            )
        ),
        # uvicorn formats an access line for every request unless told not to; above INFO
        # nothing would be printed anyway, so skip the work.
        access_log=not isinstance(level, int) or level <= logging.INFO,
        ssl_certfile=settings.tls_certfile,
        ssl_keyfile=settings.tls_keyfile,
    )


if __name__ == "__main__":
    main()
