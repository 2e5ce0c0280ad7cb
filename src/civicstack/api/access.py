"""The access log as anyone reads it (``/access``): C2SP tlog-tiles and tlog-proof receipts.

The access log is an RFC 9162 Merkle log of every data access through the exchange, released or
refused (:mod:`civicstack.access`). It is served exactly as the registers' logs are, so every
tlog-tiles client (``civic log monitor --tiles``) reads it:

- ``GET /access`` — the log's origin, verifier key (C2SP signed-note ``vkey``), size and the URLs;
- ``GET /access/log/checkpoint`` — the latest C2SP tlog-checkpoint (a signed note);
- ``GET /access/log/tile/<L>/<N>[.p/<W>]`` — hash tiles, ``/access/log/tile/entries/<N>[.p/<W>]``
  — entry bundles (C2SP tlog-tiles);
- ``GET /access/receipts/{index}`` — a C2SP tlog-proof of one entry under the latest checkpoint;
- ``POST /access/nonces``, then ``POST /access/history`` with a PID presentation to
  ``<base>/access`` and that nonce — the citizen's own history as of the latest checkpoint:
  every entry about them with its inclusion proof, the checkpoint's last leaf (the subject
  map's root) with its proof, and the subject map's proof for their key
  (:mod:`civicstack.access.history`; the wallet verifies it all).

Entries name requester, provider, purpose, categories, outcome and time, and the citizen only by
a tag outsiders cannot link (:mod:`civicstack.access.subject`).
"""

# No `from __future__ import annotations`: FastAPI reads the route annotations at definition.
from typing import Annotated, Any

import orjson
from fastapi import FastAPI, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from civicstack._crypto import sha256_b64url
from civicstack.api.catalogue import Service, service_app
from civicstack.api.limits import BodySizeLimit
from civicstack.api.problems import PROBLEM_SCHEMA
from civicstack.errors import CivicError
from civicstack.log.tiles import TILE_WIDTH, parse_tile_path
from civicstack.platform import Platform

SUMMARY = (
    "The access log: every data access through the exchange, released or refused, in an RFC "
    "9162 Merkle log served as C2SP tlog-tiles, with signed checkpoints and receipts."
)
_INT64 = (1 << 63) - 1
_IMMUTABLE = "public, max-age=31536000, immutable"
_TEXT = "text/plain; charset=utf-8"
_PROBLEMS: dict[int | str, dict[str, Any]] = dict.fromkeys((400, 404), PROBLEM_SCHEMA)
_CITIZEN_PROBLEMS: dict[int | str, dict[str, Any]] = dict.fromkeys(
    (400, 401, 403, 413, 429, 503), PROBLEM_SCHEMA
)
#: A PID presentation and a nonce fit well inside this.
MAX_BODY = 96 * 1024


class NonceOut(BaseModel):
    """A nonce for one PID presentation to ``aud``."""

    nonce: str
    aud: str
    expires_at: int


class PidProof(BaseModel):
    """A PID presentation to this service (``aud`` from ``POST /access/nonces``) with its
    nonce."""

    model_config = ConfigDict(extra="forbid")
    presentation: str = Field(max_length=MAX_BODY, description="SD-JWT VC + KB-JWT.")
    nonce: str = Field(max_length=64)


class ProvenLeafOut(BaseModel):
    """An access-log leaf with its RFC 9162 inclusion proof under the checkpoint."""

    index: int
    entry: str = Field(description="The leaf's bytes, base64url.")
    proof: list[str] = Field(description="The inclusion proof, base64url hashes.")


class MapLeafOut(BaseModel):
    """The leaf a subject-map path ends at (a key and its blinded value), base64url."""

    key: str
    value: str


class MapProofOut(BaseModel):
    """The subject map's proof for the citizen's key: sibling hashes from the root down."""

    siblings: list[str]
    leaf: MapLeafOut | None


class HistoryOut(BaseModel):
    """A citizen's access history as of one checkpoint, with every proof the wallet checks."""

    log_subject: str = Field(description="The citizen's access-log handle (their tag key).")
    checkpoint: str = Field(description="The signed checkpoint, with witnesses' cosignatures.")
    entries: list[ProvenLeafOut]
    map_root: ProvenLeafOut | None = Field(description="The checkpoint's last leaf.")
    map_proof: MapProofOut


def _etagged(request: Request, body: bytes, etag: str, media: str, cache: str) -> Response:
    wanted = request.headers.get("if-none-match")
    if wanted and etag in {t.strip().removeprefix("W/") for t in wanted.split(",")}:
        return Response(status_code=304, headers={"ETag": etag})
    return Response(body, media_type=media, headers={"ETag": etag, "Cache-Control": cache})


