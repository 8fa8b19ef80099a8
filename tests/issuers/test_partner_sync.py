"""Partners' revocation feeds (standard §10.3-10.4): one partner's bad feed, or a database error
while applying it, never stops the others from syncing nor the background sync itself."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import select

from healthcode.credential import new_jti
from healthcode.keys import SigningKey
from healthcode.trust import TrustStore
from issuers.auth import Role
from issuers.cli import print_partner_sync
from issuers.models import IssuedCode, PartnerRevocationCursor
from issuers.partner_sync import (
    MAX_PARTNER_FEED_BYTES,
    STORE_FILE,
    PartnerRevocations,
    PartnerSyncReport,
)
from issuers.partner_sync import sync_partner_revocations as sync
from tests.issuers.conftest import IssuerService, citizen_number, make_settings, running_issuer
from tests.issuers.federation import two_provinces
from tests.issuers.helpers import PartnerFeedServer, lab_csv, recent

_MISSING = object()


def feed(partner_id: str, **changes: object) -> Callable[[], object]:
    """A §10.4 payload of `partner_id` (one unexpired entry) with `changes` made at each
    request; a change to `_MISSING` leaves the key out."""

    def payload() -> object:
        now = int(time.time())
        data: dict[str, object] = {
            "iss": partner_id,
            "seq": 1,
            "since": 0,
            "issued_at": now,
            "entries": [{"jti": "A" * 22, "exp": now + 3600}],
        }
        data.update(changes)
        return {key: value for key, value in data.items() if value is not _MISSING}

    return payload


#: partner id -> (its feed, what the log must say is wrong with it)
MALFORMED: dict[str, tuple[Callable[[], object], str]] = {
    "cn-entries-not-a-list": (feed("cn-entries-not-a-list", entries=7), "'entries' must be"),
    "cn-entry-not-an-object": (feed("cn-entry-not-an-object", entries=["x"]), "entry 0"),
    "cn-seq-text": (feed("cn-seq-text", seq="12"), "'seq' must be"),
    "cn-seq-bool": (feed("cn-seq-bool", seq=True), "'seq' must be"),
    "cn-seq-huge": (feed("cn-seq-huge", seq=10**30), "'seq' must be"),
    "cn-no-seq": (feed("cn-no-seq", seq=_MISSING, issued_at=_MISSING), "'seq' must be"),
    "cn-time-huge": (feed("cn-time-huge", issued_at=10**400), "'issued_at' must be"),
    "cn-exp-text": (
        feed("cn-exp-text", entries=[{"jti": "A" * 22, "exp": "tomorrow"}]),
        "entry 0: 'exp' must be",
    ),
    "cn-jti-huge": (
        feed("cn-jti-huge", entries=[{"jti": "A" * 100_000, "exp": 2_000_000_000}]),
        "entry 0: 'jti' must be",
    ),
    "cn-not-an-object": (lambda: [1, 2, 3], "not a JSON object"),
    "cn-feed-too-large": (
        feed("cn-feed-too-large", padding="x" * MAX_PARTNER_FEED_BYTES),
        "more than",
    ),
}


@contextlib.contextmanager
def partner_servers(feeds: dict[str, Callable[[], object]]) -> Iterator[list[PartnerFeedServer]]:
    servers = [PartnerFeedServer(partner_id, payload) for partner_id, payload in feeds.items()]
    try:
        yield servers
    finally:
        for server in servers:
            server.close()


def revoke_a_guangdong_code(guangdong: IssuerService, sequence: int) -> str:
    """A Guangdong citizen's code, revoked there by a positive test; returns its jti."""
    traveller = citizen_number(sequence, division="440106")
    guangdong.register(traveller, "卫十五")
    code = guangdong.http.get("/v1/me/code", headers=guangdong.citizen_headers(traveller)).json()
    imported = guangdong.http.post(
        "/v1/feeds/lab_results",
        content=lab_csv((traveller, "positive", "pcr", recent())),
        headers=guangdong.staff_headers(Role.HEALTH_OFFICIAL),
    )
    assert imported.json()["revoked"] >= 1, imported.text
    return str(code["jti"])


def refuse_cursor_of(service: IssuerService, partner_id: str) -> None:
    """Make the database itself fail (not a constraint: an arithmetic error) whenever the
    cursor of `partner_id` is written, and only then (SQLite)."""
    with service.context.engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TRIGGER refuse_partner_cursor BEFORE INSERT ON partnerrevocationcursor "
                f"WHEN NEW.issuer = '{partner_id}' "
                "BEGIN SELECT abs(-9223372036854775807 - 1); END"
            )
        )


