"""The registers HTTP API on SQLite and PostgreSQL: reads, proofs, downloads, writes, bad input."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from civicstack.api.app import create_app, wrap
from civicstack.log import (
    NoteVerifier,
    leaf_hash,
    open_checkpoint,
    prove_consistency,
    verify_consistency,
    verify_inclusion,
    verify_receipt,
)
from civicstack.log.note import b64std_decode
from civicstack.log.tiles import FetchedTiles
from civicstack.platform import Platform
from civicstack.registers import Catalogue, Item, import_rsf
from civicstack.settings import Settings

GOOD = Path(__file__).resolve().parent.parent / "vectors" / "registers" / "good"
COLOUR = (GOOD / "colour.rsf").read_bytes()
SHADE = (GOOD / "shade.rsf").read_bytes()
R = "/registers"


@dataclass
class Api:
    """A client of the platform app, and what the tests need to talk to it."""

    platform: Platform
    client: TestClient
    admin: dict[str, str]

    def verifier(self, name: str) -> NoteVerifier:
        """The register's log key, as its summary publishes it."""
        summary = self.client.get(f"{R}/{name}").json()
        return NoteVerifier.parse(summary["log"]["verifier-key"])


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    """The platform app over a fresh database holding the colour and shade registers."""
    settings = Settings.from_env(
        {"CIVIC_DATA_DIR": str(tmp_path), "CIVIC_DATABASE_URL": database_url}
    )
    platform = Platform(settings)
    platform.migrate()
    platform.registers.import_rsf({"colour": COLOUR, "shade": SHADE})
    app = wrap(create_app(platform), max_body=64 * 1024)
    client = TestClient(app, raise_server_exceptions=False)
    yield Api(platform, client, {"Authorization": f"Bearer {platform.admin_token}"})
    client.close()
    platform.close()


def _write(api: Api, name: str, records: list[dict[str, object]], **headers: str) -> object:
    return api.client.post(
        f"{R}/{name}/entries", json={"entries": records}, headers=headers or api.admin
    )


def test_the_registers_are_listed_at_the_mount_point(api: Api) -> None:
    """GET /registers (no redirect) and /registers/ list every register with its size."""
    for path in (R, R + "/"):
        r = api.client.get(path, follow_redirects=False)
        assert r.status_code == 200
        listed = {s["name"]: s for s in r.json()["registers"]}
        assert set(listed) == {"colour", "shade"}
        assert listed["colour"]["records"] == 2
        assert listed["colour"]["synthetic"] is False
    assert "/registers" in [s["mount"] for s in api.client.get("/services").json()]
    assert api.client.get(f"{R}/openapi.json").json()["openapi"].startswith("3.1")


def test_the_listing_etag_follows_every_register(api: Api) -> None:
    """A write to any register (here the last listed) changes the listing's ETag."""
    etag = api.client.get(R).headers["etag"]
    assert api.client.get(R, headers={"If-None-Match": etag}).status_code == 304
    _write(api, "shade", [{"key": "grey", "item": {"shade": "grey"}}])
    again = api.client.get(R, headers={"If-None-Match": etag})
    assert again.status_code == 200
    assert again.headers["etag"] != etag


def test_a_register_describes_its_schema_log_and_links(api: Api) -> None:
    """The summary gives fields, counts, the GOV.UK root, the log's origin, key and URLs."""
    body = api.client.get(f"{R}/colour").json()
    assert [f["field"] for f in body["fields"]][:3] == ["colour", "name", "rank"]
    assert body["entries"] == {"user": 2, "system": 11}
    assert body["root-hash"] == "sha-256:" + COLOUR.rstrip(b"\n").rsplit(b":", 1)[1].decode()
    assert body["custodian"] == "A. Custodian"
    assert body["log"]["size"] == 13
    assert body["log"]["tiles"] == "/registers/colour/log"
    assert body["dangling-links"] == []
    checkpoint = api.client.get(body["log"]["checkpoint"])
    assert checkpoint.headers["content-type"].startswith("text/plain")
    opened = open_checkpoint(checkpoint.text, [api.verifier("colour")])
    assert opened.size == 13
    assert opened.origin == body["log"]["origin"]


def test_records_page_in_key_order_with_a_next_link(api: Api) -> None:
    """Keyset pages follow Link rel=next to the end; a record reads back in GOV.UK's shape."""
    _write(api, "shade", [{"key": f"s{i:02d}", "item": {"shade": f"s{i:02d}"}} for i in range(7)])
    keys: list[str] = []
    url: str | None = f"{R}/shade/records?page-size=3"
    while url:
        r = api.client.get(url)
        assert r.status_code == 200
        keys += list(r.json())
        url = r.links.get("next", {}).get("url")
    assert keys == sorted(keys)
    assert len(keys) == 9
    red = api.client.get(f"{R}/colour/records/red").json()
    assert red["red"]["item"][0]["aliases"] == ["crimson", "scarlet"]
    assert red["red"]["entry-number"] == "1"


