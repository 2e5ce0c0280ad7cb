"""Verifying registers: proofs, checkpoints, receipts and tlog-tiles."""

from __future__ import annotations

import hashlib
from typing import Annotated

import orjson
from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from civicstack.api.registers._docs import (
    CONSISTENCY_DOC,
    INCLUSION_DOC,
    NOT_MODIFIED,
    PROBLEMS,
    read_responses,
)
from civicstack.api.registers._representations import (
    IMMUTABLE,
    TEXT_PLAIN,
    not_modified,
    ok,
)
from civicstack.api.registers._requests import INT64, Name, TreeSize, registers_api
from civicstack.errors import CivicError, InputError
from civicstack.log.note import b64std_encode
from civicstack.log.tiles import TILE_WIDTH, parse_tile_path
from civicstack.registers.stored import StoredHead
from civicstack.stores.registers import RegisterStore

router = APIRouter()


@router.get(
    "/{name}/proofs/inclusion/{index}",
    summary="RFC 9162 inclusion proof of the log entry at INDEX",
    responses=read_responses(INCLUSION_DOC, "The audit path (RFC 6962 §4.5 shape, base64)."),
)
async def inclusion(
    request: Request,
    name: Name,
    index: Annotated[int, Path(ge=0, le=INT64)],
    tree_size: TreeSize = None,
) -> Response:
    """The audit path from the log entry at INDEX to the root of the tree of ?tree-size."""
    api = registers_api(request)
    store = api.store
    head = store.head(name)
    size = head.size if tree_size is None else tree_size
    if size > head.size or index >= size:
        raise InputError(
            "proof_out_of_range", f"no entry {index} in a tree of {size} (log has {head.size})"
        )
    etag = f'"inclusion-{index}-{size}-{head.log_root.hex()[:16]}"'
    if (cached := not_modified(request, etag)) is not None:
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
    return ok(orjson.dumps(body), etag)


@router.get(
    "/{name}/proofs/consistency/{first}/{second}",
    summary="RFC 9162 consistency proof between two tree sizes",
    responses=read_responses(CONSISTENCY_DOC, "The proof (RFC 6962 §4.4 shape, base64)."),
)
async def consistency(
    request: Request,
    name: Name,
    first: Annotated[int, Path(ge=0, le=INT64)],
    second: Annotated[int, Path(ge=0, le=INT64)],
) -> Response:
    """The proof that the tree of FIRST entries is a prefix of the tree of SECOND."""
    api = registers_api(request)
    store = api.store
    head = store.head(name)
    if not 0 < first <= second <= head.size:
        raise InputError(
            "proof_out_of_range",
            f"no consistency proof from {first} to {second} (log has {head.size})",
        )
    etag = f'"consistency-{first}-{second}-{head.log_root.hex()[:16]}"'
    if (cached := not_modified(request, etag)) is not None:
        return cached
    proof = store.logs.consistency_proof(head.log_name, first, second)
    body = {
        "first": first,
        "second": second,
        "consistency": [b64std_encode(h) for h in proof],
        "first_root": b64std_encode(store.logs.root(head.log_name, first)),
        "second_root": b64std_encode(store.logs.root(head.log_name, second)),
    }
    return ok(orjson.dumps(body), etag)


@router.get(
    "/{name}/checkpoint",
    summary="The latest signed checkpoint (C2SP tlog-checkpoint), or the one at ?tree-size",
    responses=read_responses({"type": "string"}, "A C2SP signed note.", TEXT_PLAIN),
)
async def checkpoint(request: Request, name: Name, tree_size: TreeSize = None) -> Response:
    """The latest signed checkpoint, or the one signed when the log had ?tree-size entries."""
    api = registers_api(request)
    store = api.store
    head = store.head(name)
    return _checkpoint(request, store, head, tree_size)


@router.get(
    "/{name}/log/checkpoint",
    summary="tlog-tiles: the latest checkpoint",
    responses=read_responses({"type": "string"}, "A C2SP signed note.", TEXT_PLAIN),
)
async def tiles_checkpoint(request: Request, name: Name) -> Response:
    """The latest signed checkpoint, where tlog-tiles clients look for it."""
    api = registers_api(request)
    store = api.store
    return _checkpoint(request, store, store.head(name), None)


def _checkpoint(
    request: Request, store: RegisterStore, head: StoredHead, size: int | None
) -> Response:
    if size is not None and size > head.size:
        raise InputError("proof_out_of_range", f"the log has {head.size} entries")
    # Witnesses' cosignatures arrive after the log signed (C2SP tlog-witness): the tag is of the
    # note served, cosignatures included, not of the log's size alone.
    note = store.logs.checkpoint(head.log_name, size).encode()
    etag = f'"checkpoint-{hashlib.sha256(note).hexdigest()[:32]}"'
    if (cached := not_modified(request, etag)) is not None:
        return cached
    return ok(note, etag, media=TEXT_PLAIN)


@router.get(
    "/{name}/receipts/{index}",
    summary="A C2SP tlog-proof receipt for the log entry at INDEX",
    responses=read_responses({"type": "string"}, "A tlog-proof bundle.", TEXT_PLAIN),
)
async def receipt(
    request: Request,
    name: Name,
    index: Annotated[int, Path(ge=0, le=INT64)],
    tree_size: TreeSize = None,
) -> Response:
    """A tlog-proof: the entry, its inclusion proof and the signed checkpoint it is under."""
    api = registers_api(request)
    store = api.store
    head = store.head(name)
    size = head.size if tree_size is None else tree_size
    if size > head.size or index >= size:
        raise InputError("proof_out_of_range", f"no entry {index} in a tree of {size}")
    etag = f'"receipt-{index}-{size}-{head.log_root.hex()[:16]}"'
    if (cached := not_modified(request, etag)) is not None:
        return cached
    text = store.logs.receipt(head.log_name, index, size=size).text()
    return ok(text.encode(), etag, media=TEXT_PLAIN)


@router.get(
    "/{name}/log/tile/{tile_path:path}",
    summary="tlog-tiles: a hash tile (tile/L/N[.p/W]) or entry bundle (tile/entries/N[.p/W])",
    responses={
        200: {
            "description": "Tile or bundle bytes (C2SP tlog-tiles).",
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
        },
        **NOT_MODIFIED,
        **PROBLEMS,
    },
)
async def tile(request: Request, name: Name, tile_path: str) -> Response:
    """A tlog-tiles hash tile or entry bundle (full ones never change)."""
    api = registers_api(request)
    store = api.store
    head = store.head(name)
    level, index, width = parse_tile_path("tile/" + tile_path)
    if index > INT64 // (TILE_WIDTH * TILE_WIDTH):
        raise CivicError("not_found", "no such tile")
    partial = width < TILE_WIDTH
    etag = f'"{tile_path}"' if not partial else f'"{tile_path}-{head.log_root.hex()[:16]}"'
    if (cached := not_modified(request, etag)) is not None:
        return cached
    if level is None:
        data = store.logs.entry_bundle(head.log_name, index, width if partial else None)
    else:
        data = store.logs.tile(head.log_name, level, index, width if partial else None)
    # A full tile never changes; a partial one is a prefix of what it becomes.
    return ok(data, etag, media="application/octet-stream", cache=IMMUTABLE)
