"""Custodian tokens over HTTP on SQLite and PostgreSQL: issue, list, revoke, expiry, the audit
trail; and what a custodian's RSF patch may hold (records only), with the field rule every
definition path shares."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from civicstack._crypto import sha256_digest
from civicstack.api.app import create_app, wrap
from civicstack.platform import Platform
from civicstack.registers import Item
from civicstack.settings import Settings
from civicstack.testing import FixedClock

GOOD = Path(__file__).resolve().parent.parent / "vectors" / "registers" / "good"
COLOUR = (GOOD / "colour.rsf").read_bytes()
SHADE = (GOOD / "shade.rsf").read_bytes()
R = "/registers"
T0 = 1_800_000_000


@dataclass
class Api:
    """A client of the platform app with an injected clock."""

    platform: Platform
    client: TestClient
    admin: dict[str, str]
    clock: FixedClock

    def issue(self, name: str = "shade", **body: Any) -> dict[str, Any]:
        """Issue a custodian token for ``name`` as the admin; the answer's JSON."""
        r = self.client.post(
            f"{R}/{name}/custodian-tokens", json={"label": "desk", **body}, headers=self.admin
        )
        assert r.status_code == 201, r.text
        answer: dict[str, Any] = r.json()
        return answer

    def write(self, token: str, key: str = "grey", name: str = "shade") -> Any:
        """Append one record with ``token``."""
        return self.client.post(
            f"{R}/{name}/entries",
            json={"entries": [{"key": key, "item": {name: key}}]},
            headers={"Authorization": f"Bearer {token}"},
        )

    def patch(self, token: str, lines: list[str], name: str = "colour") -> Any:
        """Post an RSF patch with ``token``."""
        return self.client.post(
            f"{R}/{name}/rsf",
            content=("\n".join(lines) + "\n").encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "text/plain"},
        )


def _platform(database_url: str, tmp_path: Path, clock: FixedClock) -> Platform:
    settings = Settings.from_env(
        {"CIVIC_DATA_DIR": str(tmp_path), "CIVIC_DATABASE_URL": database_url}
    )
    return Platform(settings, clock=clock)


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    """The platform app over a fresh database holding the colour and shade registers."""
    clock = FixedClock(T0)
    platform = _platform(database_url, tmp_path, clock)
    platform.migrate()
    platform.registers.import_rsf({"colour": COLOUR, "shade": SHADE})
    client = TestClient(
        wrap(create_app(platform), max_body=64 * 1024), raise_server_exceptions=False
    )
    yield Api(platform, client, {"Authorization": f"Bearer {platform.admin_token}"}, clock)
    client.close()
    platform.close()


def _problem(r: Any, status: int, code: str) -> None:
    assert (r.status_code, r.json()["code"]) == (status, code), r.text
    assert r.headers["content-type"] == "application/problem+json"


def _system(key: str, fields: dict[str, Any]) -> list[str]:
    item = Item.of(fields)
    return [
        f"add-item\t{item.text()}",
        f"append-entry\tsystem\t{key}\t2026-01-01T00:00:00Z\t{item.hash}",
    ]


# -- custodian tokens -------------------------------------------------------------------------


def test_issuing_keeps_the_pinned_answer_and_adds_the_record(api: Api) -> None:
    """POST /{name}/custodian-tokens still answers register and token, now with the id, label,
    and the default expiry (90 days) or the one asked for."""
    issued = api.issue(label="shade desk")
    assert issued["register"] == "shade"
    assert issued["token"].startswith("civic_reg_")
    assert issued["id"].startswith("ct_")
    assert issued["id"] not in issued["token"]
    assert (issued["label"], issued["state"], issued["created_at"]) == ("shade desk", "active", T0)
    assert issued["expires_at"] == T0 + 90 * 24 * 3600
    assert api.issue(expires_in=60)["expires_at"] == T0 + 60
    assert api.write(issued["token"]).status_code == 201


def test_a_revoked_token_writes_no_more_in_any_process(
    api: Api, database_url: str, tmp_path: Path
) -> None:
    """A token revoked through another platform instance on the same database (another worker)
    is refused at its next write here: 401 token_revoked, and nothing is written."""
    issued = api.issue()
    assert api.write(issued["token"], "grey").status_code == 201
    other = _platform(database_url, tmp_path, api.clock)
    try:
        with TestClient(create_app(other), raise_server_exceptions=False) as client:
            r = client.post(f"{R}/-/custodian-tokens/{issued['id']}/revoke", headers=api.admin)
            assert r.status_code == 200
            assert (r.json()["state"], r.json()["revoked_at"]) == ("revoked", T0)
            assert r.json()["revoked_by"] == "admin"
    finally:
        other.close()
    before = api.client.get(f"{R}/shade").json()
    _problem(api.write(issued["token"], "silver"), 401, "token_revoked")
    assert api.client.get(f"{R}/shade").json() == before
    # Revoking again changes nothing (and records nothing).
    again = api.client.post(f"{R}/-/custodian-tokens/{issued['id']}/revoke", headers=api.admin)
    assert (again.status_code, again.json()["revoked_at"]) == (200, T0)


