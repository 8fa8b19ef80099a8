"""The issuer's factory builds every included route before it serves: a request on the
serving thread builds none (two issuers of one process once raced building them)."""

from __future__ import annotations

from tests.issuers.conftest import IssuerService, citizen_number
from tests.servers import route_building_forbidden


def test_a_started_issuer_builds_no_route_while_serving(issuer: IssuerService) -> None:
    citizen = issuer.citizen_headers(citizen_number(1))
    with route_building_forbidden() as attempts:
        config = issuer.http.get("/v1/app/config")
        history = issuer.http.get("/v1/me/history", headers=citizen)
        anonymous = issuer.http.get("/v1/me/history")
        partner = issuer.http.get("/partner/v1/revocations")
        schema = issuer.http.get("/openapi.json")
    assert config.status_code == 200
    assert config.json()["issuer_id"] == issuer.settings.issuer_id
    assert history.status_code == 200, history.text
    # Refusals pass through the same routing (the header dependency that raced is built).
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "unauthenticated"
    assert partner.status_code == 401, partner.text
    assert "/v1/me/history" in schema.json()["paths"]
    assert attempts == []