@pytest.mark.usefixtures("redis_server")
def test_malformed_feeds_and_a_database_error_are_refused_per_partner(
    tmp_path: Path, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="issuers.partner_sync")
    feeds = {partner_id: payload for partner_id, (payload, _) in MALFORMED.items()}
    feeds["cn-database-fails"] = feed("cn-database-fails")
    with (
        partner_servers(feeds) as servers,
        two_provinces(
            tmp_path,
            redis_url,
            extra_partners=[server.entry() for server in servers],  # listed before cn-gd
            background_sync=False,  # only the test's own round, nothing concurrent
        ) as (sichuan, guangdong, trust),
    ):
        revoked_jti = revoke_a_guangdong_code(guangdong, 401)
        now = int(time.time())
        with sichuan.context.session() as session:
            transcoded = IssuedCode(
                jti=new_jti(),
                subject="s" * 22,
                kind="phone",
                issued_at=now,
                expires_at=now + 3600,
                token="t",
                source=f"cn-gd/{revoked_jti}",
            )
            session.add(transcoded)
            session.commit()
        refuse_cursor_of(sichuan, "cn-database-fails")
        store = PartnerRevocations.for_context(sichuan.context)
        partner_key = SigningKey.load(tmp_path / "cn-sc" / "partner.pem")

        report = sync(sichuan.context, trust, partner_key, store=store)

        assert (report.revoked, report.synced) == ({"cn-gd": 1}, ("cn-gd",))
        assert set(report.failed) == set(MALFORMED) | {"cn-database-fails"}
        for partner_id, (_, what) in MALFORMED.items():
            assert what in report.failed[partner_id], (partner_id, report.failed[partner_id])
        assert "OperationalError" in report.failed["cn-database-fails"]
        out, err = io.StringIO(), io.StringIO()
        assert print_partner_sync(report, out=out, err=err) == 1
        assert out.getvalue() == "cn-gd: synced, 1 transcoded codes revoked\n"
        assert f"{len(MALFORMED) + 1} of {len(MALFORMED) + 2} partners not synced" in err.getvalue()
        assert "cn-database-fails: NOT synced: unexpected OperationalError" in err.getvalue()

        assert revoked_jti in store.revoked("cn-gd")
        with sichuan.context.session() as session:
            stored = session.get(IssuedCode, transcoded.jti)
            cursors = {c.issuer for c in session.exec(select(PartnerRevocationCursor))}
        assert stored is not None
        assert stored.revoked_at is not None
        assert cursors == {"cn-gd"}
        on_disk = json.loads((sichuan.settings.trust_cache_dir / STORE_FILE).read_text())
        assert set(on_disk) <= {"cn-gd", "cn-database-fails"}  # a refused feed stores nothing
        assert all(server.requests >= 1 for server in servers)
    logged = [
        (record.levelno, record.getMessage())
        for record in caplog.records
        if record.name == "issuers.partner_sync"
    ]
    for partner_id, (_, what) in MALFORMED.items():
        assert any(
            f"revocations of {partner_id} not synced" in message and what in message
            for _, message in logged
        ), (partner_id, logged)
    assert any(
        level == logging.ERROR and "cn-database-fails" in message and "OperationalError" in message
        for level, message in logged
    ), logged


@pytest.mark.usefixtures("redis_server")
def test_the_background_sync_keeps_running_past_a_malformed_feed(
    tmp_path: Path, redis_url: str
) -> None:
    payload, _ = MALFORMED["cn-entries-not-a-list"]
    with (
        partner_servers({"cn-entries-not-a-list": payload}) as (bad,),
        two_provinces(
            tmp_path, redis_url, extra_partners=[bad.entry()], partner_sync_interval_s=0.2
        ) as (sichuan, guangdong, _trust),
    ):
        # Revoked after Sichuan's first rounds met the bad feed: a later round must bring it.
        wait_until(lambda: bad.requests >= 4, "rounds that met the malformed feed")
        revoked_jti = revoke_a_guangdong_code(guangdong, 402)
        store_file = sichuan.settings.trust_cache_dir / STORE_FILE

        def synced() -> bool:
            with contextlib.suppress(OSError, ValueError):
                return revoked_jti in json.loads(store_file.read_text())["cn-gd"]["revoked"]
            return False

        wait_until(synced, "Guangdong's revocation at Sichuan")


def test_the_background_sync_survives_an_unexpected_error_of_a_round(
    tmp_path: Path, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A round that fails outside any one partner (here the trust list cannot be read) is
    logged and the next round runs."""
    caplog.set_level(logging.ERROR, logger="issuers")
    key_file = tmp_path / "partner.pem"
    SigningKey.generate().save(key_file)
    settings = make_settings(
        tmp_path, redis_url, partner_key_file=key_file, partner_sync_interval_s=0.2
    )
    calls = 0
    with partner_servers({"cn-gd": feed("cn-gd")}) as (partner,):

        def trust() -> TrustStore:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise OSError("trust cache unreadable")
            return TrustStore([partner.entry()])

        with running_issuer(settings, trust=trust):
            wait_until(lambda: partner.requests >= 2, "rounds after the failed one")
    assert any(
        "partner revocation sync round failed" in record.getMessage() for record in caplog.records
    )


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_complete_round_exits_zero_and_names_each_partner() -> None:
    report = PartnerSyncReport(revoked={"cn-gd": 2}, failed={}, synced=("cn-gd", "cn-hb"))
    out, err = io.StringIO(), io.StringIO()
    assert print_partner_sync(report, out=out, err=err) == 0
    assert out.getvalue().splitlines() == [
        "cn-gd: synced, 2 transcoded codes revoked",
        "cn-hb: synced, 0 transcoded codes revoked",
    ]
    assert err.getvalue() == ""


def test_a_damaged_store_file_costs_only_the_damaged_partner(tmp_path: Path) -> None:
    """The file of partners' revocations (written by an older version, or damaged): a partner
    whose entry is not what the store writes has no data (stale; synced again from seq 0)
    instead of failing each of its syncs; the others keep theirs."""
    now = time.time()
    path = tmp_path / STORE_FILE
    path.write_text(
        json.dumps(
            {
                "cn-gd": {"seq": 4, "as_of": now, "revoked": {"A" * 22: int(now) + 60}},
                "cn-seq-text": {"seq": "x", "as_of": now, "revoked": {}},
                "cn-huge-seq": {"seq": 10**30, "as_of": now, "revoked": {}},
                "cn-not-an-object": [1],
            }
        )
    )
    store = PartnerRevocations(path)
    assert (store.seq("cn-gd"), store.fresh("cn-gd", now)) == (4, True)
    assert store.revoked("cn-gd") == {"A" * 22}
    for partner_id in ("cn-seq-text", "cn-huge-seq", "cn-not-an-object"):
        assert (store.seq(partner_id), store.fresh(partner_id, now)) == (0, False)