def test_search_by_field_value(api: Api) -> None:
    """?FIELD=VALUE finds records holding the value (in any value of a list field)."""
    assert list(api.client.get(f"{R}/colour/records?name=Pink").json()) == ["pink"]
    assert list(api.client.get(f"{R}/colour/records?similar=colour:red").json()) == ["pink"]
    assert list(api.client.get(f"{R}/colour/records?aliases=scarlet&shade=dark").json()) == ["red"]
    assert api.client.get(f"{R}/colour/records?aliases=scarlet&shade=light").json() == {}
    r = api.client.get(f"{R}/colour/records?hue=red")
    assert (r.status_code, r.json()["code"]) == (400, "unknown_field")


def test_entries_trails_and_items(api: Api) -> None:
    """Entries by number and scope, a key's trail and items by hash; unknown ones are 404."""
    entries = api.client.get(f"{R}/colour/entries").json()
    assert [e["key"] for e in entries] == ["red", "pink"]
    assert entries[0]["log-index"] == 11
    system = api.client.get(f"{R}/colour/entries?scope=system&page-size=2").json()
    assert [e["key"] for e in system] == ["name", "custodian"]
    one = api.client.get(f"{R}/colour/entries/2")
    assert one.json()["key"] == "pink"
    assert "immutable" in one.headers["cache-control"]
    trail = api.client.get(f"{R}/colour/records/red/entries").json()
    assert [e["entry-number"] for e in trail] == ["1"]
    item_hash = trail[0]["item-hash"][0]
    item = api.client.get(f"{R}/colour/items/{item_hash}")
    assert Item.from_json(item.content).hash == item_hash
    for path in (
        "/colour/entries/3",
        "/colour/records/blue",
        "/colour/records/blue/entries",
        "/nope",
        "/colour/items/sha-256:" + "0" * 64,
        "/colour/items/md5:00",
    ):
        r = api.client.get(R + path)
        assert (r.status_code, r.json()["code"]) == (404, "not_found"), path


def test_conditional_requests_answer_304_until_the_register_changes(api: Api) -> None:
    """If-None-Match with the ETag gives 304; after a write the ETag moves and 200 returns."""
    first = api.client.get(f"{R}/colour/records/red")
    etag = first.headers["etag"]
    again = api.client.get(f"{R}/colour/records/red", headers={"If-None-Match": etag})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
    _write(api, "colour", [{"key": "blue", "item": {"colour": "blue"}}])
    after = api.client.get(f"{R}/colour/records/red", headers={"If-None-Match": etag})
    assert after.status_code == 200
    assert after.headers["etag"] != etag


def test_proofs_verify_against_the_signed_checkpoint(api: Api) -> None:
    """Inclusion and consistency proofs, receipts and tiles all check against checkpoints."""
    verifier = api.verifier("colour")
    old = open_checkpoint(api.client.get(f"{R}/colour/checkpoint").text, [verifier])
    written = _write(api, "colour", [{"key": "blue", "item": {"colour": "blue"}}]).json()
    new = open_checkpoint(written["checkpoint"], [verifier])
    assert new.size == old.size + 1 == written["tree-size"]
    proof = api.client.get(f"{R}/colour/proofs/consistency/{old.size}/{new.size}").json()
    hashes = [b64std_decode(h) for h in proof["consistency"]]
    verify_consistency(old.size, new.size, old.root, new.root, hashes)
    index = written["entries"][0]["log-index"]
    path = api.client.get(f"{R}/colour/proofs/inclusion/{index}?tree-size={new.size}").json()
    leaf = api.platform.logs.entry("registers/colour", index)
    assert b64std_decode(path["leaf_hash"]) == leaf_hash(leaf)
    audit = [b64std_decode(h) for h in path["audit_path"]]
    verify_inclusion(leaf_hash(leaf), index, new.size, audit, new.root)
    receipt = api.client.get(f"{R}/colour/receipts/{index}").text
    assert verify_receipt(receipt, [verifier]).entry == leaf
    # A monitor's view: the proof rebuilt from the published tiles is the same.
    tiles = FetchedTiles(lambda p: api.client.get(f"{R}/colour/log/{p}").content)
    assert prove_consistency(old.size, new.size, tiles) == hashes
    bundle = api.client.get(f"{R}/colour/log/tile/entries/000.p/{new.size}")
    assert bundle.status_code == 200
    assert api.client.get(f"{R}/colour/log/checkpoint").text == written["checkpoint"]


