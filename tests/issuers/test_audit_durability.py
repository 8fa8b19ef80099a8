"""No acknowledged audit event is lost when the issuer is killed with `kill -9` mid-load.

A real `python -m issuers serve` process answers citizens' code reads (most from the hot cache,
audited by the group commit) from several client threads; it is killed with SIGKILL while
requests are in flight. Every read a client got a 200 for must be in the audit log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import httpx
import redis
from sqlalchemy import func
from sqlmodel import Session, col, create_engine, select

from issuers.auth import Principal, Role, open_session
from issuers.context import IssuerContext
from issuers.hotcache import code_key
from issuers.models import AuditEntry
from issuers.owncode import READ_CODE
from issuers.store import register_citizen
from tests.issuers.conftest import (
    TEST_SUBJECT_SECRET,
    TEST_TOKEN_SECRET,
    citizen_number,
    make_settings,
)
from tests.servers import free_port, wait_for_port

CITIZENS = 12
CLIENTS = 6
#: Kill after this many acknowledged reads (the cache is warm well before).
KILL_AFTER = 400


def _citizens(context: IssuerContext) -> dict[str, str]:
    """Registered citizens with open logins: subject -> access token."""
    tokens = {}
    with context.session() as session:
        for sequence in range(CITIZENS):
            citizen, _ = register_citizen(
                context,
                session,
                id_number=citizen_number(100 + sequence),
                name="赵六",
                phone=None,
                actor="test",
            )
            principal = Principal(role=Role.CITIZEN, subject=citizen.subject)
            tokens[citizen.subject] = open_session(
                session, principal, TEST_TOKEN_SECRET.encode(), 3600
            )
        session.commit()
    return tokens


def test_acknowledged_reads_are_audited_across_kill_9(
    tmp_path: Path, redis_url: str, database_url: str
) -> None:
    from issuers.db import migrate

    settings = make_settings(tmp_path, redis_url, database_url=database_url)
    migrate(database_url)
    context = IssuerContext.create(settings)
    try:
        tokens = _citizens(context)
    finally:
        context.close()
    port = free_port()
    environment = {
        **os.environ,
        "HC_ISSUER_PORT": str(port),
        "HC_ISSUER_DATABASE_URL": database_url,
        "HC_ISSUER_REDIS_URL": redis_url,
        "HC_ISSUER_KEY_DIR": str(settings.key_dir),
        "HC_ISSUER_TOKEN_SECRET": TEST_TOKEN_SECRET,
        "HC_ISSUER_SUBJECT_SECRET": TEST_SUBJECT_SECRET,
        "HC_ISSUER_TRUST_CACHE_DIR": str(tmp_path / "trust-cache"),
        "HC_ISSUER_REDIS_RETRY_INTERVAL_S": "0.2",
        "HC_ISSUER_LOG_LEVEL": "warning",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "issuers", "serve"], env=environment, cwd=tmp_path
    )
    acknowledged: Counter[str] = Counter()
    lock = threading.Lock()
    enough = threading.Event()

    def client(offset: int) -> None:
        subjects = list(tokens)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            turn = offset
            while True:
                subject = subjects[turn % len(subjects)]
                turn += 1
                try:
                    answer = http.get(
                        "/v1/me/code", headers={"Authorization": f"Bearer {tokens[subject]}"}
                    )
                except httpx.TransportError:
                    return  # killed
                assert answer.status_code == 200, answer.text
                with lock:
                    acknowledged[subject] += 1
                    if sum(acknowledged.values()) >= KILL_AFTER:
                        enough.set()

    try:
        wait_for_port(port, timeout=60)
        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        assert enough.wait(300), "the issuer did not answer enough reads"
        # Reads are in flight on every client thread at this moment.
        server.send_signal(signal.SIGKILL)
        server.wait(30)
        for thread in threads:
            thread.join(60)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(30)
    cache = redis.Redis.from_url(redis_url)
    try:
        cached = sum(bool(cache.exists(code_key("cn-sc", subject))) for subject in tokens)
    finally:
        cache.close()
    assert cached == CITIZENS, "the reads were not served by the hot path's cache"
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            rows = session.exec(
                select(AuditEntry.subject, func.count())
                .where(AuditEntry.action == READ_CODE, col(AuditEntry.subject).in_(list(tokens)))
                .group_by(AuditEntry.subject)
            ).all()
    finally:
        engine.dispose()
    audited = {subject: count for subject, count in rows}
    assert sum(acknowledged.values()) >= KILL_AFTER
    for subject, count in acknowledged.items():
        assert audited.get(subject, 0) >= count, (subject, audited.get(subject), count)
