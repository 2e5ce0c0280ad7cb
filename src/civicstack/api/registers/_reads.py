"""Reading registers: listings, records, entries, items, search, downloads."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response, StreamingResponse

from civicstack._crypto import sha256_digest
from civicstack.api.registers._docs import (
    ENTRY_DOC,
    ITEM_DOC,
    LISTING_DOC,
    RECORDS_DOC,
    SUMMARY_DOC,
    read_responses,
)
from civicstack.api.registers._representations import (
    IMMUTABLE,
    REVALIDATE,
    TEXT_PLAIN,
    entry_json,
    not_modified,
    ok,
    record_json,
    records_json,
    summary_json,
    with_links,
)
from civicstack.api.registers._requests import (
    INT64,
    Name,
    PageSize,
    check_key,
    filters,
    next_link,
    registers_api,
)
from civicstack.errors import CivicError
from civicstack.registers import DEFAULT_LIMITS, Scope
from civicstack.registers.canonical import json_string
from civicstack.registers.entries import ITEM_HASH_RE

router = APIRouter()


@router.get(
    "/",
    summary="Every register",
    responses=read_responses(LISTING_DOC, "The registers of this platform."),
)
async def list_registers(request: Request) -> Response:
    """Every register, with its sizes and root hash."""
    api = registers_api(request)
    store = api.store
    heads = store.heads()
    # The listing changes when any register does: a digest of every register's state.
    states = "".join(f"{h.name} {h.etag}\n" for h in heads).encode()
    etag = f'"{len(heads)}-{sha256_digest(states).hex()[:24]}"'
    if (cached := not_modified(request, etag)) is not None:
        return cached
    metadata = store.all_metadata()
    described = [
        with_links(h, api.registers.describe(h, metadata.get(h.id, {}), full=False), full=False)
        for h in heads
    ]
    body = {"registers": described}
    return ok(orjson.dumps(body), etag)


@router.get(
    "/{name}",
    summary="A register: metadata, fields, sizes, log and verification links",
    responses=read_responses(SUMMARY_DOC, "The register."),
)
async def register(request: Request, name: Name) -> Response:
    """The register's definition, fields, sizes, log key and links."""
    api = registers_api(request)
    store = api.store
    head = store.head(name)
    if (cached := not_modified(request, head.etag)) is not None:
        return cached
    body = summary_json(api.registers, head, full=True)
    return ok(orjson.dumps(body), head.etag)


@router.get(
    "/{name}/records",
    summary="Records in key order; filter with ?FIELD=VALUE (exact, all must hold)",
    responses=read_responses(RECORDS_DOC, "A page of records; the next in Link rel=next."),
)
async def records(
    request: Request,
    name: Name,
    after: Annotated[str | None, Query(max_length=DEFAULT_LIMITS.max_key_length)] = None,
    page_size: PageSize = 100,
) -> Response:
    """A page of records in key order, filtered by ?FIELD=VALUE."""
    api = registers_api(request)
    where = filters(request, api.limits)
    head = api.store.head(name)
    if where:
        api.registers.check_filters(head, where)
    if (cached := not_modified(request, head.etag)) is not None:
        return cached
    rows = api.registers.records(head, after=after, limit=page_size, where=where)
    headers = {}
    if len(rows) == page_size:
        headers["Link"] = next_link(request, rows[-1].entry.key)
    return ok(records_json(rows), head.etag, headers=headers)


@router.get(
    "/{name}/records/{key:path}/entries",
    summary="A record's trail: every entry for its key, oldest first",
    responses=read_responses({"type": "array", "items": ENTRY_DOC}, "The key's entries."),
)
async def trail(
    request: Request,
    name: Name,
    key: Annotated[str, Path(max_length=1024)],
    after: Annotated[int, Query(ge=0, le=INT64)] = 0,
    page_size: PageSize = 100,
) -> Response:
    """Every entry for a key, oldest first."""
    api = registers_api(request)
    store = api.store
    head = store.head(name)
    check_key(key, api.limits)
    if (cached := not_modified(request, head.etag)) is not None:
        return cached
    entries = store.trail(head, key, after=after, limit=page_size)
    if not entries and after == 0:
        raise CivicError("not_found", f"no record {key!r} in {name!r}")
    headers = {}
    if len(entries) == page_size:
        headers["Link"] = next_link(request, str(entries[-1].number))
    return ok(orjson.dumps([entry_json(e) for e in entries]), head.etag, headers=headers)


