"""Shared by the registers routes: limits, caching, representations, authentication."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import Depends, Path, Query, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from civicstack.errors import CivicError, InputError
from civicstack.platform import Platform
from civicstack.registers import (
    Entry,
    Item,
)
from civicstack.registers.canonical import json_string
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
RESERVED = {"after", "page-size", "scope"}
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
TEXT_PLAIN = "text/plain; charset=utf-8"


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


def check_key(key: str) -> str:
    """Return ``key`` if it could name a record, else raise ``not_found``."""
    if len(key) > MAX_KEY_LENGTH or KEY_RE.fullmatch(key) is None:
        raise CivicError("not_found", "no record with that key")
    return key


def filters(request: Request) -> list[tuple[str, str]]:
    """The ``?FIELD=VALUE`` filters of a record search, within the caps."""
    out = [(k, v) for k, v in request.query_params.multi_items() if k not in RESERVED]
    if len(out) > MAX_FILTERS:
        raise InputError("too_large", f"at most {MAX_FILTERS} field filters")
    for name, value in out:
        if len(name) > 128 or len(value) > 1024:
            raise InputError("too_large", "a filter's field or value is too long")
    return out


def next_link(request: Request, after: str) -> str:
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


def registers_api(request: Request) -> RegistersAPI:
    """The registers' logic the app was built with."""
    api: RegistersAPI = request.app.state.registers_api
    return api
