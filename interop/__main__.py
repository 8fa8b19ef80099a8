"""`python -m interop`: run the trust registry with settings from HC_INTEROP_* variables."""

from __future__ import annotations

from healthcode.server.serve import serve
from interop.app import create_app
from interop.settings import InteropSettings


def main() -> None:
    settings = InteropSettings()
    serve(create_app(settings), settings)  # log settings and slow-loris read limits included


if __name__ == "__main__":
    main()
