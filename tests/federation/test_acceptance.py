"""Issue 4 acceptance against the running federation: real processes on loopback ports.

`healthcode federation up` starts Redis, the registry, Sichuan (cn-sc), Guangdong (cn-gd) and a
checkpoint configured for Sichuan; one federation serves the whole module. Everything below
talks to them over HTTP (or `healthcode federation stop|start`), as a partner province, a
checkpoint or an operator would. Settings shortened for the test run are passed through the
environment of `federation up`: the timestamp interval, the key activation delay and the
partner rate limit; every bound asserted is the documented one for those settings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from healthcode import ErrorCode, SigningKey, StatusColour, TrustListError, verify_credential
from healthcode.keys import b64url_decode, b64url_encode
from healthcode.partner import make_client_assertion
from healthcode.trustclient import TrustListClient
from healthcode.trustlist import TrustListState, load_root
from tests.federation.demo_client import Federation
from tests.servers import demo_federation

START_TIMEOUT_S = 240
#: §10.7: a remote checkpoint shows a status change within the 60 s cache plus request time.
STATUS_CHANGE_DEADLINE_S = 60 + 10
#: §7.6: the checkpoint refreshes its trust list every 30 s +-20 %, plus request time.
CHECKPOINT_REFRESH_BOUND_S = 36 + 10
#: §10.1: a callee notices a suspended partner within its refresh interval, 60 s +-20 %.
SUSPENSION_BOUND_S = 72 + 10
#: §10.3: the issuer syncs partners' revocations every 60 s; the checkpoint sees its own
#: province's revocations in Redis at once (ADR 0006).
TRANSCODE_REVOCATION_BOUND_S = 60 + 20
SETTINGS = {
    "HC_INTEROP_TIMESTAMP_INTERVAL_S": "5",
    "HC_INTEROP_KEY_ACTIVATION_DELAY_S": "45",  # > the checkpoint's refresh bound (36 s)
    "HC_ISSUER_PARTNER_RATE_LIMIT_PER_MINUTE": "100",
}


def _until(deadline_s: float, probe: Any, what: str) -> tuple[Any, float]:
    """Poll `probe()` until it returns a truthy value; (value, seconds it took)."""
    started = time.monotonic()
    while True:
        value = probe()
        if value:
            return value, time.monotonic() - started
        if time.monotonic() - started > deadline_s:
            raise AssertionError(f"{what}: not within {deadline_s} s")
        time.sleep(1)


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    directory = tmp_path_factory.mktemp("federation") / "demo"
    with demo_federation(directory, env=SETTINGS) as urls:
        running = Federation(directory, urls)
        try:
            yield running
        finally:
            running.http.close()


def _citizen(federation: Federation, province: str, colour: str, index: int = 0) -> dict[str, Any]:
    found: dict[str, Any] = [
        c for c in federation.logins(province)["citizens"] if c["colour"] == colour
    ][index]
    return found


def test_every_service_serves_its_openapi_document(federation: Federation) -> None:
    for url in [federation.registry, *federation.provinces.values(), federation.checkpoint]:
        answer = federation.http.get(f"{url}/openapi.json")
        assert answer.status_code == 200, url
        assert answer.json()["openapi"].startswith("3.")
    partner = federation.http.get(f"{federation.provinces['cn-sc']}/openapi.json").json()
    status_body = partner["paths"]["/partner/v1/status"]["post"]["requestBody"]
    assert "name" in status_body["content"]["application/json"]["schema"]["required"]


def test_code_of_a_verifies_at_b_with_the_registry_list(
    federation: Federation, tmp_path: Path
) -> None:
    text = federation.counter_code("cn-gd", _citizen(federation, "cn-gd", "green"))
    answer = federation.scan(text)
    assert answer["valid"] is True, answer
    assert (answer["issuer"], answer["status"]) == ("cn-gd", "green")
    assert answer["checks"]["trust_list"] == "passed"
    # The same trust list, fetched and verified by a partner's own client.
    with TrustListClient(federation.registry, federation.root(), tmp_path / "cache") as client:
        client.refresh()
        assert verify_credential(text, client.current()).valid


def _signed(document: bytes) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(document)
    return parsed


def test_trust_list_attacks_are_refused(federation: Federation) -> None:
    newest = federation.http.get(f"{federation.registry}/v1/trust-list").content
    first = federation.http.get(f"{federation.registry}/v1/trust-list/1").content
    root = load_root(federation.root().read_bytes())

    def offer(document: bytes | str, now: float | None = None) -> ErrorCode:
        state = TrustListState(root)
        state.update(newest, time.time())
        try:
            state.update(
                document.encode() if isinstance(document, str) else document,
                time.time() if now is None else now,
            )
        except TrustListError as error:
            return error.code
        raise AssertionError("accepted")

    # (a) an older list replayed: rollback
    assert offer(first) is ErrorCode.TRUST_LIST_ROLLBACK
    envelope = _signed(newest)
    # (b) one byte of the payload changed
    payload = bytearray(b64url_decode(envelope["payload"]))
    payload[payload.index(b'"cn-gd"') + 2] ^= 0x01
    tampered = {**envelope, "payload": b64url_encode(bytes(payload))}
    assert offer(json.dumps(tampered)) is ErrorCode.TRUST_LIST_BAD_SIGNATURE
    # (c) signed by a key that is not a root key
    stranger = SigningKey.generate()
    from healthcode.trustlist import TRUST_LIST_TYP, peek_payload, sign_document

    forged = sign_document(dict(peek_payload(newest)), [stranger], TRUST_LIST_TYP)
    assert offer(json.dumps(forged)) is ErrorCode.TRUST_LIST_UNKNOWN_ROOT_KEY
    # (d) fewer root keys than the threshold, and one key counted twice
    one = {**envelope, "signatures": envelope["signatures"][:1]}
    assert offer(json.dumps(one)) is ErrorCode.TRUST_LIST_THRESHOLD
    twice = {**envelope, "signatures": envelope["signatures"][:1] * 2}
    assert offer(json.dumps(twice)) is ErrorCode.TRUST_LIST_THRESHOLD
    # (e) an expired list offered (freeze): the registry's own list, past its expiry
    state = TrustListState(root)
    with pytest.raises(TrustListError) as excinfo:
        state.update(newest, time.time() + 8 * 86400)
    assert excinfo.value.code is ErrorCode.TRUST_LIST_EXPIRED


def test_partner_assertion_attacks_are_refused(federation: Federation) -> None:
    # A key not in the trust list.
    unknown = federation.partner_call("cn-gd", "cn-sc", "/revocations", key=SigningKey.generate())
    assert (unknown.status_code, unknown.json()["error"]) == (401, "assertion_invalid")
    # The same assertion twice.
    audience = f"{federation.provinces['cn-sc']}/partner/v1"
    assertion = make_client_assertion(
        federation.partner_key("cn-gd"), partner="cn-gd", audience=audience
    )
    first = federation.partner_call("cn-gd", "cn-sc", "/revocations", assertion=assertion)
    assert first.status_code == 200, first.text
    again = federation.partner_call("cn-gd", "cn-sc", "/revocations", assertion=assertion)
    assert (again.status_code, again.json()["error"]) == (401, "assertion_replayed")
    # §10.2: no name, no answer (and a wrong name is the unknown-citizen answer).
    citizen = _citizen(federation, "cn-sc", "green")
    nameless = federation.partner_call(
        "cn-gd", "cn-sc", "/status", {"id_number": citizen["id_number"], "purpose": "test"}
    )
    assert (nameless.status_code, nameless.json()["error"]) == (422, "invalid_request")
    wrong = federation.partner_call(
        "cn-gd",
        "cn-sc",
        "/status",
        {"id_number": citizen["id_number"], "name": "无此人", "purpose": "test"},
    )
    assert (wrong.status_code, wrong.json()["error"]) == (404, "not_found")


def test_transcoding_a_to_b_and_revoking_the_source(federation: Federation) -> None:
    citizen = _citizen(federation, "cn-gd", "green", 0)
    source = federation.counter_code("cn-gd", citizen)
    answer = federation.partner_call(
        "cn-gd", "cn-sc", "/transcode", {"credential": source, "purpose": "cross-border"}
    )
    assert answer.status_code == 200, answer.text
    local = answer.json()["qr_text"]
    scanned = federation.scan(local)
    assert scanned["valid"] is True, scanned
    assert scanned["issuer"] == "cn-sc"
    source_claims = federation.verify(source).credential
    local_claims = federation.verify(local).credential
    assert local_claims.source == f"cn-gd/{source_claims.jti}"
    assert local_claims.status == source_claims.status

    # Guangdong revokes the source (the citizen tests positive).
    federation.import_positive_test("cn-gd", citizen)
    # Sichuan's partner sync revokes the code it transcoded; its checkpoint shows it.
    result, _ = _until(
        TRANSCODE_REVOCATION_BOUND_S,
        lambda: (lambda r: r if r["error"] == "revoked" else None)(federation.scan(local)),
        "the transcoded code revoked",
    )
    assert result["valid"] is False
    # The revoked source no longer transcodes (checked against the synced revocations).
    again = federation.partner_call("cn-gd", "cn-sc", "/transcode", {"credential": source})
    assert (again.status_code, again.json()["error"]) == (422, "revoked")


def test_status_change_in_a_reaches_b_id_card_reads(federation: Federation) -> None:
    traveller = _citizen(federation, "cn-gd", "green", 1)
    first = federation.id_card(traveller)
    assert first["display"] == StatusColour.GREEN.value, first
    assert first["home_issuer"] == "cn-gd"

    federation.import_positive_test("cn-gd", traveller)
    seen, _ = _until(
        STATUS_CHANGE_DEADLINE_S,
        lambda: (lambda r: r if r["display"] == StatusColour.RED.value else None)(
            federation.id_card(traveller)
        ),
        "B's ID-card read turning red",
    )
    assert seen["reason"] == "positive_test"


def test_rotation_then_emergency_revocation(federation: Federation, tmp_path: Path) -> None:
    old = federation.counter_code("cn-sc", _citizen(federation, "cn-sc", "green"))
    old_kid = federation.verify(old).kid
    secrets = json.loads((federation.directory / "secrets.json").read_text())
    env = {
        **os.environ,
        "HC_ISSUER_DEMO_MODE": "true",
        "HC_ISSUER_ISSUER_ID": "cn-sc",
        "HC_ISSUER_REGION": "510000",
        "HC_ISSUER_DATABASE_URL": f"sqlite:///{federation.directory / 'cn-sc' / 'issuer.db'}",
        "HC_ISSUER_KEY_DIR": str(federation.directory / "cn-sc" / "keys"),
        "HC_ISSUER_REGISTRY_URL": federation.registry,
        "HC_ISSUER_SUBJECT_SECRET": secrets["cn-sc_subject_secret"],
        "HC_ISSUER_TOKEN_SECRET": secrets["cn-sc_token_secret"],
    }
    rotated = subprocess.run(
        [sys.executable, "-m", "healthcode.cli", "issuer", "rotate-key"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert rotated.returncode == 0, rotated.stderr
    # §7.4: the new key waits for verifiers; codes issued now still carry the old key.
    pending = federation.counter_code("cn-sc", _citizen(federation, "cn-sc", "red"))
    assert federation.verify(pending).kid == old_kid

    def new_code() -> str | None:
        text = federation.counter_code("cn-sc", _citizen(federation, "cn-sc", "red"))
        return text if federation.verify(text).kid != old_kid else None

    fresh, waited = _until(45 + 30, new_code, "codes signed by the new key")
    assert waited >= 30  # it waited for the activation delay (45 s after publication)
    # The checkpoint knew the new key before the issuer signed with it (§7.4).
    assert federation.scan(fresh)["valid"] is True
    assert federation.scan(old)["valid"] is True  # retired: old codes verify until they expire

    # Emergency revocation of the old key: its codes fail at once (next refresh).
    revoked = federation.admin(
        f"/v1/admin/issuers/cn-sc/keys/{old_kid}/revoke", {"reason": "acceptance test"}
    )
    assert revoked.status_code == 200, revoked.text
    result, _ = _until(
        CHECKPOINT_REFRESH_BOUND_S,
        lambda: (lambda r: r if r["error"] == "key_revoked" else None)(federation.scan(old)),
        "the revoked key's code refused",
    )
    assert result["valid"] is False
    assert federation.scan(
        federation.counter_code("cn-sc", _citizen(federation, "cn-sc", "green"))
    )["valid"]


def test_clock_set_back_a_day_is_refused_at_the_checkpoint(federation: Federation) -> None:
    listed = _signed(federation.http.get(f"{federation.registry}/v1/trust-list").content)
    from healthcode.trustlist import peek_payload

    signed_at = peek_payload(listed)["signed_at"]
    # The timestamp moves the checkpoint's trusted time past the list's own signed time while
    # the list is unchanged (304s): the registry re-signs freshness on its schedule.
    status, _ = _until(
        CHECKPOINT_REFRESH_BOUND_S + 10,
        lambda: (lambda s: s if (s["trust_list"].get("trusted_time") or "") > signed_at else None)(
            federation.status()
        ),
        "trusted time beyond the list's signed_at",
    )
    assert status["trust_list"]["timestamp_version"] is not None
    text = federation.counter_code("cn-gd", _citizen(federation, "cn-gd", "green", 2))
    federation.control("start", "checkpoint", "--clock-offset", str(-86400))
    try:
        answer = federation.scan(text)
        assert answer["valid"] is False
        assert answer["error"] == "clock_behind", answer
    finally:
        federation.control("start", "checkpoint")


def test_checkpoint_keeps_verifying_when_the_registry_is_gone(federation: Federation) -> None:
    text = federation.counter_code("cn-gd", _citizen(federation, "cn-gd", "red"))
    federation.control("stop", "registry")
    try:
        # The checkpoint restarts while the registry is down: it starts from its disk cache.
        federation.control("start", "checkpoint")
        answer = federation.scan(text)
        assert answer["valid"] is True, answer
        assert answer["status"] == "red"
        # The trusted time came back from disk too: a clock set back a day is still caught.
        federation.control("start", "checkpoint", "--clock-offset", str(-86400))
        assert federation.scan(text)["error"] == "clock_behind"
    finally:
        federation.control("start", "registry")
        federation.control("start", "checkpoint")


def test_suspended_issuer_and_partner_are_refused_within_the_bound(
    federation: Federation,
) -> None:
    text = federation.counter_code("cn-gd", _citizen(federation, "cn-gd", "green", 2))
    assert federation.partner_call("cn-gd", "cn-sc", "/revocations").status_code == 200
    suspended = federation.admin("/v1/admin/issuers/cn-gd/suspend", {"reason": "acceptance"})
    assert suspended.status_code == 200, suspended.text
    try:
        started = time.monotonic()
        _until(
            CHECKPOINT_REFRESH_BOUND_S,
            lambda: (lambda r: r if r["error"] == "issuer_suspended" else None)(
                federation.scan(text)
            ),
            "the suspended issuer's code refused",
        )
        refused, _ = _until(
            SUSPENSION_BOUND_S - (time.monotonic() - started),
            lambda: (lambda r: r if r.status_code == 401 else None)(
                federation.partner_call("cn-gd", "cn-sc", "/revocations")
            ),
            "the suspended partner refused",
        )
        assert refused.json()["error"] == "assertion_invalid"
    finally:
        federation.admin("/v1/admin/issuers/cn-gd/reinstate", {"reason": "acceptance done"})


def test_partner_over_its_rate_limit_gets_429(federation: Federation) -> None:
    # Sichuan calls Guangdong (Guangdong is reinstated at Guangdong itself: its own entry).
    # The limit counts per clock minute (a fixed window): calls that straddle a minute's end
    # split between two windows, so up to twice the limit, plus one, may pass before a 429.
    limit = int(SETTINGS["HC_ISSUER_PARTNER_RATE_LIMIT_PER_MINUTE"])
    answers = []
    for _ in range(2 * limit + 1):
        answers.append(federation.partner_call("cn-sc", "cn-gd", "/revocations").status_code)
        if answers[-1] == 429:
            break
    assert answers[-1] == 429, answers
    assert set(answers[:-1]) <= {200}, answers
    refused = federation.partner_call("cn-sc", "cn-gd", "/revocations")
    assert refused.status_code == 429
    assert refused.json()["error"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
