"""Request dependencies of the registry routes: database session, keyring, admin role."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Header, Path, Request
from sqlalchemy import Engine
from sqlmodel import Session

from healthcode.errors import ErrorCode, RequestError
from interop.registry.signing import RootKeyring
from interop.settings import InteropSettings

__all__ = ["AdminDep", "RegistryContext", "SessionDep", "context"]

REGISTRY_ADMIN = "registry_admin"
logger = logging.getLogger("interop.registry")


@dataclass(slots=True)
class RegistryContext:
    """What the routes share, stored on `app.state.registry`."""

    settings: InteropSettings
    engine: Engine

    @property
    def list_lifetime(self) -> timedelta:
        return timedelta(seconds=self.settings.trust_list_lifetime_s)

    def keyring(self) -> RootKeyring:
        # Re-read per change: a root rotated by the CLI is used without a restart.
        return RootKeyring.load(self.settings.root_keys_dir)

    def threshold(self) -> int:
        return self.keyring().current.threshold


def context(request: Request) -> RegistryContext:
    registry: RegistryContext = request.app.state.registry
    return registry


def session(registry: Annotated[RegistryContext, Depends(context)]) -> Iterator[Session]:
    with Session(registry.engine) as db:
        yield db


def require_admin(
    request: Request,
    registry: Annotated[RegistryContext, Depends(context)],
    authorization: Annotated[str | None, Header()] = None,
) -> str:
    """The registry_admin role: the bearer token of a named admin account ("admin:<name>",
    so the audit log tells officers apart) or the shared admin token ("registry_admin")."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise RequestError(ErrorCode.UNAUTHENTICATED, "send 'Authorization: Bearer <admin token>'")
    offered = token.strip().encode()
    settings = registry.settings
    accounts = [(f"admin:{name}", secret) for name, secret in settings.admin_tokens.items()]
    actor = None
    # Compare against every account, so timing does not tell which names exist.
    for name, secret in [(REGISTRY_ADMIN, settings.admin_token), *accounts]:
        if hmac.compare_digest(offered, secret.get_secret_value().encode()):
            actor = name
    if actor is None:
        client = request.client.host if request.client else "?"
        logger.warning(
            "refused admin request %s %s from %s", request.method, request.url.path, client
        )
        raise RequestError(ErrorCode.UNAUTHENTICATED, "the admin token is not valid")
    return actor


SessionDep = Annotated[Session, Depends(session)]
AdminDep = Annotated[str, Depends(require_admin)]
ContextDep = Annotated[RegistryContext, Depends(context)]


#: A document version in a path: 1 up to what a JSON number holds exactly (an integer column).
Version = Annotated[int, Path(ge=1, le=2**53)]
