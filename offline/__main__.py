"""Run the print service: `python -m offline` (settings from `HC_OFFLINE_*`)."""

from __future__ import annotations

import uvicorn

from healthcode.server.logs import log_config
from healthcode.server.readlimits import with_read_deadlines
from offline.app import create_app
from offline.settings import OfflineSettings


def main() -> None:
    """Serve `create_app()` on the configured host and port."""
    settings = OfflineSettings()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=log_config(settings.log_level, settings.log_format),
        http=with_read_deadlines(),  # slow-loris: header and body read limits
    )


if __name__ == "__main__":
    main()
