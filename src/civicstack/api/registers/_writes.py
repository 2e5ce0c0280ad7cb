"""Custodian writes: records, RSF patches, fields, new registers."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from civicstack.api.registers._docs import (
    SUMMARY_DOC,
    WRITTEN_DOC,
    EntriesIn,
    FieldIn,
    RegisterIn,
    write_responses,
)
from civicstack.api.registers._representations import summary_json, written_json
from civicstack.api.registers._requests import Authorization, Name, registers_api
from civicstack.errors import InputError
from civicstack.registers import Item

router = APIRouter()


@router.post(
    "/{name}/entries",
    status_code=201,
    summary="Append records (custodian): validated, written and signed as one batch",
    responses=write_responses(201, WRITTEN_DOC, "The new entries and signed checkpoint."),
)
def append(
    request: Request, name: Name, body: EntriesIn, authorization: Authorization = None
) -> Response:
    """Append records as one signed batch."""
    api = registers_api(request)
    registers = api.registers
    api.authorise(registers.head(name), authorization)
    batch = []
    for record_in in body.entries:
        given = ([record_in.item] if record_in.item is not None else []) + (record_in.items or [])
        if not given:
            raise InputError("invalid_request", f"record {record_in.key!r} has no item")
        batch.append((record_in.key, [Item.of(i, limits=api.limits) for i in given]))
    changes = registers.append(name, batch, now=api.clock.now())
    return Response(
        orjson.dumps(written_json(registers, name, changes.entries)),
        status_code=201,
        media_type="application/json",
    )


@router.post(
    "/{name}/rsf",
    summary="Append an RSF patch: checked line by line, applied whole or not; system entries "
    "(the register's definition, fields, custodian) need the admin token (403 for a custodian)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
    responses=write_responses(200, WRITTEN_DOC, "The new entries and signed checkpoint."),
)
async def patch(request: Request, name: Name, authorization: Authorization = None) -> Response:
    """Append an RSF patch as one signed batch."""
    api = registers_api(request)
    registers = api.registers
    writer = api.authorise(registers.head(name), authorization)
    changes = registers.patch_rsf(name, await request.body(), writer=writer)
    return Response(
        orjson.dumps(written_json(registers, name, changes.entries)),
        media_type="application/json",
    )


@router.post(
    "/{name}/fields",
    status_code=201,
    summary="Add a field to the register (registers RFC 0001), described in the field register",
    responses=write_responses(201, SUMMARY_DOC, "The register with its new field."),
)
def add_field(
    request: Request, name: Name, body: FieldIn, authorization: Authorization = None
) -> Response:
    """Add a field to the register's schema."""
    api = registers_api(request)
    registers = api.registers
    api.authorise(registers.head(name), authorization)
    registers.add_field(name, body.definition(), now=api.clock.now())
    return Response(
        orjson.dumps(summary_json(registers, registers.head(name), full=True)),
        status_code=201,
        media_type="application/json",
    )


@router.post(
    "/",
    status_code=201,
    summary="Create a register (admin): its schema entries open its log",
    responses=write_responses(201, SUMMARY_DOC, "The new register."),
)
def create(request: Request, body: RegisterIn, authorization: Authorization = None) -> Response:
    """Create a register."""
    api = registers_api(request)
    registers = api.registers
    api.authorise(None, authorization)
    registers.create_register(
        body.name,
        [f.definition() for f in body.fields],
        now=api.clock.now(),
        custodian=body.custodian,
        title=body.title,
        text=body.text,
        registry=body.registry,
        phase=body.phase,
    )
    return Response(
        orjson.dumps(summary_json(registers, registers.head(body.name), full=True)),
        status_code=201,
        media_type="application/json",
    )