def access_service(platform: Platform) -> tuple[Service, FastAPI]:
    """The access-log sub-application and its catalogue entry."""
    app = service_app("Access log", SUMMARY)
    app.add_middleware(BodySizeLimit, max_body=MAX_BODY)

    def store() -> Any:
        return platform.access_log_store

    @app.get("/", summary="The access log: origin, verifier key, size, where to read it")
    def describe() -> dict[str, Any]:
        s = store()
        head = s.logs.head(s.name)
        return {
            "origin": head.origin,
            "verifier_key": head.verifier_key,
            "size": head.size,
            "checkpoint": "/access/log/checkpoint",
            "tiles": "/access/log",
        }

    @app.get(
        "/log/checkpoint",
        summary="tlog-tiles: the latest signed checkpoint (C2SP tlog-checkpoint)",
        responses={
            200: {"content": {_TEXT: {"schema": {"type": "string"}}}, "description": "A note."},
            304: {"description": "Not modified."},
            **_PROBLEMS,
        },
    )
    def checkpoint(request: Request) -> Response:
        s = store()
        note = s.logs.checkpoint(s.name)
        etag = f'"checkpoint-{sha256_b64url(note.encode())[:22]}"'
        return _etagged(request, note.encode(), etag, _TEXT, "no-cache")

    @app.get(
        "/log/tile/{tile_path:path}",
        summary="tlog-tiles: a hash tile (tile/L/N[.p/W]) or entry bundle (tile/entries/N[.p/W])",
        responses={
            200: {
                "description": "Tile or bundle bytes (C2SP tlog-tiles).",
                "content": {"application/octet-stream": {"schema": {"type": "string"}}},
            },
            304: {"description": "Not modified."},
            **_PROBLEMS,
        },
    )
    def tile(request: Request, tile_path: str) -> Response:
        s = store()
        level, index, width = parse_tile_path("tile/" + tile_path)
        if index > _INT64 // (TILE_WIDTH * TILE_WIDTH):
            raise CivicError("not_found", "no such tile")
        partial = width < TILE_WIDTH
        if level is None:
            data = s.logs.entry_bundle(s.name, index, width if partial else None)
        else:
            data = s.logs.tile(s.name, level, index, width if partial else None)
        # A full tile never changes; a partial one is a prefix of what it becomes.
        return _etagged(request, data, f'"{tile_path}"', "application/octet-stream", _IMMUTABLE)

    @app.get(
        "/receipts/{index}",
        summary="A C2SP tlog-proof receipt for the access-log entry at INDEX",
        responses={
            200: {"content": {_TEXT: {"schema": {"type": "string"}}}, "description": "A proof."},
            **_PROBLEMS,
        },
    )
    def receipt(index: Annotated[int, Path(ge=0, le=_INT64)]) -> Response:
        s = store()
        head = s.logs.head(s.name)
        if index >= head.size:
            raise CivicError("not_found", f"no entry {index} (the log has {head.size})")
        # The latest SIGNED checkpoint: every batch signs one, so it covers every entry.
        size = int(head.checkpoint.split("\n")[1])
        if index >= size:
            raise CivicError("not_found", f"entry {index} is not under a signed checkpoint yet")
        text = s.logs.receipt(s.name, index, size=size).text()
        return Response(text.encode(), media_type=_TEXT)

    @app.get(
        "/entries/{index}",
        summary="The access-log entry at INDEX, as JSON",
        responses=_PROBLEMS,
    )
    def entry(index: Annotated[int, Path(ge=0, le=_INT64)]) -> Response:
        from civicstack.access import parse_leaf

        s = store()
        head = s.logs.head(s.name)
        if index >= head.size:
            raise CivicError("not_found", f"no entry {index} (the log has {head.size})")
        body = parse_leaf(s.logs.entry(s.name, index)).to_json()
        return Response(orjson.dumps({"index": index, **body}), media_type="application/json")

    @app.post(
        "/nonces",
        status_code=201,
        tags=["wallets"],
        summary="A nonce for the wallet's next PID presentation to this service",
        responses=_CITIZEN_PROBLEMS,
    )
    def nonce() -> NonceOut:
        issued = platform.access_histories.nonce()
        return NonceOut(nonce=issued.nonce, aud=issued.aud, expires_at=issued.expires_at)

    @app.post(
        "/history",
        tags=["wallets"],
        summary="Your access history with its completeness proof (PID-authenticated)",
        responses={
            200: {"model": HistoryOut, "description": "The history and its proofs."},
            **_CITIZEN_PROBLEMS,
        },
    )
    def history(body: PidProof) -> Response:
        got = platform.access_histories.history(body.presentation, body.nonce)
        return Response(orjson.dumps(got.to_json()), media_type="application/json")

    return (
        Service(
            "/access",
            "Access log",
            "Every data access, released or refused: RFC 9162 log, tiles, checkpoints, receipts.",
            ("RFC 9162", "C2SP tlog-checkpoint", "C2SP tlog-tiles", "C2SP tlog-proof"),
        ),
        app,
    )