def test_an_expired_token_is_refused(api: Api) -> None:
    """A token writes until its expiry and not from then on: 401 token_expired."""
    issued = api.issue(expires_in=60)
    api.clock.advance(59)
    assert api.write(issued["token"], "grey").status_code == 201
    api.clock.advance(1)
    before = api.client.get(f"{R}/shade").json()
    _problem(api.write(issued["token"], "silver"), 401, "token_expired")
    assert api.client.get(f"{R}/shade").json() == before
    listed = api.client.get(f"{R}/shade/custodian-tokens", headers=api.admin).json()["tokens"]
    assert [t["state"] for t in listed] == ["expired"]


def test_the_default_lifetime_is_configurable(database_url: str, tmp_path: Path) -> None:
    """CIVIC_CUSTODIAN_TOKEN_LIFETIME sets a new token's lifetime; 0 issues tokens that never
    expire."""
    for lifetime, expected in (("3600", T0 + 3600), ("0", None)):
        settings = Settings.from_env(
            {
                "CIVIC_DATA_DIR": str(tmp_path / lifetime),
                "CIVIC_DATABASE_URL": database_url,
                "CIVIC_CUSTODIAN_TOKEN_LIFETIME": lifetime,
            }
        )
        platform = Platform(settings, clock=FixedClock(T0))
        try:
            platform.migrate()
            if lifetime == "3600":
                platform.registers.import_rsf({"shade": SHADE})
            _, token = platform.registers.issue_custodian("shade", label="x", now=T0)
            assert token.expires_at == expected
        finally:
            platform.close()


def test_listings_show_no_secret(api: Api) -> None:
    """Every listing (all, per register, one) shows ids and states, never a secret or its hash."""
    shade, colour = api.issue(), api.issue("colour", label="paint")
    answers = [
        api.client.get(f"{R}/-/custodian-tokens", headers=api.admin),
        api.client.get(f"{R}/shade/custodian-tokens", headers=api.admin),
        api.client.get(f"{R}/-/custodian-tokens/{shade['id']}", headers=api.admin),
        api.client.get(f"{R}/-/custodian-events", headers=api.admin),
    ]
    for r in answers:
        assert r.status_code == 200
        assert r.headers["cache-control"] == "no-store"
        for secret in (shade["token"], colour["token"]):
            assert secret not in r.text
            assert sha256_digest(secret.encode()).hex() not in r.text
            assert "token_hash" not in r.text
    everyone = answers[0].json()["tokens"]
    assert {(t["id"], t["register"]) for t in everyone} == {
        (shade["id"], "shade"),
        (colour["id"], "colour"),
    }
    assert [t["id"] for t in answers[1].json()["tokens"]] == [shade["id"]]
    assert answers[2].json()["label"] == "desk"


def test_the_audit_trail_records_issue_revocation_and_refused_writes(api: Api) -> None:
    """Issued, revoked and a refused write with the revoked token are events, oldest first,
    with actor and time; filters by register and token."""
    issued = api.issue()
    api.issue("colour")
    api.clock.advance(10)
    api.client.post(f"{R}/-/custodian-tokens/{issued['id']}/revoke", headers=api.admin)
    api.clock.advance(5)
    api.write(issued["token"])
    r = api.client.get(f"{R}/-/custodian-events?token={issued['id']}", headers=api.admin)
    events = [(e["event"], e["at"], e["actor"], e["register"]) for e in r.json()["events"]]
    assert events == [
        ("issued", T0, "admin", "shade"),
        ("revoked", T0 + 10, "admin", "shade"),
        ("refused-revoked", T0 + 15, issued["id"], "shade"),
    ]
    colour = api.client.get(f"{R}/-/custodian-events?register=colour", headers=api.admin).json()
    assert [e["event"] for e in colour["events"]] == ["issued"]
    first = api.client.get(f"{R}/-/custodian-events?page-size=1", headers=api.admin).json()
    after = first["events"][0]["seq"]
    rest = api.client.get(f"{R}/-/custodian-events?after={after}", headers=api.admin).json()
    assert len(rest["events"]) == 3


