"""The registers service: GOV.UK-style register API, verifiable, with a custodian write API.

Mounted at ``/registers`` (its own OpenAPI 3.1 document at ``/registers/openapi.json``).

Reads (RSF RFC and the GOV.UK Registers API's resource shapes: records keyed by their key with
``index-entry-number``, ``entry-number``, ``entry-timestamp``, ``key`` and ``item``; entries
with ``item-hash``): ``/``, ``/{name}``, ``/{name}/records[/{key}[/entries]]``,
``/{name}/entries[/{n}]``, ``/{name}/items/{hash}``. Record pages are keyset-paginated in key
order (``?after=KEY&page-size=N``, the next page in ``Link: <...>; rel="next"``, RFC 8288) and
filtered by exact field values (``?name=France``; every filter must hold). Downloads stream
from the database: ``/{name}/download-rsf`` (RSF, ending with ``assert-root-hash``),
``/{name}/records.csv`` and ``/{name}/records.json``.

Verification. Each register's log (every entry, schema changes included) is an RFC 9162 Merkle
tree: ``/{name}/proofs/inclusion/{index}`` and ``/{name}/proofs/consistency/{m}/{n}`` (the JSON
shapes of RFC 6962 §4.5 and §4.4: ``leaf_index``/``audit_path``, ``consistency``, base64),
``/{name}/checkpoint`` (the latest C2SP tlog-checkpoint signed note, ``text/plain``),
``/{name}/receipts/{index}`` (a C2SP tlog-proof) and the C2SP tlog-tiles endpoints under
``/{name}/log/`` (``checkpoint``, ``tile/<L>/<N>[.p/<W>]``, ``tile/entries/<N>[.p/<W>]``), which
``civic log monitor --tiles`` reads.

Caching (RFC 9110 §8.8.3, §13.1.2): every register resource carries an ETag derived from the
log's size and root (one indexed read), and ``If-None-Match`` answers 304; items, entries and
full tiles never change and are served as immutable.

Writes need ``Authorization: Bearer`` with the platform's admin token or a custodian token of the
register: ``POST /{name}/entries`` (records, checked against the schema and links, one entry
each), ``POST /{name}/rsf`` (an RSF patch), ``POST /{name}/fields``, ``POST /`` (a new
register, admin only) and ``POST /{name}/custodian-tokens`` (admin only). Each write is one
transaction that signs a new checkpoint. Errors are RFC 9457 problems with stable codes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField

from civicstack.api.app import Service, service_app
from civicstack.api.limits import QueryStringLimit
from civicstack.api.problems import PROBLEM_SCHEMA
from civicstack.errors import CivicError, InputError
from civicstack.log.note import b64std_encode
from civicstack.log.tiles import TILE_WIDTH, parse_tile_path
from civicstack.platform import Platform
from civicstack.registers import (
    Cardinality,
    Datatype,
    Entry,
    Field,
    Item,
    RegisterDefinition,
    RSFLimits,
    Scope,
)
from civicstack.registers.canonical import json_string
from civicstack.registers.entries import ITEM_HASH_RE
from civicstack.registers.schema import KEY_RE, MAX_KEY_LENGTH
from civicstack.stores.registers import (
    MAX_PAGE,
    RecordRow,
    RegisterStore,
    StoredHead,
)
from civicstack.types import SystemClock

MOUNT = "/registers"
#: The largest integer a path or query may carry (64-bit signed, as the databases store).
MAX_INT = (1 << 63) - 1
#: Caps on what a request may ask for.
MAX_QUERY_BYTES = 4096
MAX_FILTERS = 8
MAX_WRITE_RECORDS = 1000
MAX_RSF_PATCH = 8 * 1024 * 1024
_RESERVED = {"after", "page-size", "scope"}
_IMMUTABLE = "public, max-age=31536000, immutable"
_REVALIDATE = "no-cache"
_TEXT = "text/plain; charset=utf-8"

# --- OpenAPI: response documents ------------------------------------------------------------

_STRINGS = {"type": "array", "items": {"type": "string"}}
_ITEM = {
    "type": "object",
    "additionalProperties": {"anyOf": [{"type": "string"}, _STRINGS]},
    "description": "An item: field names to a value or a list of values (canonical JSON).",
}
_RECORD_BODY = {
    "type": "object",
    "required": ["index-entry-number", "entry-number", "entry-timestamp", "key", "item"],
    "properties": {
        "index-entry-number": {"type": "string"},
        "entry-number": {"type": "string"},
        "entry-timestamp": {"type": "string"},
        "key": {"type": "string"},
        "item": {"type": "array", "items": _ITEM},
    },
}
_RECORDS = {
    "type": "object",
    "additionalProperties": _RECORD_BODY,
    "description": "Records by key, in key order (GOV.UK Registers' records resource).",
}
_ENTRY = {
    "type": "object",
    "required": ["index-entry-number", "entry-number", "entry-timestamp", "key", "item-hash"],
    "properties": {
        "index-entry-number": {"type": "string"},
        "entry-number": {"type": "string"},
        "entry-timestamp": {"type": "string"},
        "key": {"type": "string"},
        "item-hash": _STRINGS,
        "entry-type": {"enum": ["user", "system"]},
        "log-index": {"type": "integer", "description": "Position in the register's log."},
    },
}
_FIELD = {
    "type": "object",
    "required": ["field", "datatype", "cardinality"],
    "properties": {
        "field": {"type": "string"},
        "datatype": {"enum": [d.value for d in Datatype]},
        "cardinality": {"enum": ["1", "n"]},
        "register": {"type": ["string", "null"]},
        "text": {"type": ["string", "null"]},
    },
}
_LOG = {
    "type": "object",
    "required": ["origin", "size", "root", "verifier-key", "checkpoint", "tiles"],
    "properties": {
        "origin": {"type": "string"},
        "size": {"type": "integer"},
        "root": {"type": "string", "description": "Base64 RFC 9162 root of the log."},
        "verifier-key": {"type": "string", "description": "C2SP signed-note verifier key."},
        "checkpoint": {"type": "string"},
        "tiles": {"type": "string", "description": "The C2SP tlog-tiles URL prefix."},
    },
}
_SUMMARY = {
    "type": "object",
    "required": ["name", "records", "entries", "root-hash", "synthetic"],
    "properties": {
        "name": {"type": "string"},
        "title": {"type": ["string", "null"]},
        "text": {"type": ["string", "null"]},
        "registry": {"type": ["string", "null"]},
        "phase": {"type": ["string", "null"]},
        "custodian": {"type": ["string", "null"]},
        "copyright": {"type": ["string", "null"]},
        "synthetic": {"type": "boolean"},
        "records": {"type": "integer"},
        "entries": {
            "type": "object",
            "properties": {"user": {"type": "integer"}, "system": {"type": "integer"}},
        },
        "root-hash": {"type": "string", "description": "GOV.UK root (RSF assert-root-hash)."},
        "fields": {"type": "array", "items": _FIELD},
        "log": _LOG,
        "dangling-links": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "entry-number": {"type": "integer"},
                    "field": {"type": "string"},
                    "target": {"type": "string"},
                    "line": {"type": ["integer", "null"]},
                },
            },
        },
        "links": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
_LISTING = {
    "type": "object",
    "required": ["registers"],
    "properties": {"registers": {"type": "array", "items": _SUMMARY}},
}
_INCLUSION = {
    "type": "object",
    "required": ["leaf_index", "tree_size", "leaf_hash", "audit_path", "root_hash"],
    "properties": {
        "leaf_index": {"type": "integer"},
        "tree_size": {"type": "integer"},
        "leaf_hash": {"type": "string"},
        "audit_path": _STRINGS,
        "root_hash": {"type": "string"},
    },
}
_CONSISTENCY = {
    "type": "object",
    "required": ["first", "second", "consistency", "first_root", "second_root"],
    "properties": {
        "first": {"type": "integer"},
        "second": {"type": "integer"},
        "consistency": _STRINGS,
        "first_root": {"type": "string"},
        "second_root": {"type": "string"},
    },
}
_WRITTEN = {
    "type": "object",
    "required": ["register", "entries", "tree-size", "root-hash", "checkpoint"],
    "properties": {
        "register": {"type": "string"},
        "entries": {"type": "array", "items": _ENTRY},
        "tree-size": {"type": "integer"},
        "root-hash": {"type": "string"},
        "checkpoint": {"type": "string"},
    },
}
_TOKEN = {
    "type": "object",
    "required": ["register", "token"],
    "properties": {"register": {"type": "string"}, "token": {"type": "string"}},
}


def _json(schema: dict[str, Any], description: str, media: str = "application/json") -> Any:
    return {"description": description, "content": {media: {"schema": schema}}}


_PROBLEMS: dict[int | str, dict[str, Any]] = dict.fromkeys((400, 404, 413, 414), PROBLEM_SCHEMA)
_NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified (If-None-Match matched the ETag)."}
}
_ETAG_HEADER = {"ETag": {"schema": {"type": "string"}, "description": "The register's state."}}


def _read_responses(
    schema: dict[str, Any], description: str, media: str = "application/json"
) -> Any:
    ok = _json(schema, description, media)
    ok["headers"] = _ETAG_HEADER
    return {200: ok, **_NOT_MODIFIED, **_PROBLEMS}


def _write_responses(status: int, schema: dict[str, Any], description: str) -> Any:
    return {
        status: _json(schema, description),
        **dict.fromkeys((400, 401, 404, 409, 413), PROBLEM_SCHEMA),
    }


# --- request bodies -------------------------------------------------------------------------


class RecordIn(BaseModel):
    """One record to append: its key and its item (or items)."""

    model_config = ConfigDict(extra="forbid")
    key: str = PydanticField(max_length=MAX_KEY_LENGTH)
    item: dict[str, str | list[str]] | None = None
    items: list[dict[str, str | list[str]]] | None = PydanticField(default=None, max_length=16)


class EntriesIn(BaseModel):
    """A custodian's batch: records appended as one signed write."""

    model_config = ConfigDict(extra="forbid")
    entries: list[RecordIn] = PydanticField(min_length=1, max_length=MAX_WRITE_RECORDS)


