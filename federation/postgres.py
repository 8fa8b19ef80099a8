"""A PostgreSQL cluster of the federation's own, for `up --replicas N`: replicas of one
service share a database, which SQLite on one file would serialise.

Like scripts/test, it is a throwaway cluster (under DIR/postgres, or in the temp directory
when it must run as the `postgres` user), made with the machine's
`initdb` (Debian's `postgresql` package), listening on loopback only, run as the `postgres`
user when the supervisor is root (PostgreSQL refuses to run as root). One database per
service that needs one; created when missing, kept across `up`s on the same DIR.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from federation.children import Child, FederationError

__all__ = ["create_databases", "postgres_child", "postgres_url", "wait_postgres"]

#: Replicas x pool size of every service, with room for migrations and tests.
MAX_CONNECTIONS = 400


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not candidates:
        raise FederationError(
            f"PostgreSQL's {name} is not installed (replicas share a PostgreSQL database); "
            "install it, e.g. `apt-get install postgresql`, or pass --postgres-url"
        )
    return str(candidates[-1])


def _run_as() -> str | None:
    """`postgres` when we are root (PostgreSQL will not run as root), else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise FederationError(
            "running as root needs a 'postgres' user to run PostgreSQL as (Debian's "
            "postgresql package creates it)"
        ) from exc
    return "postgres"


def _home(directory: Path, user: str | None) -> Path:
    """Where the cluster lives: DIR/postgres, or, when it runs as `postgres` (we are root), a
    folder of its own in the temp directory, since DIR's parents may be closed to other users
    (as pytest's and many home folders are). That folder is named in DIR/postgres-home, so a
    second `up` on DIR finds its data, and a fresh DIR never finds another one's."""
    if user is None:
        return directory / "postgres"
    marker = directory / "postgres-home"
    if marker.exists():
        recorded = Path(marker.read_text(encoding="utf-8").strip())
        if recorded.is_dir():
            return recorded
    home = Path(tempfile.mkdtemp(prefix="hc-federation-pg-"))
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(str(home), encoding="utf-8")
    return home


def postgres_child(directory: Path, port: int, log: Path) -> Child:
    """The federation's cluster (initialised on first use) as a supervised child."""
    user = _run_as()
    home = _home(directory, user)
    data = home / "data"
    if not (data / "PG_VERSION").exists():
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        if user is not None:
            shutil.chown(home, user)
        done = subprocess.run(
            [_binary("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
            capture_output=True,
            check=False,
            timeout=120,
            user=user,
        )
        if done.returncode != 0:
            raise FederationError(f"initdb failed: {done.stderr.decode(errors='replace')[-600:]}")
    argv = [_binary("postgres"), "-D", str(data), "-p", str(port), "-h", "127.0.0.1"]
    argv += ["-k", str(home), "-c", f"max_connections={MAX_CONNECTIONS}"]
    return Child("postgres", argv, {}, log, url=postgres_url(port), user=user)


def postgres_url(port: int, database: str = "postgres") -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/{database}"


def wait_postgres(url: str, timeout_s: float = 60.0) -> None:
    """Until the server of `url` accepts TCP connections (then `create_databases` logs in)."""
    port = int(urlsplit(url).port or 5432)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise FederationError(f"PostgreSQL did not start on port {port}; see DIR/logs/postgres.log")


def create_databases(base_url: str, names: list[str], timeout_s: float = 60.0) -> None:
    """CREATE DATABASE each of `names` that does not exist yet on the server of `base_url`."""
    import psycopg

    dsn = base_url.replace("postgresql+psycopg://", "postgresql://", 1)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            connection = psycopg.connect(dsn, autocommit=True, connect_timeout=3)
            break
        except psycopg.OperationalError as exc:  # still starting up
            if time.monotonic() > deadline:
                raise FederationError(f"PostgreSQL does not accept connections: {exc}") from exc
            time.sleep(0.2)
    with connection:
        existing = {row[0] for row in connection.execute("SELECT datname FROM pg_database")}
        for name in names:
            if name not in existing:
                connection.execute(f'CREATE DATABASE "{name}"')  # names are ours, not input