def test_custodian_administration_is_the_admins(api: Api) -> None:
    """No token or a custodian's token: 401 on every token route, and nothing changes."""
    issued = api.issue()
    custodian = {"Authorization": f"Bearer {issued['token']}"}
    for headers in ({}, custodian):
        for method, path in (
            ("GET", "/-/custodian-tokens"),
            ("GET", "/shade/custodian-tokens"),
            ("GET", f"/-/custodian-tokens/{issued['id']}"),
            ("POST", f"/-/custodian-tokens/{issued['id']}/revoke"),
            ("GET", "/-/custodian-events"),
        ):
            _problem(api.client.request(method, R + path, headers=headers), 401, "unauthorized")
        r = api.client.post(f"{R}/shade/custodian-tokens", json={"label": "x"}, headers=headers)
        _problem(r, 401, "unauthorized")
    assert api.write(issued["token"]).status_code == 201


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/-/custodian-tokens/ct_0000000000000000", 404, "not_found"),
        ("POST", "/-/custodian-tokens/ct_0000000000000000/revoke", 404, "not_found"),
        ("GET", "/-/custodian-tokens/nope", 404, "not_found"),
        ("POST", "/-/custodian-tokens/" + "a" * 40 + "/revoke", 400, "invalid_request"),
        ("GET", "/-/custodian-tokens/ct_00%0000", 400, "malformed"),
        ("GET", "/nope/custodian-tokens", 404, "not_found"),
        ("GET", "/-/custodian-events?register=nope", 404, "not_found"),
        ("GET", "/-/custodian-events?token=ct_zz", 404, "not_found"),
        ("GET", "/-/custodian-events?page-size=0", 400, "invalid_request"),
        ("GET", "/-/custodian-events?after=-1", 400, "invalid_request"),
    ],
)
def test_unknown_and_malformed_ids_are_problems(
    api: Api, method: str, path: str, status: int, code: str
) -> None:
    """An unknown or impossible token id is 404 not_found; bad parameters are 400."""
    _problem(api.client.request(method, R + path, headers=api.admin), status, code)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"label": "x" * 129}, "invalid_request"),
        ({"label": ""}, "invalid_request"),
        ({"label": "bell\u0007"}, "malformed"),
        ({"label": "nul\u0000"}, "malformed"),
        ({"label": "x", "expires_in": 0}, "invalid_request"),
        ({"label": "x", "expires_in": -5}, "invalid_request"),
        ({"label": "x", "expires_in": 10**12}, "invalid_request"),
        ({"label": "x", "expires_in": "soon"}, "invalid_request"),
        ({"label": "x", "extra": 1}, "invalid_request"),
    ],
)
def test_bad_token_requests_are_400(api: Api, body: dict[str, Any], code: str) -> None:
    """A bad label or lifetime is a 400 problem and issues nothing."""
    r = api.client.post(f"{R}/shade/custodian-tokens", json=body, headers=api.admin)
    _problem(r, 400, code)
    assert api.client.get(f"{R}/-/custodian-tokens", headers=api.admin).json()["tokens"] == []


# -- what an RSF patch may change -------------------------------------------------------------


def test_a_patch_cannot_retype_a_field(api: Api) -> None:
    """A field:name entry with another datatype (or cardinality, or link) is refused as POST /
    refuses it: 409 field_redefined, nothing written, even from the admin."""
    before = api.client.get(f"{R}/colour").json()
    retyped = [
        {"field": "name", "datatype": "integer", "cardinality": "1"},
        {"field": "name", "datatype": "string", "cardinality": "n"},
        {"field": "name", "datatype": "string", "cardinality": "1", "register": "shade"},
    ]
    for definition in retyped:
        r = api.patch(api.platform.admin_token, _system("field:name", definition))
        _problem(r, 409, "field_redefined")
    assert api.client.get(f"{R}/colour").json() == before


def test_a_custodian_patch_holds_records_only(api: Api) -> None:
    """A custodian's patch changing the custodian (or any system entry) is 403 forbidden and
    writes nothing; its patch of records applies."""
    token = api.issue("colour")["token"]
    before = api.client.get(f"{R}/colour").json()
    for lines in (
        _system("custodian", {"custodian": "Someone Else"}),
        _system("register-name", {"register-name": "Hijacked"}),
        _system("field:name", {"field": "name", "datatype": "string", "cardinality": "1"}),
    ):
        _problem(api.patch(token, lines), 403, "forbidden")
    assert api.client.get(f"{R}/colour").json() == before
    item = Item.of({"colour": "blue"})
    records = [
        f"add-item\t{item.text()}",
        f"append-entry\tuser\tblue\t2026-01-01T00:00:00Z\t{item.hash}",
    ]
    assert api.patch(token, records).status_code == 200


def test_the_admin_may_change_the_definition_by_patch(api: Api) -> None:
    """The admin's patch changes the custodian, rewords a field and adds one (RFC 0001)."""
    admin = api.platform.admin_token
    r = api.patch(admin, _system("custodian", {"custodian": "B. Custodian"}))
    assert r.status_code == 200
    assert api.client.get(f"{R}/colour").json()["custodian"] == "B. Custodian"
    reworded = {"field": "name", "datatype": "string", "cardinality": "1", "text": "Its name."}
    assert api.patch(admin, _system("field:name", reworded)).status_code == 200
    fields = ["colour", "name", "rank", "similar", "shade", "start-date", "aliases", "note", "hex"]
    added = _system("field:hex", {"field": "hex", "datatype": "string", "cardinality": "1"})
    added += _system("register:colour", {"fields": fields, "register": "colour"})
    assert api.patch(admin, added).status_code == 200
    summary = api.client.get(f"{R}/colour").json()
    assert [f["field"] for f in summary["fields"]][-1] == "hex"