class FieldIn(BaseModel):
    """A field definition (GOV.UK's field register shape)."""

    model_config = ConfigDict(extra="forbid")
    field: str = PydanticField(max_length=128)
    datatype: Datatype
    cardinality: Cardinality = Cardinality.ONE
    # "register" would shadow a BaseModel attribute: the JSON name is an alias.
    links_to: str | None = PydanticField(default=None, max_length=128, alias="register")
    text: str | None = PydanticField(default=None, max_length=4096)

    def definition(self) -> Field:
        """The domain field (its names are checked when the register records it)."""
        return Field(self.field, self.datatype, self.cardinality, self.links_to, self.text)


class RegisterIn(BaseModel):
    """A new register: its name, fields (the primary key field named like it) and metadata."""

    model_config = ConfigDict(extra="forbid")
    name: str = PydanticField(max_length=64)
    fields: list[FieldIn] = PydanticField(min_length=1, max_length=128)
    title: str | None = PydanticField(default=None, max_length=256)
    text: str | None = PydanticField(default=None, max_length=4096)
    custodian: str | None = PydanticField(default=None, max_length=256)
    registry: str | None = PydanticField(default=None, max_length=256)
    phase: str | None = PydanticField(default=None, max_length=64)


class TokenIn(BaseModel):
    """What a custodian token is for (kept with its hash)."""

    model_config = ConfigDict(extra="forbid")
    label: str = PydanticField(min_length=1, max_length=128)


