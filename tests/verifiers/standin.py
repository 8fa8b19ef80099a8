"""A small real HTTP stand-in for a province issuer, for checkpoint tests.

It implements just the parts of the issuer HTTP API a checkpoint calls, signing with a real
key: `GET /v1/revocations?since=SEQ` (signed list), `POST /v1/checkpoint/status-lookup`
(device bearer token; local citizens answered here, others relayed to the home province's
`POST /partner/v1/status`) and `POST /partner/v1/status`. The partner call carries no client
assertion here (the real partner router checks one); everything else follows the contract.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from healthcode import CodeKind, ReasonCode, SigningKey, StatusColour, new_credential
from healthcode.credential import mask_name
from healthcode.idnumber import parse_id_number, pseudonymous_subject
from healthcode.jws import sign_compact, sign_credential
from healthcode.qr import encode_numeric

SUBJECT_SECRET = b"stand-in-subject-secret-0123456789"


@dataclass
class Citizen:
    name: str
    status: StatusColour
    reason: ReasonCode = ReasonCode.NONE


@dataclass
class StandInIssuer:
    issuer_id: str
    region: str
    key: SigningKey
    device_token: str = "device-token-of-the-checkpoint"
    citizens: dict[str, Citizen] = field(default_factory=dict)  # by ID number (test only)
    peers: dict[str, str] = field(default_factory=dict)  # province prefix -> base URL
    revoked: list[tuple[str, int]] = field(default_factory=list)  # (jti, exp), seq = index + 1
    lookups: list[dict[str, Any]] = field(default_factory=list)

    def credential_for(self, id_number: str, lifetime_s: int = 300) -> str:
        citizen = self.citizens[id_number]
        credential = new_credential(
            issuer=self.issuer_id,
            subject=pseudonymous_subject(id_number, SUBJECT_SECRET),
            status=citizen.status,
            reason=citizen.reason,
            masked_name=mask_name(citizen.name),
            id_tail=id_number[-4:],
            kind=CodeKind.PHONE,
            lifetime_s=lifetime_s,
        )
        return sign_credential(credential, self.key)

    def revocation_list(self, since: int) -> str:
        entries = [
            {"jti": jti, "exp": exp} for jti, exp in self.revoked[since:] if exp >= time.time()
        ]
        payload = {
            "iss": self.issuer_id,
            "seq": len(self.revoked),
            "issued_at": int(time.time()),
            "since": since,
            "entries": entries,
        }
        return sign_compact(orjson.dumps(payload), self.key, compress=False)

    def app(self) -> FastAPI:
        app = FastAPI()

        def error(status: int, code: str) -> JSONResponse:
            return JSONResponse({"error": code, "message": code}, status_code=status)

        @app.get("/v1/revocations")
        def revocations(since: int = 0) -> dict[str, str]:
            return {"revocation_list": self.revocation_list(since)}

        @app.post("/partner/v1/status")
        async def partner_status(request: Request) -> JSONResponse:
            body = await request.json()
            if body["id_number"] not in self.citizens:
                return error(404, "not_found")
            return JSONResponse({"credential": self.credential_for(body["id_number"])})

        @app.post("/v1/checkpoint/status-lookup")
        async def status_lookup(request: Request) -> JSONResponse:
            if request.headers.get("authorization") != f"Bearer {self.device_token}":
                return error(401, "unauthenticated")
            body = await request.json()
            number = body["id_number"]
            self.lookups.append({k: v for k, v in body.items() if k != "id_number"})
            resident = parse_id_number(number)
            if resident.province_code[:2] == self.region[:2]:
                citizen = self.citizens.get(number)
                if citizen is None or (body.get("name") and body["name"] != citizen.name):
                    return error(404, "not_found")
                token = self.credential_for(number)
                home = self.issuer_id
            else:
                peer = self.peers.get(resident.province_code[:2])
                if peer is None:
                    return error(422, "unknown_region")
                try:
                    async with httpx.AsyncClient(timeout=3) as client:
                        answer = await client.post(
                            peer + "/partner/v1/status",
                            json={"id_number": number, "name": body.get("name"), "purpose": "x"},
                        )
                except httpx.TransportError:
                    return error(503, "upstream_unavailable")
                if answer.status_code != 200:
                    return JSONResponse(answer.json(), status_code=answer.status_code)
                token = answer.json()["credential"]
                home = "relayed"
            return JSONResponse(
                {"token": token, "qr_text": encode_numeric(token), "home_issuer": home}
            )

        return app
