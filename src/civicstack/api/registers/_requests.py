"""What a request to the registers routes carries: the bearer token, names, keys, numbers, page
sizes, field filters and cursors, each parsed within the registers' :class:`Limits`."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from civicstack.errors import CivicError, InputError
from civicstack.platform import Platform
from civicstack.registers import DEFAULT_LIMITS, Limits
from civicstack.registers.custodians import Writer
from civicstack.registers.schema import KEY_RE
from civicstack.registers.stored import StoredHead
from civicstack.services.registers import Registers
from civicstack.stores.registers import RegisterStore
from civicstack.types import Clock

#: The largest integer a path or query may carry (64-bit signed, as the databases store).
INT64 = (1 << 63) - 1
#: Query parameters that are not field filters.
RESERVED = {"after", "page-size", "scope"}


class RegistersAPI:
    """What the routes work with: the registers service (writes, descriptions, searches) and
    the store its plain reads and proofs come from."""

    def __init__(self, platform: Platform) -> None:
        self.registers: Registers = platform.registers
        self.store: RegisterStore = platform.register_store
        self.limits: Limits = self.registers.limits
        self.clock: Clock = platform.clock

    def authorise(
        self, head: StoredHead | None, authorization: HTTPAuthorizationCredentials | None
    ) -> Writer:
        """Admin token, or (for an existing register) one of its custodian tokens."""
        return self.registers.authorise(head, bearer(authorization))


def bearer(authorization: HTTPAuthorizationCredentials | None) -> str | None:
    """The bearer token of the request, if it carries a plausible one."""
    if authorization is None or authorization.scheme.lower() != "bearer":
        return None
    token = authorization.credentials.strip()
    return token if 0 < len(token) <= 512 else None


def check_key(key: str, limits: Limits = DEFAULT_LIMITS) -> str:
    """Return ``key`` if it could name a record, else raise ``not_found``."""
    if len(key) > limits.max_key_length or KEY_RE.fullmatch(key) is None:
        raise CivicError("not_found", "no record with that key")
    return key


def filters(request: Request, limits: Limits = DEFAULT_LIMITS) -> list[tuple[str, str]]:
    """The ``?FIELD=VALUE`` filters of a record search, within the caps."""
    out = [(k, v) for k, v in request.query_params.multi_items() if k not in RESERVED]
    if len(out) > limits.max_filters:
        raise InputError("too_large", f"at most {limits.max_filters} field filters")
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
    int,
    Query(
        alias="page-size",
        ge=1,
        le=DEFAULT_LIMITS.max_page,
        description="Items per page (1-1000).",
    ),
]
Name = Annotated[str, Path(max_length=256, description="The register's name.")]
TreeSize = Annotated[
    int | None,
    Query(alias="tree-size", ge=0, le=INT64, description="Tree size (default: the latest)."),
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