@pytest.mark.parametrize(
    "path",
    [
        "/colour/proofs/inclusion/14",
        "/colour/proofs/inclusion/0?tree-size=15",
        "/colour/proofs/consistency/3/99",
        "/colour/proofs/consistency/0/3",
        "/colour/proofs/consistency/9/3",
        "/colour/receipts/13",
        "/colour/checkpoint?tree-size=14",
    ],
)
def test_proofs_beyond_the_tree_are_out_of_range(api: Api, path: str) -> None:
    """Asking beyond the log's size is proof_out_of_range, never an error of the server."""
    r = api.client.get(R + path)
    assert (r.status_code, r.json()["code"]) == (400, "proof_out_of_range")


def test_downloads_stream_rsf_csv_and_json(api: Api) -> None:
    """The RSF download re-imports to the same roots; CSV and JSON hold every record."""
    rsf = api.client.get(f"{R}/colour/download-rsf")
    assert rsf.headers["content-type"].startswith("text/plain")
    assert rsf.text.splitlines()[-1].startswith("assert-root-hash\tsha-256:")
    links = Catalogue()
    links.import_rsf({"shade": SHADE})
    again = import_rsf(rsf.content, links=links, name="colour")
    summary = api.client.get(f"{R}/colour").json()
    assert "sha-256:" + again.register.root_hash().hex() == summary["root-hash"]
    assert b64std_decode(summary["log"]["root"]) == again.register.log_root()
    rows = list(csv.DictReader(io.StringIO(api.client.get(f"{R}/colour/records.csv").text)))
    assert [(r["key"], r["aliases"]) for r in rows] == [("pink", ""), ("red", "crimson;scarlet")]
    records = orjson.loads(api.client.get(f"{R}/colour/records.json").content)
    assert records == api.client.get(f"{R}/colour/records").json()


def test_writes_need_the_admin_or_a_custodian_token(api: Api) -> None:
    """No token, a wrong one, or another register's custodian token: 401 and nothing written."""
    record = [{"key": "blue", "item": {"colour": "blue"}}]
    for headers in ({}, {"Authorization": "Bearer guess"}, {"Authorization": "Basic x"}):
        r = api.client.post(f"{R}/colour/entries", json={"entries": record}, headers=headers)
        assert (r.status_code, r.json()["code"]) == (401, "unauthorized")
    token = api.client.post(
        f"{R}/shade/custodian-tokens", json={"label": "shade desk"}, headers=api.admin
    ).json()["token"]
    shade_only = {"Authorization": f"Bearer {token}"}
    r = api.client.post(f"{R}/colour/entries", json={"entries": record}, headers=shade_only)
    assert r.status_code == 401
    assert api.client.get(f"{R}/colour/records/blue").status_code == 404
    ok = _write(api, "shade", [{"key": "grey", "item": {"shade": "grey"}}], **shade_only)
    assert ok.status_code == 201
    r = api.client.post(f"{R}/shade/custodian-tokens", json={"label": "x"}, headers=shade_only)
    assert r.status_code == 401


@pytest.mark.parametrize(
    ("record", "code"),
    [
        ({"key": "blue", "item": {"colour": "blue", "rank": "high"}}, "invalid_datatype"),
        ({"key": "blue", "item": {"colour": "blue", "hue": "x"}}, "unknown_field"),
        ({"key": "blue", "item": {"colour": "blue", "shade": "navy"}}, "dangling_link"),
        # NUL in text is refused where requests enter, before any register rule
        ({"key": "blue", "item": {"colour": "blue", "shade": "a\u0000b"}}, "malformed"),
        (
            {"key": "blue", "item": {"colour": "blue", "note": "no\u0000where:x"}},
            "malformed",
        ),
        ({"key": "blue", "item": {"colour": "red"}}, "primary_key_mismatch"),
        ({"key": "blue", "item": {"colour": ["blue"]}}, "invalid_cardinality"),
        ({"key": "blue"}, "invalid_request"),
        ({"key": "blue", "item": {"colour": 3}}, "invalid_request"),
        ({"key": "blue", "item": {"colour": "blue"}, "extra": 1}, "invalid_request"),
    ],
)
def test_bad_records_are_refused_whole(api: Api, record: dict[str, object], code: str) -> None:
    """A batch with one bad record writes nothing; the error names the problem's code."""
    before = api.client.get(f"{R}/colour").json()
    good = {"key": "teal", "item": {"colour": "teal"}}
    r = _write(api, "colour", [good, record])
    assert r.status_code == 400
    assert r.json()["code"] == code
    assert r.headers["content-type"] == "application/problem+json"
    assert api.client.get(f"{R}/colour").json() == before


