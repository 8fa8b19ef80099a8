"""`python -m verifiers`: serve the checkpoint verifier (settings from `HC_VERIFIER_*`)."""

from __future__ import annotations

import uvicorn

from verifiers.app import create_app
from verifiers.settings import VerifierSettings


def main() -> None:
    """Serve on the configured host and port with one worker."""
    settings = VerifierSettings()
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level
    )


if __name__ == "__main__":
    main()
