"""Run the print service: `python -m offline` (settings from `HC_OFFLINE_*`)."""

from __future__ import annotations

from healthcode.server.serve import serve
from offline.app import create_app
from offline.settings import OfflineSettings


def main() -> None:
    """Serve `create_app()` on the configured host and port."""
    settings = OfflineSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
