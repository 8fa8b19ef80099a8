"""`python -m interop`: run the trust registry with settings from HC_INTEROP_* variables."""

from __future__ import annotations

import uvicorn

from interop.app import create_app
from interop.settings import InteropSettings


def main() -> None:
    settings = InteropSettings()
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level
    )


if __name__ == "__main__":
    main()