# --- representations ------------------------------------------------------------------------


def entry_json(entry: Entry) -> dict[str, Any]:
    """The GOV.UK entry resource, with its scope and log position."""
    return entry.to_json()


def record_json(row: RecordRow) -> bytes:
    """One record's body, its items spliced in from their canonical bytes."""
    e = row.entry
    head = orjson.dumps(
        {
            "index-entry-number": str(e.number),
            "entry-number": str(e.number),
            "entry-timestamp": e.timestamp,
            "key": e.key,
        }
    )
    return head[:-1] + b',"item":' + row.items_json() + b"}"


def records_json(rows: Sequence[RecordRow]) -> bytes:
    """Records keyed by key, in order."""
    parts = [json_string(r.entry.key).encode() + b":" + record_json(r) for r in rows]
    return b"{" + b",".join(parts) + b"}"


class RegistersAPI:
    """The routes' logic over a :class:`RegisterStore` (kept apart from FastAPI wiring)."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.store: RegisterStore = platform.registers
        self.clock = SystemClock()

    # -- reading helpers --------------------------------------------------------------------

    def summary(
        self, head: StoredHead, meta: dict[str, tuple[Item, ...]], *, full: bool
    ) -> dict[str, Any]:
        """The register's description, with the URLs of its resources."""
        base = f"{MOUNT}/{head.name}"
        out = self.store.describe(head, meta, full=full)
        if not full:
            out["links"] = {"self": base}
            return out
        out["log"]["checkpoint"] = f"{base}/checkpoint"
        out["log"]["tiles"] = f"{base}/log"
        out["links"] = {
            "self": base,
            "records": f"{base}/records",
            "entries": f"{base}/entries",
            "download-rsf": f"{base}/download-rsf",
            "records-csv": f"{base}/records.csv",
            "records-json": f"{base}/records.json",
        }
        return out

    def authorise(
        self, head: StoredHead | None, authorization: HTTPAuthorizationCredentials | None
    ) -> None:
        """Admin token, or (for an existing register) one of its custodian tokens."""
        token = _bearer(authorization)
        try:
            self.platform.check_admin(token)
            return
        except CivicError:
            if head is None or token is None or not self.store.is_custodian(head, token):
                raise CivicError(
                    "unauthorized", "writes need the admin token or the register's custodian token"
                ) from None

    def written(self, name: str, entries: Sequence[Entry]) -> dict[str, Any]:
        """What a write answers: the entries and the new signed state."""
        head = self.store.head(name)
        log = self.store.logs.head(head.log_name)
        return {
            "register": name,
            "entries": [entry_json(e) for e in entries],
            "tree-size": log.size,
            "root-hash": "sha-256:" + head.root.hex(),
            "checkpoint": log.checkpoint,
        }


