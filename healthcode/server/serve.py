"""Run a service under uvicorn the way every service runs: its host, port and log settings, and
the request read limits (slow-loris, ADR 0021)."""

from __future__ import annotations

import gc
from typing import Any, Protocol

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from healthcode.server.logs import lean_log_records, log_config
from healthcode.server.readlimits import with_read_deadlines

__all__ = ["ListenSettings", "serve"]


class ListenSettings(Protocol):
    """What `serve` reads from a service's settings (every service's settings class has it)."""

    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def log_level(self) -> str: ...
    @property
    def log_format(self) -> str: ...


def serve(
    app: FastAPI,
    settings: ListenSettings,
    *,
    freeze_heap: bool = False,
    http: type[HttpToolsProtocol] = HttpToolsProtocol,
    **uvicorn_options: Any,
) -> None:
    """Serve `app` on the configured host and port until the process is stopped.

    Args:
        freeze_heap: collect once, then keep everything loaded so far (modules, the app,
            settings) out of the collector's sight for the life of the process, so a full
            collection under load walks only what requests created since: no pause of tens of
            milliseconds every few seconds at peak (ADR 0022, docs/performance-checkpoint.md).
        http: the uvicorn protocol class the read deadlines wrap (uvicorn's own by default).
        uvicorn_options: passed on to `uvicorn.run` (loop, access_log, TLS files).
    """
    lean_log_records()
    if freeze_heap:
        gc.collect()
        gc.freeze()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=log_config(settings.log_level, settings.log_format),
        http=with_read_deadlines(http),
        **uvicorn_options,
    )
