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
each), ``POST /{name}/rsf`` (an RSF patch; system entries, which change the register's
definition, need the admin token: 403 ``forbidden`` for a custodian; a ``field:<f>`` entry that
retypes a field is 409 ``field_redefined``, as in ``POST /``), ``POST /{name}/fields`` and
``POST /`` (a new register, admin only). Each write is one transaction that signs a new
checkpoint. Errors are RFC 9457 problems with stable codes.

Custodian tokens (admin only): ``POST /{name}/custodian-tokens`` issues one (``label``, optional
``expires_in`` seconds; the secret is shown once), ``GET /{name}/custodian-tokens`` and
``GET /-/custodian-tokens`` list them (never their secrets), ``GET /-/custodian-tokens/{id}``
shows one, ``POST /-/custodian-tokens/{id}/revoke`` revokes one, and ``GET /-/custodian-events``
reads the audit trail (issued, revoked, writes refused with a revoked or expired token: 401
``token_revoked`` / ``token_expired``). Every write reads the token's row, so a revocation holds at
once in every worker.
"""

from __future__ import annotations

from fastapi import FastAPI

from civicstack.api.catalogue import Service, service_app
from civicstack.api.limits import QueryStringLimit
from civicstack.api.registers import _custodians, _proofs, _reads, _writes
from civicstack.api.registers._representations import MOUNT
from civicstack.api.registers._requests import RegistersAPI
from civicstack.platform import Platform

__all__ = ["MOUNT", "RegistersAPI", "registers_service"]


def registers_service(platform: Platform) -> tuple[Service, FastAPI]:
    """The registers sub-application and its catalogue entry."""
    app = service_app(
        "Registers",
        "Authoritative registers (GOV.UK Registers model) with RFC 9162 proofs, C2SP "
        "checkpoints and tiles, RSF/CSV/JSON downloads and a custodian write API.",
    )
    api = app.state.registers_api = RegistersAPI(platform)
    # Every operation: a hostile URL is refused before any route parses it.
    app.add_middleware(QueryStringLimit, max_bytes=api.limits.max_query_bytes)
    # The /-/ routes first: a path under /-/ names no register.
    for routes in (_custodians.router, _reads.router, _proofs.router, _writes.router):
        app.include_router(routes)
    service = Service(
        MOUNT,
        "Registers",
        "Authoritative registers: records, entries, RSF/CSV/JSON, proofs and signed checkpoints.",
        ("GOV.UK Registers (RSF)", "RFC 9162", "C2SP tlog-checkpoint", "C2SP tlog-tiles"),
    )
    return service, app
