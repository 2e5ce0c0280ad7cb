"""What the registers routes answer: the GOV.UK resource shapes, and responses with validators.

Caching (RFC 9110 §8.8.3, §13.1.2): every response carries an ETag; ``If-None-Match`` answers
304; resources that never change (items, entries, full tiles) are served as immutable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response

from civicstack.registers import Entry
from civicstack.registers.canonical import json_string
from civicstack.registers.stored import RecordRow, StoredHead
from civicstack.services.registers import Registers

MOUNT = "/registers"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
TEXT_PLAIN = "text/plain; charset=utf-8"


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


def summary_json(registers: Registers, head: StoredHead, *, full: bool) -> dict[str, Any]:
    """The register's description (:meth:`Registers.describe`) with the URLs of its resources."""
    return with_links(head, registers.describe(head, full=full), full=full)


def with_links(head: StoredHead, described: dict[str, Any], *, full: bool) -> dict[str, Any]:
    """A register's description with the URLs of its resources added."""
    base = f"{MOUNT}/{head.name}"
    if not full:
        described["links"] = {"self": base}
        return described
    described["log"]["checkpoint"] = f"{base}/checkpoint"
    described["log"]["tiles"] = f"{base}/log"
    described["links"] = {
        "self": base,
        "records": f"{base}/records",
        "entries": f"{base}/entries",
        "download-rsf": f"{base}/download-rsf",
        "records-csv": f"{base}/records.csv",
        "records-json": f"{base}/records.json",
    }
    return described


def written_json(registers: Registers, name: str, entries: Sequence[Entry]) -> dict[str, Any]:
    """What a write answers: the entries and the new signed state."""
    head = registers.store.head(name)
    log = registers.store.log_head(head)
    return {
        "register": name,
        "entries": [entry_json(e) for e in entries],
        "tree-size": log.size,
        "root-hash": "sha-256:" + head.root.hex(),
        "checkpoint": log.checkpoint,
    }


def not_modified(request: Request, etag: str) -> Response | None:
    """304 when ``If-None-Match`` names ``etag`` or ``*`` (RFC 9110 §13.1.2)."""
    wanted = request.headers.get("if-none-match")
    if not wanted:
        return None
    tags = {t.strip().removeprefix("W/") for t in wanted.split(",")}
    if etag in tags or "*" in tags:
        return Response(status_code=304, headers={"ETag": etag})
    return None


def ok(
    body: bytes,
    etag: str,
    *,
    media: str = "application/json",
    cache: str = REVALIDATE,
    headers: dict[str, str] | None = None,
) -> Response:
    """A 200 response carrying the validator and caching policy."""
    return Response(
        body, media_type=media, headers={"ETag": etag, "Cache-Control": cache, **(headers or {})}
    )
