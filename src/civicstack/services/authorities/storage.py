"""What the authorities service keeps, as the Protocols it needs: :mod:`civicstack.stores`
implements them (:class:`~civicstack.stores.authorities.AuthorityStore`,
:class:`~civicstack.stores.trust.TrustStore`,
:class:`~civicstack.stores.status_lists.StatusListStore`) and :mod:`civicstack.platform` wires
them in.

A ``conn`` is the store's transaction handle, passed through so that writes to several stores
(a new party with its first statement, a credential with the issuer's offer) commit together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol, TypeVar

from civicstack._crypto import PrivateKey
from civicstack.status import CredentialState, IssuedRecord, StatusListState
from civicstack.trust import RootAuthority, Statement, TrustRegistry
from civicstack.trust.parties import HostedAuthority, Role

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

T = TypeVar("T")


class AuthorityRecords(Protocol):
    """The hosted parties and their keys; private keys leave only as :class:`PrivateKey`."""

    def transaction(self) -> AbstractContextManager[Connection]:
        """A write transaction other stores can join."""
        ...

    def create(
        self,
        name: str,
        *,
        identifier: str,
        display_name: str,
        role: Role,
        key: PrivateKey,
        now: int,
        conn: Connection | None = None,
    ) -> HostedAuthority:
        """Record a new party with ``key`` as its active signing key (``conflict`` if taken)."""
        ...

    def get(self, name: str, *, conn: Connection | None = None) -> HostedAuthority:
        """The party named ``name``; ``unknown_authority`` otherwise."""
        ...

    def by_identifier(self, identifier: str) -> HostedAuthority | None:
        """The party whose identifier is ``identifier``, or None."""
        ...

    def list(self, role: Role | None = None) -> tuple[HostedAuthority, ...]:
        """Every party (of ``role``), oldest first."""
        ...

    def signing_key(self, name: str) -> tuple[HostedAuthority, PrivateKey]:
        """The party and its active private key."""
        ...


class TrustStatements(Protocol):
    """The signed trust statements and the registry rebuilt from them."""

    def roots(self) -> tuple[RootAuthority, ...]:
        """The trust anchors: every hosted root with all its keys."""
        ...

    def registry(self, *, max_age: float = 0.0) -> TrustRegistry:
        """The registry as of now (``no_root_authority`` before a root exists)."""
        ...

    def add(self, token: str, *, now: int, conn: Connection | None = None) -> Statement:
        """Verify ``token`` against the registry and record it."""
        ...

    def tokens(self) -> tuple[str, ...]:
        """Every statement, in the order added."""
        ...


class StatusRecords(Protocol):
    """The status lists of the hosted authorities and what they issued."""

    def issue(
        self,
        authority: str,
        *,
        vct: str,
        holder_thumbprint: str | None,
        iat: int,
        exp: int | None,
        sign: Callable[[str, int], T],
        conn: Connection | None = None,
    ) -> tuple[IssuedRecord, T]:
        """Allocate a list index and record the credential ``sign(list_id, idx)`` makes."""
        ...

    def issue_copies(
        self,
        authority: str,
        *,
        vct: str,
        holder_thumbprints: Sequence[str | None],
        iat: int,
        exp: int | None,
        sign: Callable[[int, str, int], T],
        conn: Connection | None = None,
    ) -> tuple[IssuedRecord, list[T]]:
        """Record one credential as one copy per thumbprint, each with its own list index,
        made by ``sign(copy, list_id, idx)``; all or nothing."""
        ...

    def set_state(self, credential_id: str, state: CredentialState, *, now: int) -> IssuedRecord:
        """Change a credential's status as :func:`civicstack.status.state_changes` allows."""
        ...

    def credential(self, credential_id: str) -> IssuedRecord:
        """One issued credential's record; ``not_found`` otherwise."""
        ...

    def credentials(
        self, authority: str | None = None, *, limit: int = 1000
    ) -> tuple[IssuedRecord, ...]:
        """Issued credentials (of ``authority``), newest first."""
        ...

    def state(self, authority: str, list_id: str) -> StatusListState:
        """A list as kept; ``not_found`` otherwise."""
        ...

    def save_token(self, pk: int, *, version: int, token: str, iat: int) -> None:
        """Keep a signed token for the list, if it is still at ``version``."""
        ...
