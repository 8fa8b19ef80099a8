"""The checkpoint verifier service (issue 5): QR, photo, ID-card and assisted verification.

Run it (settings from `HC_VERIFIER_*`, see `verifiers.settings.VerifierSettings`)::

    healthcode checkpoint add-device --name "east gate 1"      # prints the device token once
    healthcode checkpoint add-user alice --role staff           # prompts for the password
    healthcode checkpoint serve                                  # or: python -m verifiers

The staff page is served at `/`; the API under `/v1` (OpenAPI at `/openapi.json`).
"""
