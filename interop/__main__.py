"""`python -m interop`: run the trust registry with settings from HC_INTEROP_* variables."""

from __future__ import annotations

import uvicorn

from healthcode.server.readlimits import with_read_deadlines
from interop.app import create_app
from interop.settings import InteropSettings


def main() -> None:
    settings = InteropSettings()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        http=with_read_deadlines(),  # slow-loris: header and body read limits
    )


if __name__ == "__main__":
    main()
