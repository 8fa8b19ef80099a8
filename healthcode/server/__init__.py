"""Shared service plumbing: settings base, app factory base, error mapping, Redis, database.

This is the only part of `healthcode` that imports the web and storage stack (fastapi,
sqlmodel, redis); the core standard modules never do (import-linter contract in
pyproject.toml). Services import from here; they never import each other.
"""

from healthcode.server.app import build_routes, create_base_app
from healthcode.server.errors import (
    HTTP_STATUS,
    error_answer,
    error_body,
    install_error_handlers,
)
from healthcode.server.settings import ServiceSettings

__all__ = [
    "HTTP_STATUS",
    "ServiceSettings",
    "build_routes",
    "create_base_app",
    "error_answer",
    "error_body",
    "install_error_handlers",
]