@router.get(
    "/{name}/records/{key:path}",
    summary="A record: the latest entry for its key, with its item",
    responses=read_responses(RECORDS_DOC, "The record, keyed by its key."),
)
async def record(
    request: Request, name: Name, key: Annotated[str, Path(max_length=1024)]
) -> Response:
    """The latest entry for a key, with its item."""
    api = registers_api(request)
    store = api.store
    head, row = store.record(name, key)
    if (cached := not_modified(request, head.etag)) is not None:
        return cached
    if row is None:
        raise CivicError("not_found", f"no record {key[:80]!r} in {name!r}")
    body = b"{" + json_string(row.entry.key).encode() + b":" + record_json(row) + b"}"
    return ok(body, head.etag)


@router.get(
    "/{name}/entries",
    summary="Entries in order (user entries; ?scope=system for the schema's)",
    responses=read_responses({"type": "array", "items": ENTRY_DOC}, "A page of entries."),
)
async def entries(
    request: Request,
    name: Name,
    scope: Scope = Scope.USER,
    after: Annotated[int, Query(ge=0, le=INT64)] = 0,
    page_size: PageSize = 100,
) -> Response:
    """A page of entries of one scope, in order."""
    api = registers_api(request)
    store = api.store
    head = store.head(name)
    if (cached := not_modified(request, head.etag)) is not None:
        return cached
    found = store.entries(head, scope=scope, after=after, limit=page_size)
    headers = {}
    if len(found) == page_size:
        headers["Link"] = next_link(request, str(found[-1].number))
    return ok(orjson.dumps([entry_json(e) for e in found]), head.etag, headers=headers)


@router.get(
    "/{name}/entries/{number}",
    summary="One entry, by its number within its scope",
    responses=read_responses(ENTRY_DOC, "The entry (entries never change)."),
)
async def entry(
    request: Request,
    name: Name,
    number: Annotated[int, Path(ge=1, le=INT64)],
    scope: Scope = Scope.USER,
) -> Response:
    """One entry by number."""
    api = registers_api(request)
    store = api.store
    head = store.head(name)
    found = store.entry(head, number, scope)
    etag = f'"{scope.value}-{number}-{found.position}"'
    if (cached := not_modified(request, etag)) is not None:
        return cached
    return ok(orjson.dumps(entry_json(found)), etag, cache=IMMUTABLE)


@router.get(
    "/{name}/items/{item_hash}",
    summary="An item, by its sha-256 hash (canonical JSON)",
    responses=read_responses(ITEM_DOC, "The item (items never change)."),
)
async def item(
    request: Request, name: Name, item_hash: Annotated[str, Path(max_length=128)]
) -> Response:
    """One item by hash, as canonical JSON."""
    api = registers_api(request)
    store = api.store
    if ITEM_HASH_RE.fullmatch(item_hash) is None:
        raise CivicError("not_found", "items are named sha-256:<64 lower-case hex digits>")
    head = store.head(name)
    etag = f'"{item_hash}"'
    if (cached := not_modified(request, etag)) is not None:
        return cached
    return ok(store.item(head, item_hash), etag, cache=IMMUTABLE)


# -- verification -----------------------------------------------------------------------


@router.get(
    "/{name}/download-rsf",
    summary="The whole register as RSF (streamed; ends with assert-root-hash)",
    responses=read_responses({"type": "string"}, "Register Serialisation Format.", TEXT_PLAIN),
)
def download_rsf(request: Request, name: Name) -> Response:
    """The register as RSF, streamed."""
    api = registers_api(request)
    store = api.store
    head = store.head(name)
    if (cached := not_modified(request, head.etag)) is not None:
        return cached
    lines = api.registers.export_rsf(name)
    return StreamingResponse(
        (line.encode() for line in lines),
        media_type=TEXT_PLAIN,
        headers={
            "ETag": head.etag,
            "Cache-Control": REVALIDATE,
            "Content-Disposition": f'attachment; filename="{name}.rsf"',
        },
    )


@router.get(
    "/{name}/records.json",
    summary="Every record as JSON (streamed)",
    responses=read_responses(RECORDS_DOC, "Records keyed by key."),
)
def download_json(request: Request, name: Name) -> Response:
    """Every record as one JSON object, streamed."""
    api = registers_api(request)
    store = api.store
    head = store.head(name)
    if (cached := not_modified(request, head.etag)) is not None:
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
        headers={"ETag": head.etag, "Cache-Control": REVALIDATE},
    )


@router.get(
    "/{name}/records.csv",
    summary="Every record as CSV (streamed; list values joined with ';')",
    responses=read_responses({"type": "string"}, "RFC 4180 CSV.", "text/csv"),
)
def download_csv(request: Request, name: Name) -> Response:
    """Every record as CSV, streamed."""
    api = registers_api(request)
    store = api.store
    head = store.head(name)
    if (cached := not_modified(request, head.etag)) is not None:
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
            "Cache-Control": REVALIDATE,
            "Content-Disposition": f'attachment; filename="{name}.csv"',
        },
    )
