"""An official's override ends (docs/rules.md §6), and future-dated events are looked at again."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime, timedelta

from healthcode.credential import StatusColour
from issuers.auth import Role
from issuers.corrections import Decision, decide_correction, file_correction
from issuers.feeds import FeedKind
from issuers.importer import import_feed
from issuers.store import citizen_by_subject, refresh_if_lapsed, status_history
from tests.issuers.conftest import IssuerService, citizen_number
from tests.issuers.helpers import lab_csv, recent

DAY = 86400


def import_lab(svc: IssuerService, *rows: tuple[str, str, str, str]) -> dict[str, object]:
    official = svc.staff_headers(Role.HEALTH_OFFICIAL)
    answer = svc.http.post("/v1/feeds/lab_results", content=lab_csv(*rows), headers=official)
    assert answer.status_code == 200, answer.text
    report: dict[str, object] = answer.json()
    return report


def override(svc: IssuerService, citizen: dict[str, str], colour: str, **extra: object) -> None:
    filed = svc.http.post("/v1/corrections", json={"reason": "mislabelled"}, headers=citizen)
    assert filed.status_code == 201, filed.text
    official = svc.staff_headers(Role.HEALTH_OFFICIAL)
    decided = svc.http.post(
        f"/v1/corrections/{filed.json()['id']}/decision",
        json={"decision": "accept", "note": "lab mix-up", "override_colour": colour, **extra},
        headers=official,
    )
    assert decided.status_code == 200, decided.text


def test_a_positive_test_after_an_override_turns_the_citizen_red(any_issuer: IssuerService) -> None:
    svc = any_issuer
    id_number = citizen_number(301)
    svc.register(id_number, "韩十八")
    citizen = svc.citizen_headers(id_number)
    import_lab(svc, (id_number, "positive", "pcr", recent(30)))
    assert svc.http.get("/v1/me", headers=citizen).json()["colour"] == "red"

    override(svc, citizen, "green")
    assert svc.http.get("/v1/me", headers=citizen).json()["colour"] == "green"
    # New evidence that makes only the default rule match leaves the override standing...
    import_lab(svc, (id_number, "negative", "pcr", recent(20)))
    me = svc.http.get("/v1/me", headers=citizen).json()
    assert (me["colour"], me["rule_id"]) == ("green", "official-override")
    # ...a new positive ends it: the rules decide again.
    report = import_lab(svc, (id_number, "positive", "pcr", recent(1)))
    assert report["status_changes"] == 1
    me = svc.http.get("/v1/me", headers=citizen).json()
    assert (me["colour"], me["rule_id"]) == ("red", "positive-pcr")

    official = svc.staff_headers(Role.HEALTH_OFFICIAL)
    history = svc.http.get(f"/v1/citizens/{svc.subject(id_number)}", headers=official).json()
    steps = [(h["colour"], h["rule_id"]) for h in history["history"]]
    assert steps == [
        ("green", "default"),
        ("red", "positive-pcr"),
        ("green", "official-override"),
        ("red", "positive-pcr"),
    ]
    assert "new evidence after the official decision" in history["history"][-1]["note"]


def test_an_override_expires_and_the_rules_decide_from_later_evidence_only(
    issuer: IssuerService,
) -> None:
    svc = issuer
    id_number = citizen_number(302)
    svc.register(id_number, "杨十九")
    subject = svc.subject(id_number)
    ctx = svc.context
    t0 = int(time.time())
    import_lab(svc, (id_number, "positive", "pcr", recent(2)))
    with ctx.session() as session:
        correction = file_correction(session, subject, filed_by="t", reason="wrong person")
        session.commit()
        decided, _ = decide_correction(
            ctx,
            session,
            int(correction.id or 0),
            decision=Decision.ACCEPT,
            note="confirmed mix-up",
            override_colour=StatusColour.YELLOW,
            override_days=3,
            official="health_official:o",
            now=t0,
        )
        session.commit()
    assert decided.override_until == t0 + 3 * DAY
    with ctx.session() as session:
        citizen = citizen_by_subject(session, subject)
        assert (citizen.colour, citizen.status_until) == ("yellow", t0 + 3 * DAY)
        assert refresh_if_lapsed(ctx, session, citizen, now=t0 + 3 * DAY - 1) == []
        assert citizen.colour == "yellow"
        refresh_if_lapsed(ctx, session, citizen, now=t0 + 3 * DAY)
        session.commit()
        # The positive before the decision was judged by the official: it no longer counts.
        assert (citizen.colour, citizen.rule_id) == ("green", "default")
        assert citizen.override_colour is None
        last = status_history(session, subject)[-1]
    assert (last.colour, last.actor) == ("green", "system:expiry")
    assert last.note is not None
    assert "expired" in last.note


def test_accepting_a_correction_without_override_counts_every_event_again(
    issuer: IssuerService,
) -> None:
    svc = issuer
    id_number = citizen_number(303)
    svc.register(id_number, "朱二十")
    citizen = svc.citizen_headers(id_number)
    import_lab(svc, (id_number, "positive", "pcr", recent(2)))
    override(svc, citizen, "green")
    assert svc.http.get("/v1/me", headers=citizen).json()["colour"] == "green"
    filed = svc.http.post("/v1/corrections", json={"reason": "re-check"}, headers=citizen)
    official = svc.staff_headers(Role.HEALTH_OFFICIAL)
    svc.http.post(
        f"/v1/corrections/{filed.json()['id']}/decision",
        json={"decision": "accept", "note": "the data stand; re-evaluated"},
        headers=official,
    )
    me = svc.http.get("/v1/me", headers=citizen).json()
    assert (me["colour"], me["rule_id"]) == ("red", "positive-pcr")


def test_override_days_without_a_colour_or_out_of_range_is_refused(issuer: IssuerService) -> None:
    id_number = citizen_number(304)
    issuer.register(id_number, "秦廿一")
    citizen = issuer.citizen_headers(id_number)
    filed = issuer.http.post("/v1/corrections", json={"reason": "x"}, headers=citizen).json()
    official = issuer.staff_headers(Role.HEALTH_OFFICIAL)
    for body in (
        {"decision": "accept", "note": "n", "override_days": 3},
        {"decision": "accept", "note": "n", "override_colour": "green", "override_days": 91},
        {"decision": "accept", "note": "n", "override_colour": "green", "override_days": 0},
    ):
        answer = issuer.http.post(
            f"/v1/corrections/{filed['id']}/decision", json=body, headers=official
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"] == "invalid_request"
    assert issuer.http.get("/v1/corrections", headers=official).json()[0]["state"] == "open"


def test_a_positive_dated_minutes_ahead_turns_the_citizen_red_when_it_begins(
    any_issuer: IssuerService,
) -> None:
    """Feeds accept times up to 5 minutes ahead; such a row must not be forgotten."""
    svc = any_issuer
    id_number = citizen_number(305)
    svc.register(id_number, "许廿二")
    citizen = svc.citizen_headers(id_number)
    # The import ran 10 minutes ago and the lab's clock was 3 minutes ahead of ours.
    imported_at = int(time.time()) - 600
    sampled = datetime.fromtimestamp(imported_at + 180, UTC).isoformat()
    data = lab_csv((id_number, "positive", "pcr", sampled)).decode()
    report = import_feed(
        svc.context,
        io.StringIO(data, newline=""),
        FeedKind.LAB_RESULTS,
        actor="test",
        now=imported_at,
    )
    assert (report.accepted, report.status_changes) == (1, 0)
    with svc.context.session() as session:
        assert citizen_by_subject(session, svc.subject(id_number)).status_until == (
            imported_at + 180
        )
    me = svc.http.get("/v1/me", headers=citizen).json()
    assert (me["colour"], me["reason"]) == ("red", "positive_test")


def test_a_visit_declared_for_tomorrow_is_evaluated_when_the_day_begins(
    issuer: IssuerService,
) -> None:
    id_number = citizen_number(306)
    issuer.register(id_number, "何廿三")
    headers = issuer.citizen_headers(id_number)
    tomorrow = (datetime.now(UTC) + timedelta(hours=8) + timedelta(days=1)).date()
    declared = issuer.http.post(
        "/v1/me/declarations",
        json={"kind": "itinerary", "data": {"area_code": "510104", "visited_on": str(tomorrow)}},
        headers=headers,
    )
    assert declared.status_code == 201, declared.text
    with issuer.context.session() as session:
        until = citizen_by_subject(session, issuer.subject(id_number)).status_until
    start = datetime(tomorrow.year, tomorrow.month, tomorrow.day) - timedelta(hours=8)
    assert until == int(start.replace(tzinfo=UTC).timestamp())