def test_rsf_patches_apply_whole_or_not_at_all(api: Api) -> None:
    """A patch asserting the current root applies; a stale one is root_hash_mismatch."""
    root = api.client.get(f"{R}/shade").json()["root-hash"]
    item = Item.of({"shade": "pale"})
    lines = [
        f"assert-root-hash\t{root}",
        f"add-item\t{item.text()}",
        f"append-entry\tuser\tpale\t2026-01-01T00:00:00Z\t{item.hash}",
    ]
    patch = ("\n".join(lines) + "\n").encode()
    headers = {**api.admin, "Content-Type": "text/plain"}
    r = api.client.post(f"{R}/shade/rsf", content=patch, headers=headers)
    assert r.status_code == 200
    assert r.json()["entries"][0]["key"] == "pale"
    stale = api.client.post(f"{R}/shade/rsf", content=patch, headers=headers)
    assert stale.json()["code"] == "root_hash_mismatch"
    assert len(api.client.get(f"{R}/shade/records").json()) == 3
    r = api.client.post(f"{R}/shade/rsf", content=b"add-item\t{}\n", headers=headers)
    assert r.json()["code"] == "invalid_item"


def test_registers_and_fields_are_created_over_http(api: Api) -> None:
    """The admin creates a register and adds a field; both appear in its schema and log."""
    body = {
        "name": "depot",
        "title": "Depots",
        "fields": [
            {"field": "depot", "datatype": "string", "register": "depot"},
            {"field": "opened", "datatype": "datetime"},
        ],
    }
    assert api.client.post(R, json=body).status_code == 401
    created = api.client.post(R + "/", json=body, headers=api.admin)
    assert created.status_code == 201
    assert created.json()["title"] == "Depots"
    again = api.client.post(R + "/", json=body, headers=api.admin)
    assert (again.status_code, again.json()["code"]) == (409, "conflict")
    field = {"field": "capacity", "datatype": "integer"}
    added = api.client.post(f"{R}/depot/fields", json=field, headers=api.admin)
    assert [f["field"] for f in added.json()["fields"]] == ["depot", "opened", "capacity"]
    r = _write(api, "depot", [{"key": "d1", "item": {"depot": "d1", "capacity": "40"}}])
    assert r.status_code == 201


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/colour/records?page-size=1001", 400, "invalid_request"),
        ("GET", "/colour/records?page-size=0", 400, "invalid_request"),
        ("GET", "/colour/records?after=" + "a" * 300, 400, "invalid_request"),
        ("GET", "/colour/records?name=" + "x" * 5000, 414, "too_large"),
        ("GET", "/colour/entries/99999999999999999999999", 400, "invalid_request"),
        ("GET", "/colour/proofs/inclusion/-1", 400, "invalid_request"),
        ("GET", "/colour/log/tile/0/x999/x999/x999/x999/x999/x999/x999/000", 404, "not_found"),
        ("GET", "/colour/log/tile/0/001", 404, "not_found"),
        ("GET", "/colour/log/tile/9/000.p/300", 404, "not_found"),
        ("GET", "/colour/log/tile/entries/000", 404, "not_found"),
        ("GET", "/Colour/records", 404, "not_found"),
        ("GET", "/colour/records/" + "k" * 2000, 400, "invalid_request"),
        # NUL anywhere in the path or query: refused at the boundary (api/control_characters.py)
        ("GET", "/colour/records/a%00b", 400, "malformed"),
        ("GET", "/colour/records/a%00b/entries", 400, "malformed"),
        ("GET", "/colour/records?after=a%00b", 400, "malformed"),
        ("GET", "/colour/records?name=a%00b", 400, "malformed"),
        ("GET", "/co%00lour", 400, "malformed"),
        ("GET", "/colour/records/..%2F..%2Fetc", 404, "not_found"),
        ("POST", "/colour/entries", 400, "invalid_request"),
        ("DELETE", "/colour", 405, "invalid_request"),
    ],
)
def test_hostile_requests_get_a_problem_never_a_500(
    api: Api, method: str, path: str, status: int, code: str
) -> None:
    """Oversize, malformed and out-of-range requests are clear problems with stable codes."""
    r = api.client.request(method, R + path, headers=api.admin)
    assert (r.status_code, r.json().get("code")) == (status, code)


def test_an_oversize_write_is_refused_before_it_is_read(api: Api) -> None:
    """A body over the platform's cap is 413 too_large, and nothing is written."""
    big = [{"key": f"k{i}", "item": {"colour": f"k{i}", "name": "x" * 200}} for i in range(400)]
    r = _write(api, "colour", big)
    assert (r.status_code, r.json()["code"]) == (413, "too_large")
    assert len(api.client.get(f"{R}/colour/records").json()) == 2
