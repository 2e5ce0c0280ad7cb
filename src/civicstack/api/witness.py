"""The witness's HTTP interface: C2SP tlog-witness (https://c2sp.org/tlog-witness) over a
:class:`~civicstack.log.witness.Witness`.

- ``POST /add-checkpoint`` ("add-checkpoint"): the body is ``old <size>``, the consistency
  proof lines, a blank line and the signed checkpoint; 200 with the cosignature line
  (``text/plain``), 409 with the known size (``text/x.tlog.size``, "<size>\\n"), 400 malformed,
  403 not signed by the log's trusted key, 404 unknown origin, 413 over the body cap, 422
  inconsistent (a bad proof, a fork, a rollback). Errors other than 409 are RFC 9457 problems
  with stable codes (``unknown_origin``, ``checkpoint_unauthenticated``,
  ``checkpoint_inconsistent``...).
- ``GET /{origin hash}/checkpoint`` ("Monitor Retrieval Mechanism"): the latest cosigned
  checkpoint of the log whose origin's lowercase hex SHA-256 is given, with the log's verified
  signature and the witness's cosignature; 404 if it cosigned none.
- ``GET /``: the witness's verifier key and the logs it witnesses (JSON).

One process: the witness's state lives in its process (:mod:`civicstack.stores.witness`
serialises each log's check-and-write), so ``civic witness`` runs one uvicorn worker.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, Path
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from civicstack.api._openapi import RawBody, request_body
from civicstack.api.limits import BodySizeLimit
from civicstack.api.problems import PROBLEM_SCHEMA, install_problem_handlers
from civicstack.log.witness import SIZE_MEDIA_TYPE, SizeConflictError, Witness, max_body_bytes

__all__ = ["witness_app"]

_TEXT = {"text/plain": {"schema": {"type": "string"}}}


def witness_app(witness: Witness) -> FastAPI:
    """The ASGI app of ``witness``."""
    app = FastAPI(
        title="civicstack witness",
        version="1",
        description="A C2SP tlog-witness: cosigns checkpoints (tlog-cosignature, Ed25519) "
        "of the logs it witnesses once they are consistent with what it cosigned before.",
        docs_url=None,
        redoc_url=None,
    )
    install_problem_handlers(app)
    app.add_middleware(BodySizeLimit, max_body=max_body_bytes(witness.limits))

    @app.get("/", summary="The witness's verifier key and the logs it witnesses")
    def about() -> JSONResponse:
        return JSONResponse(
            {
                "name": witness.cosigner.name,
                "verifier_key": witness.cosigner.verifier.vkey,
                "logs": sorted(witness.logs),
            }
        )

    @app.post(
        "/add-checkpoint",
        summary="Submit a checkpoint and a consistency proof; get a cosignature",
        openapi_extra=request_body({"type": "string"}, "text/plain"),
        responses={
            200: {"description": "The cosignature line(s).", "content": _TEXT},
            409: {
                "description": "The old size is not the witness's: its size, and a newline.",
                "content": {SIZE_MEDIA_TYPE: {"schema": {"type": "string"}}},
            },
            **dict.fromkeys((400, 403, 404, 413, 422), PROBLEM_SCHEMA),
        },
    )
    def add_checkpoint(body: RawBody) -> Response:
        try:
            lines = witness.add_checkpoint(body)
        except SizeConflictError as exc:
            # Exactly this media type, with no charset parameter appended.
            headers = {"Content-Type": SIZE_MEDIA_TYPE}
            return Response(f"{exc.known_size}\n", status_code=409, headers=headers)
        return PlainTextResponse(lines)

    @app.get(
        "/{origin_hash}/checkpoint",
        summary="The latest checkpoint the witness cosigned for a log",
        responses={
            200: {"description": "A cosigned checkpoint.", "content": _TEXT},
            404: PROBLEM_SCHEMA,
        },
    )
    def checkpoint(
        origin_hash: Annotated[str, Path(pattern="^[0-9a-f]{64}$")],
    ) -> PlainTextResponse:
        return PlainTextResponse(witness.checkpoint(origin_hash))

    return app
