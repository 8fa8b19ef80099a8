"""Run the print service: `python -m offline` (settings from `HC_OFFLINE_*`)."""

from __future__ import annotations

import uvicorn

from offline.app import create_app
from offline.settings import OfflineSettings


def main() -> None:
    """Serve `create_app()` on the configured host and port."""
    settings = OfflineSettings()
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level
    )


if __name__ == "__main__":
    main()