def _bearer(authorization: HTTPAuthorizationCredentials | None) -> str | None:
    if authorization is None or authorization.scheme.lower() != "bearer":
        return None
    token = authorization.credentials.strip()
    return token if 0 < len(token) <= 512 else None


def _not_modified(request: Request, etag: str) -> Response | None:
    """304 when ``If-None-Match`` names ``etag`` or ``*`` (RFC 9110 §13.1.2)."""
    wanted = request.headers.get("if-none-match")
    if not wanted:
        return None
    tags = {t.strip().removeprefix("W/") for t in wanted.split(",")}
    if etag in tags or "*" in tags:
        return Response(status_code=304, headers={"ETag": etag})
    return None


def _ok(
    body: bytes,
    etag: str,
    *,
    media: str = "application/json",
    cache: str = _REVALIDATE,
    headers: dict[str, str] | None = None,
) -> Response:
    return Response(
        body, media_type=media, headers={"ETag": etag, "Cache-Control": cache, **(headers or {})}
    )


def _check_key(key: str) -> str:
    if len(key) > MAX_KEY_LENGTH or KEY_RE.fullmatch(key) is None:
        raise CivicError("not_found", "no record with that key")
    return key


def _filters(request: Request) -> list[tuple[str, str]]:
    out = [(k, v) for k, v in request.query_params.multi_items() if k not in _RESERVED]
    if len(out) > MAX_FILTERS:
        raise InputError("too_large", f"at most {MAX_FILTERS} field filters")
    for name, value in out:
        if len(name) > 128 or len(value) > 1024:
            raise InputError("too_large", "a filter's field or value is too long")
    return out


