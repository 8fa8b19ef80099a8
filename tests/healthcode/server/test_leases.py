"""Job leases: one replica at a time runs a once-per-round job; a dead holder's lease is
taken over after its ttl; a clean shutdown hands it over at once. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from sqlmodel import SQLModel

from healthcode.server.leases import MIN_LEASE_TTL_S, JobLease, Lease, lease_ttl
from tests.servers import postgres_schema

NOW = 1_800_000_000.0


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'leases.db'}"
        made = create_engine(url)
        SQLModel.metadata.create_all(made, tables=[JobLease.__table__])  # type: ignore[attr-defined]
        yield made
        made.dispose()
        return
    base = request.getfixturevalue("postgres_database_url")
    with postgres_schema(base) as url:
        made = create_engine(url)
        SQLModel.metadata.create_all(made, tables=[JobLease.__table__])  # type: ignore[attr-defined]
        yield made
        made.dispose()


def test_one_replica_holds_a_lease_and_renews_it(engine: Engine) -> None:
    first = Lease(engine, "job", ttl_s=30, holder="replica-1")
    second = Lease(engine, "job", ttl_s=30, holder="replica-2")
    assert first.acquire(now=NOW)
    assert not second.acquire(now=NOW)
    assert first.acquire(now=NOW + 20)  # renewed before it expired
    assert not second.acquire(now=NOW + 40)  # still held: the renewal moved the expiry
    # Other jobs have leases of their own.
    assert Lease(engine, "other-job", ttl_s=30, holder="replica-2").acquire(now=NOW)


def test_a_dead_holders_lease_is_taken_over_after_its_ttl(engine: Engine) -> None:
    dead = Lease(engine, "job", ttl_s=30, holder="replica-1")
    alive = Lease(engine, "job", ttl_s=30, holder="replica-2")
    assert dead.acquire(now=NOW)
    assert not alive.acquire(now=NOW + 29)
    assert alive.acquire(now=NOW + 31)
    assert not dead.acquire(now=NOW + 32)  # it came back: the lease is the other's now


def test_a_released_lease_is_free_at_once(engine: Engine) -> None:
    first = Lease(engine, "job", ttl_s=3600, holder="replica-1")
    second = Lease(engine, "job", ttl_s=3600, holder="replica-2")
    assert first.acquire(now=NOW)
    second.release()  # not the holder: changes nothing
    assert not second.acquire(now=NOW + 1)
    first.release()
    assert second.acquire(now=NOW + 2)


def test_a_lease_outlasts_a_slow_round() -> None:
    assert lease_ttl(0.05) == MIN_LEASE_TTL_S
    assert lease_ttl(3600) == 9000
    assert lease_ttl(60, rounds=3) == 180


def test_a_database_that_fails_takes_no_lease(tmp_path: Path) -> None:
    missing_table = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    lease = Lease(missing_table, "job", ttl_s=30)
    assert not lease.acquire(now=NOW)
    lease.release()  # logged, never raised
    with pytest.raises(ValueError, match="positive ttl"):
        Lease(missing_table, "job", ttl_s=0)
