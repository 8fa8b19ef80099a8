"""`python -m verifiers`: serve the checkpoint verifier (settings from `HC_VERIFIER_*`)."""

from __future__ import annotations

import logging

import uvicorn

from verifiers.app import create_app, scans_first
from verifiers.settings import VerifierSettings


def main() -> None:
    """Serve on the configured host and port with one worker (uvloop + httptools)."""
    settings = VerifierSettings()
    level = logging.getLevelName(settings.log_level.upper())
    uvicorn.run(
        # The scan handler in front of the whole FastAPI app: a scan skips FastAPI's own
        # layers as well as its routing (docs/performance-checkpoint.md).
        scans_first(create_app(settings)),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        loop="uvloop",
        http="httptools",
        # uvicorn formats an access line for every request unless told not to; above INFO
        # nothing would be printed anyway, so skip the work.
        access_log=not isinstance(level, int) or level <= logging.INFO,
    )


if __name__ == "__main__":
    main()