def _next_link(request: Request, after: str) -> str:
    """RFC 8288 ``Link`` to the next page: the same query with the cursor moved."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "after"]
    params.append(("after", after))
    return f'<{request.url.path}?{urlencode(params)}>; rel="next"'


PageSize = Annotated[
    int, Query(alias="page-size", ge=1, le=MAX_PAGE, description="Items per page (1-1000).")
]
Name = Annotated[str, Path(max_length=256, description="The register's name.")]
TreeSize = Annotated[
    int | None,
    Query(alias="tree-size", ge=0, le=MAX_INT, description="Tree size (default: the latest)."),
]
#: Writes carry ``Authorization: Bearer <admin or custodian token>`` (OpenAPI: a security scheme).
_bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="The platform's admin token, or a custodian token of the register.",
)
Authorization = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_scheme)]


def registers_service(platform: Platform) -> tuple[Service, FastAPI]:
    """The registers sub-application and its catalogue entry."""
    app = service_app(
        "Registers",
        "Authoritative registers (GOV.UK Registers model) with RFC 9162 proofs, C2SP "
        "checkpoints and tiles, RSF/CSV/JSON downloads and a custodian write API.",
    )
    app.state.registers_api = RegistersAPI(platform)
    # Every operation: a hostile URL is refused before any route parses it.
    app.add_middleware(QueryStringLimit, max_bytes=MAX_QUERY_BYTES)
    app.include_router(router)
    service = Service(
        MOUNT,
        "Registers",
        "Authoritative registers: records, entries, RSF/CSV/JSON, proofs and signed checkpoints.",
        ("GOV.UK Registers (RSF)", "RFC 9162", "C2SP tlog-checkpoint", "C2SP tlog-tiles"),
    )
    return service, app


def _api(request: Request) -> RegistersAPI:
    api: RegistersAPI = request.app.state.registers_api
    return api


router = APIRouter()


@router.get(
    "/",
    summary="Every register",
    responses=_read_responses(_LISTING, "The registers of this platform."),
)
async def list_registers(request: Request) -> Response:
    api = _api(request)
    store = api.store
    heads = store.heads()
    etag = '"' + "-".join(h.etag.strip('"')[:12] for h in heads)[:64] + f'-{len(heads)}"'
    if (cached := _not_modified(request, etag)) is not None:
        return cached
    metadata = store.all_metadata()
    body = {"registers": [api.summary(h, metadata.get(h.id, {}), full=False) for h in heads]}
    return _ok(orjson.dumps(body), etag)


@router.get(
    "/{name}",
    summary="A register: metadata, fields, sizes, log and verification links",
    responses=_read_responses(_SUMMARY, "The register."),
)
async def register(request: Request, name: Name) -> Response:
    api = _api(request)
    store = api.store
    head = store.head(name)
    if (cached := _not_modified(request, head.etag)) is not None:
        return cached
    body = api.summary(head, store.metadata(head), full=True)
    return _ok(orjson.dumps(body), head.etag)


@router.get(
    "/{name}/records",
    summary="Records in key order; filter with ?FIELD=VALUE (exact, all must hold)",
    responses=_read_responses(_RECORDS, "A page of records; the next in Link rel=next."),
)
async def records(
    request: Request,
    name: Name,
    after: Annotated[str | None, Query(max_length=MAX_KEY_LENGTH)] = None,
    page_size: PageSize = 100,
) -> Response:
    api = _api(request)
    store = api.store
    where = _filters(request)
    head = store.head(name)
    if where:
        schema_fields = _field_names(store, head)
        for field_name, _ in where:
            if field_name not in schema_fields:
                raise CivicError("unknown_field", f"register {name!r} has no field {field_name!r}")
    if (cached := _not_modified(request, head.etag)) is not None:
        return cached
    rows = store.records(head, after=after, limit=page_size, where=where)
    headers = {}
    if len(rows) == page_size:
        headers["Link"] = _next_link(request, rows[-1].entry.key)
    return _ok(records_json(rows), head.etag, headers=headers)


@router.get(
    "/{name}/records/{key:path}/entries",
    summary="A record's trail: every entry for its key, oldest first",
    responses=_read_responses({"type": "array", "items": _ENTRY}, "The key's entries."),
)
async def trail(
    request: Request,
    name: Name,
    key: Annotated[str, Path(max_length=1024)],
    after: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
    page_size: PageSize = 100,
) -> Response:
    api = _api(request)
    store = api.store
    head = store.head(name)
    _check_key(key)
    if (cached := _not_modified(request, head.etag)) is not None:
        return cached
    entries = store.trail(head, key, after=after, limit=page_size)
    if not entries and after == 0:
        raise CivicError("not_found", f"no record {key!r} in {name!r}")
    headers = {}
    if len(entries) == page_size:
        headers["Link"] = _next_link(request, str(entries[-1].number))
    return _ok(orjson.dumps([entry_json(e) for e in entries]), head.etag, headers=headers)


@router.get(
    "/{name}/records/{key:path}",
    summary="A record: the latest entry for its key, with its item",
    responses=_read_responses(_RECORDS, "The record, keyed by its key."),
)
async def record(
    request: Request, name: Name, key: Annotated[str, Path(max_length=1024)]
) -> Response:
    api = _api(request)
    store = api.store
    head, row = store.record(name, key)
    if (cached := _not_modified(request, head.etag)) is not None:
        return cached
    if row is None:
        raise CivicError("not_found", f"no record {key[:80]!r} in {name!r}")
    body = b"{" + json_string(row.entry.key).encode() + b":" + record_json(row) + b"}"
    return _ok(body, head.etag)


@router.get(
    "/{name}/entries",
    summary="Entries in order (user entries; ?scope=system for the schema's)",
    responses=_read_responses({"type": "array", "items": _ENTRY}, "A page of entries."),
)
async def entries(
    request: Request,
    name: Name,
    scope: Scope = Scope.USER,
    after: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
    page_size: PageSize = 100,
) -> Response:
    api = _api(request)
    store = api.store
    head = store.head(name)
    if (cached := _not_modified(request, head.etag)) is not None:
        return cached
    found = store.entries(head, scope=scope, after=after, limit=page_size)
    headers = {}
    if len(found) == page_size:
        headers["Link"] = _next_link(request, str(found[-1].number))
    return _ok(orjson.dumps([entry_json(e) for e in found]), head.etag, headers=headers)


@router.get(
    "/{name}/entries/{number}",
    summary="One entry, by its number within its scope",
    responses=_read_responses(_ENTRY, "The entry (entries never change)."),
)
async def entry(
    request: Request,
    name: Name,
    number: Annotated[int, Path(ge=1, le=MAX_INT)],
    scope: Scope = Scope.USER,
) -> Response:
    api = _api(request)
    store = api.store
    head = store.head(name)
    found = store.entry(head, number, scope)
    etag = f'"{scope.value}-{number}-{found.position}"'
    if (cached := _not_modified(request, etag)) is not None:
        return cached
    return _ok(orjson.dumps(entry_json(found)), etag, cache=_IMMUTABLE)


@router.get(
    "/{name}/items/{item_hash}",
    summary="An item, by its sha-256 hash (canonical JSON)",
    responses=_read_responses(_ITEM, "The item (items never change)."),
)
async def item(
    request: Request, name: Name, item_hash: Annotated[str, Path(max_length=128)]
) -> Response:
    api = _api(request)
    store = api.store
    if ITEM_HASH_RE.fullmatch(item_hash) is None:
        raise CivicError("not_found", "items are named sha-256:<64 lower-case hex digits>")
    head = store.head(name)
    etag = f'"{item_hash}"'
    if (cached := _not_modified(request, etag)) is not None:
        return cached
    return _ok(store.item(head, item_hash), etag, cache=_IMMUTABLE)


# -- verification -----------------------------------------------------------------------


@router.get(
    "/{name}/proofs/inclusion/{index}",
    summary="RFC 9162 inclusion proof of the log entry at INDEX",
    responses=_read_responses(_INCLUSION, "The audit path (RFC 6962 §4.5 shape, base64)."),
)
async def inclusion(
    request: Request,
    name: Name,
    index: Annotated[int, Path(ge=0, le=MAX_INT)],
    tree_size: TreeSize = None,
) -> Response:
    api = _api(request)
    store = api.store
    head = store.head(name)
    size = head.size if tree_size is None else tree_size
    if size > head.size or index >= size:
        raise InputError(
            "proof_out_of_range", f"no entry {index} in a tree of {size} (log has {head.size})"
        )
    etag = f'"inclusion-{index}-{size}-{head.log_root.hex()[:16]}"'
    if (cached := _not_modified(request, etag)) is not None:
        return cached
    path = store.logs.inclusion_proof(head.log_name, index, size)
    leaf = store.logs.entry(head.log_name, index)
    from civicstack.log import leaf_hash

    body = {
        "leaf_index": index,
        "tree_size": size,
        "leaf_hash": b64std_encode(leaf_hash(leaf)),
        "audit_path": [b64std_encode(h) for h in path],
        "root_hash": b64std_encode(store.logs.root(head.log_name, size)),
    }
    return _ok(orjson.dumps(body), etag)


@router.get(
    "/{name}/proofs/consistency/{first}/{second}",
    summary="RFC 9162 consistency proof between two tree sizes",
    responses=_read_responses(_CONSISTENCY, "The proof (RFC 6962 §4.4 shape, base64)."),
)
async def consistency(
    request: Request,
    name: Name,
    first: Annotated[int, Path(ge=0, le=MAX_INT)],
    second: Annotated[int, Path(ge=0, le=MAX_INT)],
) -> Response:
    api = _api(request)
    store = api.store
    head = store.head(name)
    if not 0 < first <= second <= head.size:
        raise InputError(
            "proof_out_of_range",
            f"no consistency proof from {first} to {second} (log has {head.size})",
        )
    etag = f'"consistency-{first}-{second}-{head.log_root.hex()[:16]}"'
    if (cached := _not_modified(request, etag)) is not None:
        return cached
    proof = store.logs.consistency_proof(head.log_name, first, second)
    body = {
        "first": first,
        "second": second,
        "consistency": [b64std_encode(h) for h in proof],
        "first_root": b64std_encode(store.logs.root(head.log_name, first)),
        "second_root": b64std_encode(store.logs.root(head.log_name, second)),
    }
    return _ok(orjson.dumps(body), etag)


@router.get(
    "/{name}/checkpoint",
    summary="The latest signed checkpoint (C2SP tlog-checkpoint), or the one at ?tree-size",
    responses=_read_responses({"type": "string"}, "A C2SP signed note.", _TEXT),
)
async def checkpoint(request: Request, name: Name, tree_size: TreeSize = None) -> Response:
    api = _api(request)
    store = api.store
    head = store.head(name)
    return _checkpoint(request, store, head, tree_size)


@router.get(
    "/{name}/log/checkpoint",
    summary="tlog-tiles: the latest checkpoint",
    responses=_read_responses({"type": "string"}, "A C2SP signed note.", _TEXT),
)
async def tiles_checkpoint(request: Request, name: Name) -> Response:
    api = _api(request)
    store = api.store
    return _checkpoint(request, store, store.head(name), None)


def _checkpoint(
    request: Request, store: RegisterStore, head: StoredHead, size: int | None
) -> Response:
    if size is not None and size > head.size:
        raise InputError("proof_out_of_range", f"the log has {head.size} entries")
    etag = head.etag if size is None else f'"checkpoint-{size}"'
    if (cached := _not_modified(request, etag)) is not None:
        return cached
    note = store.logs.checkpoint(head.log_name, size)
    return _ok(note.encode(), etag, media=_TEXT)


@router.get(
    "/{name}/receipts/{index}",
    summary="A C2SP tlog-proof receipt for the log entry at INDEX",
    responses=_read_responses({"type": "string"}, "A tlog-proof bundle.", _TEXT),
)
async def receipt(
    request: Request,
    name: Name,
    index: Annotated[int, Path(ge=0, le=MAX_INT)],
    tree_size: TreeSize = None,
) -> Response:
    api = _api(request)
    store = api.store
    head = store.head(name)
    size = head.size if tree_size is None else tree_size
    if size > head.size or index >= size:
        raise InputError("proof_out_of_range", f"no entry {index} in a tree of {size}")
    etag = f'"receipt-{index}-{size}-{head.log_root.hex()[:16]}"'
    if (cached := _not_modified(request, etag)) is not None:
        return cached
    text = store.logs.receipt(head.log_name, index, size=size).text()
    return _ok(text.encode(), etag, media=_TEXT)


@router.get(
    "/{name}/log/tile/{tile_path:path}",
    summary="tlog-tiles: a hash tile (tile/L/N[.p/W]) or entry bundle (tile/entries/N[.p/W])",
    responses={
        200: {
            "description": "Tile or bundle bytes (C2SP tlog-tiles).",
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
        },
        **_NOT_MODIFIED,
        **_PROBLEMS,
    },
)
async def tile(request: Request, name: Name, tile_path: str) -> Response:
    api = _api(request)
    store = api.store
    head = store.head(name)
    level, index, width = parse_tile_path("tile/" + tile_path)
    if index > MAX_INT // (TILE_WIDTH * TILE_WIDTH):
        raise CivicError("not_found", "no such tile")
    partial = width < TILE_WIDTH
    etag = f'"{tile_path}"' if not partial else f'"{tile_path}-{head.log_root.hex()[:16]}"'
    if (cached := _not_modified(request, etag)) is not None:
        return cached
    if level is None:
        data = store.logs.entry_bundle(head.log_name, index, width if partial else None)
    else:
        data = store.logs.tile(head.log_name, level, index, width if partial else None)
    # A full tile never changes; a partial one is a prefix of what it becomes.
    return _ok(data, etag, media="application/octet-stream", cache=_IMMUTABLE)


# -- downloads --------------------------------------------------------------------------


@router.get(
    "/{name}/download-rsf",
    summary="The whole register as RSF (streamed; ends with assert-root-hash)",
    responses=_read_responses({"type": "string"}, "Register Serialisation Format.", _TEXT),
)
def download_rsf(request: Request, name: Name) -> Response:
    api = _api(request)
    store = api.store
    head = store.head(name)
    if (cached := _not_modified(request, head.etag)) is not None:
        return cached
    lines = store.export_rsf(name)
    return StreamingResponse(
        (line.encode() for line in lines),
        media_type=_TEXT,
        headers={
            "ETag": head.etag,
            "Cache-Control": _REVALIDATE,
            "Content-Disposition": f'attachment; filename="{name}.rsf"',
        },
    )


@router.get(
    "/{name}/records.json",
    summary="Every record as JSON (streamed)",
    responses=_read_responses(_RECORDS, "Records keyed by key."),
)
def download_json(request: Request, name: Name) -> Response:
    api = _api(request)
    store = api.store
    head = store.head(name)
    if (cached := _not_modified(request, head.etag)) is not None:
        return cached
    head, _, rows = store.snapshot_records(name)

    def body() -> Iterator[bytes]:
        yield b"{"
        first = True
        for row in rows:
            yield (b"" if first else b",\n") + json_string(row.entry.key).encode() + b":"
            yield record_json(row)
            first = False
        yield b"}"

    return StreamingResponse(
        body(),
        media_type="application/json",
        headers={"ETag": head.etag, "Cache-Control": _REVALIDATE},
    )


@router.get(
    "/{name}/records.csv",
    summary="Every record as CSV (streamed; list values joined with ';')",
    responses=_read_responses({"type": "string"}, "RFC 4180 CSV.", "text/csv"),
)
def download_csv(request: Request, name: Name) -> Response:
    api = _api(request)
    store = api.store
    head = store.head(name)
    if (cached := _not_modified(request, head.etag)) is not None:
        return cached
    head, schema, rows = store.snapshot_records(name)
    columns = ["index-entry-number", "entry-number", "entry-timestamp", "key", *schema.fields]

    def body() -> Iterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(columns)
        for row in rows:
            e = row.entry
            for one in row.record().items:
                values = [
                    "" if v is None else v if isinstance(v, str) else ";".join(v)
                    for v in (one.get(f) for f in schema.fields)
                ]
                writer.writerow([str(e.number), str(e.number), e.timestamp, e.key, *values])
            if buffer.tell() > 65536:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode()

    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={
            "ETag": head.etag,
            "Cache-Control": _REVALIDATE,
            "Content-Disposition": f'attachment; filename="{name}.csv"',
        },
    )


# -- writes -----------------------------------------------------------------------------


@router.post(
    "/{name}/entries",
    status_code=201,
    summary="Append records (custodian): validated, written and signed as one batch",
    responses=_write_responses(201, _WRITTEN, "The new entries and signed checkpoint."),
)
def append(
    request: Request, name: Name, body: EntriesIn, authorization: Authorization = None
) -> Response:
    api = _api(request)
    store = api.store
    head = store.head(name)
    api.authorise(head, authorization)
    batch = []
    for record_in in body.entries:
        given = ([record_in.item] if record_in.item is not None else []) + (record_in.items or [])
        if not given:
            raise InputError("invalid_request", f"record {record_in.key!r} has no item")
        batch.append((record_in.key, [Item.of(i) for i in given]))
    changes = store.append(name, batch, now=api.clock.now())
    return Response(
        orjson.dumps(api.written(name, changes.entries)),
        status_code=201,
        media_type="application/json",
    )


@router.post(
    "/{name}/rsf",
    summary="Append an RSF patch (custodian): checked line by line, applied whole or not",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
    responses=_write_responses(200, _WRITTEN, "The new entries and signed checkpoint."),
)
async def patch(request: Request, name: Name, authorization: Authorization = None) -> Response:
    api = _api(request)
    store = api.store
    head = store.head(name)
    api.authorise(head, authorization)
    data = await request.body()
    if len(data) > MAX_RSF_PATCH:
        raise InputError("too_large", f"an RSF patch is at most {MAX_RSF_PATCH} bytes")
    limits = RSFLimits(max_bytes=MAX_RSF_PATCH)
    changes = store.import_rsf({name: data}, limits=limits)[name]
    return Response(orjson.dumps(api.written(name, changes.entries)), media_type="application/json")


@router.post(
    "/{name}/fields",
    status_code=201,
    summary="Add a field to the register (registers RFC 0001), described in the field register",
    responses=_write_responses(201, _SUMMARY, "The register with its new field."),
)
def add_field(
    request: Request, name: Name, body: FieldIn, authorization: Authorization = None
) -> Response:
    api = _api(request)
    store = api.store
    head = store.head(name)
    api.authorise(head, authorization)
    store.add_field(name, body.definition(), now=api.clock.now())
    head = store.head(name)
    return Response(
        orjson.dumps(api.summary(head, store.metadata(head), full=True)),
        status_code=201,
        media_type="application/json",
    )


@router.post(
    "/",
    status_code=201,
    summary="Create a register (admin): its schema entries open its log",
    responses=_write_responses(201, _SUMMARY, "The new register."),
)
def create(request: Request, body: RegisterIn, authorization: Authorization = None) -> Response:
    api = _api(request)
    store = api.store
    api.authorise(None, authorization)
    store.create_register(
        body.name,
        [f.definition() for f in body.fields],
        now=api.clock.now(),
        custodian=body.custodian,
        title=body.title,
        text=body.text,
        registry=body.registry,
        phase=body.phase,
    )
    head = store.head(body.name)
    return Response(
        orjson.dumps(api.summary(head, store.metadata(head), full=True)),
        status_code=201,
        media_type="application/json",
    )


@router.post(
    "/{name}/custodian-tokens",
    status_code=201,
    summary="Issue a custodian token for the register (admin); shown once",
    responses=_write_responses(201, _TOKEN, "The token."),
)
def issue_token(
    request: Request, name: Name, body: TokenIn, authorization: Authorization = None
) -> Response:
    api = _api(request)
    store = api.store
    api.authorise(None, authorization)
    token = store.issue_custodian_token(name, label=body.label, now=api.clock.now())
    return Response(
        orjson.dumps({"register": name, "token": token}),
        status_code=201,
        media_type="application/json",
    )


def _field_names(store: RegisterStore, head: StoredHead) -> set[str]:
    meta = store.metadata(head)
    items = meta.get(f"register:{head.name}")
    return set(RegisterDefinition.from_item(items[0]).fields) if items else set()
