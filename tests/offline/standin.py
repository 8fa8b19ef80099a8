"""A stand-in issuer speaking the offline-code part of the Issuer HTTP API, on a real server.

It implements the contract's endpoints (bearer tokens, roles, error bodies, the answer's
`issuer`, `issuer_name` and `actor`) and signs real 7-day credentials with the session's issuer
key; what it is asked is recorded, to show what the print service forwards. Tests that need the
whole issuer (database, revocation) use the real one (tests/offline/test_with_issuer.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any

from fastapi import FastAPI, Header
from pydantic import BaseModel

from healthcode import (
    CodeKind,
    ErrorCode,
    RequestError,
    SigningKey,
    StatusColour,
    encode_numeric,
    mask_name,
    new_credential,
    sign_credential,
)
from healthcode.idnumber import make_id_number, parse_id_number, pseudonymous_subject
from healthcode.server import create_base_app
from tests.conftest import NOW, TEST_SUBJECT_SECRET

CITIZEN_TOKEN = "citizen-session-token-0123456789"
STAFF_TOKEN = "counter-staff-session-token-0123"
CITIZEN_ID = make_id_number("510104", date(1948, 3, 1), 123)
CITIZEN_ACTOR = f"citizen:{pseudonymous_subject(CITIZEN_ID, TEST_SUBJECT_SECRET)}"
STAFF_ACTOR = "counter_staff:counter-li"
ISSUER_NAME = "四川省卫生健康委员会"
DEPENDENTS = {
    "dep-grandchild": (
        make_id_number("510107", date(2016, 7, 9), 45),
        "李小明",
        StatusColour.GREEN,
    ),
    "dep-grandma": (make_id_number("510105", date(1940, 1, 2), 88), "王秀芳", StatusColour.YELLOW),
}
WALK_IN_ID = make_id_number("510106", date(1950, 5, 5), 7)


def many_dependents(count: int) -> dict[str, tuple[str, str, StatusColour]]:
    """`count` bound dependents with distinct ID numbers (a large household, a care home)."""
    return {
        f"dep-{index:03d}": (
            make_id_number("510104", date(1930 + index % 60, 1 + index % 12, 1), 100 + index),
            "赵一",
            StatusColour.GREEN,
        )
        for index in range(count)
    }


@dataclass
class StandInIssuer:
    """Records what it was asked; its answers can be made incomplete, as an old issuer's are."""

    key: SigningKey
    calls: list[tuple[str, str]] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    dependents: dict[str, tuple[str, str, StatusColour]] = field(
        default_factory=lambda: dict(DEPENDENTS)
    )
    issue_phone_codes: bool = False
    #: Answer fields to leave out (e.g. {"issuer_name"}, {"actor"}).
    omit: set[str] = field(default_factory=set)

    def answer(self, id_number: str, name: str, colour: StatusColour, actor: str) -> dict[str, Any]:
        resident = parse_id_number(id_number)
        credential = new_credential(
            issuer="cn-sc",
            subject=pseudonymous_subject(resident, TEST_SUBJECT_SECRET),
            status=colour,
            masked_name=mask_name(name),
            id_tail=resident.tail,
            kind=CodeKind.PHONE if self.issue_phone_codes else CodeKind.OFFLINE,
            now=NOW,
        )
        token = sign_credential(credential, self.key)
        answer = {
            "token": token,
            "qr_text": encode_numeric(token),
            "kind": credential.kind.value,
            "jti": credential.jti,
            "issuer": "cn-sc",
            "issuer_name": ISSUER_NAME,
            "actor": actor,
        }
        return {key: value for key, value in answer.items() if key not in self.omit}


class WalkIn(BaseModel):
    id_number: str
    name: str


def stand_in_issuer_app(issuer: StandInIssuer) -> FastAPI:
    app = create_base_app(title="stand-in issuer")

    def role_of(authorization: str | None, path: str) -> str:
        issuer.calls.append((path, authorization or ""))
        roles = {f"Bearer {CITIZEN_TOKEN}": "citizen", f"Bearer {STAFF_TOKEN}": "counter_staff"}
        role = roles.get(authorization or "")
        if role is None:
            raise RequestError(ErrorCode.UNAUTHENTICATED, "log in first")
        return role

    def need(role: str, wanted: str) -> None:
        if role != wanted:
            raise RequestError(ErrorCode.FORBIDDEN, f"this needs role {wanted}")

    @app.post("/v1/me/offline-code")
    def me(authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        need(role_of(authorization, "me"), "citizen")
        return issuer.answer(CITIZEN_ID, "张三丰", StatusColour.GREEN, CITIZEN_ACTOR)

    @app.get("/v1/family")
    def family(authorization: Annotated[str | None, Header()] = None) -> list[dict[str, Any]]:
        need(role_of(authorization, "family"), "citizen")
        return [
            {"dependent_ref": ref, "id_tail": number[-4:]}
            for ref, (number, _, _) in issuer.dependents.items()
        ]

    @app.post("/v1/family/{ref}/offline-code")
    def dependent(
        ref: str, authorization: Annotated[str | None, Header()] = None
    ) -> dict[str, Any]:
        need(role_of(authorization, f"family/{ref}"), "citizen")
        if ref not in issuer.dependents:
            raise RequestError(ErrorCode.NOT_FOUND, "no such dependent")
        number, name, colour = issuer.dependents[ref]
        return issuer.answer(number, name, colour, CITIZEN_ACTOR)

    @app.post("/v1/counter/offline-code")
    def counter(
        body: WalkIn, authorization: Annotated[str | None, Header()] = None
    ) -> dict[str, Any]:
        need(role_of(authorization, "counter"), "counter_staff")
        issuer.bodies.append(body.model_dump())
        return issuer.answer(body.id_number, body.name, StatusColour.RED, STAFF_ACTOR)

    return app
