"""Status lists per authority (Token Status List) and the index of issued credentials, as kept.

What they are (:class:`~civicstack.status.IssuedRecord`,
:class:`~civicstack.status.StatusListState`) and the rules the store applies in its
transactions (index allocation, list numbering, a revocation is final) are in
:mod:`civicstack.status`.

Tables (Alembic branch ``authorities``):

``status_lists``         one row per list: its authority, public ``list_id`` (the last segment of
                         ``{identifier}/status/{list_id}``), ``bits`` per entry, capacity, how many
                         indices were handed out, the uncompressed byte array (§4.1), a
                         ``version`` bumped by every change, and the last signed token with the
                         version it was signed at (so every worker serves one token per change).
``issued_credentials``   one row per credential issued: id, authority, ``vct``, the holder key's
                         RFC 7638 thumbprint, list and index, ``iat``/``exp`` and its state. No
                         claim value is ever kept: the platform can revoke what it issued without
                         holding a copy of anyone's personal data. A batch (OpenID4VCI §8.2: one
                         copy per holder key) is one credential with several copies: the first
                         copy's row carries the credential's id, every further copy has a row of
                         its own (its own key, list and index) whose ``copy_of`` names that id.
                         Ids, listings and status changes are by credential: a change of state
                         changes every copy's entry in one transaction.

Index allocation. Token Status List (Implementation Considerations, "Default Values and Double
Allocation") asks issuers never to hand the same index out twice; its Privacy Considerations rely
on herd privacy, which sequential indices weaken: index 41 of a fresh list tells a verifier when
the credential was issued and roughly how many others were. Each list therefore draws its
``n``-th index (``n`` = 0, 1, 2... from an atomic counter) through a keyed pseudorandom
permutation of ``[0, capacity)`` (:func:`civicstack.status.permute`, keyed per list): distinct
by construction, and unordered.
When a list is full the next allocation opens a new one. Allocation locks the authority's row
(``FOR UPDATE`` on PostgreSQL, the write lock on SQLite), so concurrent issuers in any number of
processes get distinct indices.

Status values (§7.1): VALID 0, INVALID 1 (revoked: final), SUSPENDED 2 (reversible).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, TypeVar, cast

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    insert,
    select,
    update,
)
from sqlalchemy import func as sa_func
from sqlalchemy.engine import Connection, Engine

from civicstack.errors import CivicError
from civicstack.status import (
    DEFAULT_BITS,
    DEFAULT_SIZE_LOG2,
    STATE_VALUES,
    CredentialState,
    IssuedRecord,
    StatusList,
    StatusListState,
    check_credential_id,
    check_issued_vct,
    check_list_shape,
    check_state,
    next_list_number,
    permute,
    state_changes,
)
from civicstack.stores.authorities import authorities_table, maybe_transaction
from civicstack.stores.db import metadata, write_transaction
from civicstack.trust.parties import check_slug

status_lists_table = Table(
    "status_lists",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("authority_id", Integer, ForeignKey("authorities.id"), nullable=False),
    Column("list_id", String(64), nullable=False),
    Column("bits", SmallInteger, nullable=False),
    Column("size_log2", SmallInteger, nullable=False),
    Column("allocated", BigInteger, nullable=False),
    Column("perm_key", LargeBinary, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("token", Text, nullable=True),
    Column("token_version", BigInteger, nullable=True),
    Column("token_iat", BigInteger, nullable=True),
    UniqueConstraint("authority_id", "list_id"),
    sqlite_autoincrement=True,
)
issued_credentials_table = Table(
    "issued_credentials",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("authority_id", Integer, ForeignKey("authorities.id"), nullable=False, index=True),
    Column("vct", String(256), nullable=False),
    Column("holder_thumbprint", String(64), nullable=True),
    Column("status_list_id", Integer, ForeignKey("status_lists.id"), nullable=False),
    Column("idx", BigInteger, nullable=False),
    Column("iat", BigInteger, nullable=False),
    Column("exp", BigInteger, nullable=True),
    Column("state", String(16), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("copy_of", String(32), ForeignKey("issued_credentials.id"), nullable=True, index=True),
    UniqueConstraint("status_list_id", "idx"),
    CheckConstraint("state IN ('valid', 'revoked', 'suspended')", name="state"),
)

_copies = issued_credentials_table.alias("copies")

#: The most copies one credential may have (an issuer's batch_size is far below this).
MAX_COPIES = 100

T = TypeVar("T")


class StatusListStore:
    """Status lists and the issued-credential index."""

    def __init__(
        self,
        engine: Engine,
        *,
        size_log2: int = DEFAULT_SIZE_LOG2,
        bits: int = DEFAULT_BITS,
    ) -> None:
        check_list_shape(size_log2, bits)
        self.engine = engine
        self.size_log2 = size_log2
        self.bits = bits

    # --- issuing --------------------------------------------------------------------------

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
        """Allocate an index of ``authority``'s lists and record the credential ``sign`` makes.

        ``sign(list_id, idx)`` runs inside the transaction: if it raises, nothing is recorded
        and the index is not used up. Pass ``conn`` to record inside a caller's
        :func:`civicstack.stores.db.write_transaction` (an issuer spending an access token).
        """
        record, (made,) = self.issue_copies(
            authority,
            vct=vct,
            holder_thumbprints=[holder_thumbprint],
            iat=iat,
            exp=exp,
            sign=lambda _copy, list_id, idx: sign(list_id, idx),
            conn=conn,
        )
        return record, made

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
        """Record one credential issued as ``len(holder_thumbprints)`` copies, each with an
        index of its own (a batch, OpenID4VCI §8.2): ``sign(copy, list_id, idx)`` makes copy
        number ``copy``. All or nothing, as :meth:`issue`; the record is the credential's
        (the first copy's list and index, ``copies`` the count)."""
        check_slug(authority, "an authority name")
        check_issued_vct(vct)
        if not 1 <= len(holder_thumbprints) <= MAX_COPIES:
            raise CivicError("invalid_request", f"a credential has 1 to {MAX_COPIES} copies")
        made: list[T] = []
        first: tuple[str, str, int] | None = None
        with maybe_transaction(self.engine, conn) as tx:
            authority_id = _lock_authority(tx, authority)
            for copy, thumbprint in enumerate(holder_thumbprints):
                list_pk, list_id, idx = self._allocate(tx, authority_id, iat)
                made.append(sign(copy, list_id, idx))
                # Hex, not base64url: an id starting with "-" would read as a CLI option.
                row_id = os.urandom(16).hex()
                tx.execute(
                    insert(issued_credentials_table).values(
                        id=row_id,
                        authority_id=authority_id,
                        vct=vct,
                        holder_thumbprint=thumbprint,
                        status_list_id=list_pk,
                        idx=idx,
                        iat=iat,
                        exp=exp,
                        state="valid",
                        updated_at=iat,
                        copy_of=None if first is None else first[0],
                    )
                )
                if first is None:
                    first = (row_id, list_id, idx)
        assert first is not None
        credential_id, list_id, idx = first
        record = IssuedRecord(
            credential_id,
            authority,
            vct,
            holder_thumbprints[0],
            list_id,
            idx,
            iat,
            exp,
            "valid",
            iat,
            copies=len(holder_thumbprints),
        )
        return record, made

    def allocate(self, authority: str, *, now: int) -> tuple[str, int]:
        """Hand out the next index of ``authority``'s lists, as ``(list_id, idx)``."""
        with write_transaction(self.engine) as conn:
            _, list_id, idx = self._allocate(conn, _lock_authority(conn, authority), now)
        return list_id, idx

    def _allocate(self, conn: Connection, authority_id: int, now: int) -> tuple[int, str, int]:
        row = conn.execute(
            select(
                status_lists_table.c.id,
                status_lists_table.c.list_id,
                status_lists_table.c.size_log2,
                status_lists_table.c.allocated,
                status_lists_table.c.perm_key,
            )
            .where(status_lists_table.c.authority_id == authority_id)
            .order_by(status_lists_table.c.id.desc())
            .limit(1)
        ).first()
        number = next_list_number(
            None if row is None else row.list_id,
            allocated=0 if row is None else int(row.allocated),
            capacity=0 if row is None else 1 << int(row.size_log2),
        )
        if number is None:
            assert row is not None  # the last list still has room: hand out its next index
            conn.execute(
                update(status_lists_table)
                .where(status_lists_table.c.id == row.id)
                .values(allocated=status_lists_table.c.allocated + 1)
            )
            return (
                int(row.id),
                row.list_id,
                permute(int(row.allocated), row.perm_key, row.size_log2),
            )
        key = os.urandom(32)
        size = 1 << self.size_log2
        pk = conn.execute(
            insert(status_lists_table).values(
                authority_id=authority_id,
                list_id=number,
                bits=self.bits,
                size_log2=self.size_log2,
                allocated=1,
                perm_key=key,
                data=bytes(size * self.bits // 8),
                version=1,
                created_at=now,
                updated_at=now,
            )
        ).inserted_primary_key
        assert pk is not None
        return int(pk[0]), number, permute(0, key, self.size_log2)

    # --- status changes -------------------------------------------------------------------

    def set_state(self, credential_id: str, state: CredentialState, *, now: int) -> IssuedRecord:
        """Set a credential's status, as :func:`civicstack.status.state_changes` allows (revoked
        is final: ``conflict`` to change it again)."""
        state = check_state(state)
        check_credential_id(credential_id)
        with write_transaction(self.engine) as conn:
            record = _record(conn, credential_id, lock=True)
            if not state_changes(record, state):
                return record
            # Every copy's entry changes, list by list (a batch may straddle two lists).
            copies = conn.execute(
                select(issued_credentials_table.c.status_list_id, issued_credentials_table.c.idx)
                .where(
                    (issued_credentials_table.c.id == credential_id)
                    | (issued_credentials_table.c.copy_of == credential_id)
                )
                .order_by(issued_credentials_table.c.status_list_id)
            ).all()
            by_list: dict[int, list[int]] = {}
            for list_pk, idx in copies:
                by_list.setdefault(int(list_pk), []).append(int(idx))
            for list_pk in sorted(by_list):
                row = conn.execute(
                    select(status_lists_table.c.data, status_lists_table.c.bits)
                    .where(status_lists_table.c.id == list_pk)
                    .with_for_update()
                ).one()
                entries = StatusList.from_bytes(row.data, int(row.bits))
                for idx in by_list[list_pk]:
                    entries[idx] = STATE_VALUES[state]
                conn.execute(
                    update(status_lists_table)
                    .where(status_lists_table.c.id == list_pk)
                    .values(
                        data=entries.to_bytes(),
                        version=status_lists_table.c.version + 1,
                        updated_at=now,
                    )
                )
            conn.execute(
                update(issued_credentials_table)
                .where(
                    (issued_credentials_table.c.id == credential_id)
                    | (issued_credentials_table.c.copy_of == credential_id)
                )
                .values(state=state, updated_at=now)
            )
        return replace(record, state=state, updated_at=now)

    # --- reading --------------------------------------------------------------------------

    def credential(self, credential_id: str) -> IssuedRecord:
        """One issued credential's record; ``not_found`` otherwise."""
        check_credential_id(credential_id)
        with self.engine.connect() as conn:
            return _record(conn, credential_id)

    def credentials(
        self, authority: str | None = None, *, limit: int = 1000
    ) -> tuple[IssuedRecord, ...]:
        """Issued credentials (of ``authority``), newest first, at most ``limit``."""
        query = _records_query().order_by(
            issued_credentials_table.c.iat.desc(), issued_credentials_table.c.id
        )
        query = query.where(issued_credentials_table.c.copy_of.is_(None))
        if authority is not None:
            query = query.where(authorities_table.c.name == check_slug(authority))
        with self.engine.connect() as conn:
            rows = conn.execute(query.limit(max(1, min(limit, 10_000)))).all()
        return tuple(_to_record(r) for r in rows)

    def state(self, authority: str, list_id: str) -> StatusListState:
        """A list as stored; ``not_found`` if ``authority`` has no such list."""
        if not isinstance(list_id, str) or not list_id.isdigit() or len(list_id) > 6:
            raise CivicError("not_found", f"no status list {list_id!r}")
        with self.engine.connect() as conn:
            row = conn.execute(
                select(status_lists_table, authorities_table.c.name)
                .select_from(status_lists_table.join(authorities_table))
                .where(
                    (authorities_table.c.name == authority)
                    & (status_lists_table.c.list_id == list_id)
                )
            ).first()
        if row is None:
            raise CivicError("not_found", f"{authority} has no status list {list_id}")
        return StatusListState(
            pk=int(row.id),
            authority=row.name,
            list_id=row.list_id,
            bits=int(row.bits),
            capacity=1 << int(row.size_log2),
            allocated=int(row.allocated),
            data=bytes(row.data),
            version=int(row.version),
            updated_at=int(row.updated_at),
            token=row.token,
            token_version=None if row.token_version is None else int(row.token_version),
            token_iat=None if row.token_iat is None else int(row.token_iat),
        )

    def lists(self, authority: str) -> tuple[str, ...]:
        """The ids of ``authority``'s lists, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(status_lists_table.c.list_id)
                .select_from(status_lists_table.join(authorities_table))
                .where(authorities_table.c.name == authority)
                .order_by(status_lists_table.c.id)
            ).all()
        return tuple(r.list_id for r in rows)

    def save_token(self, pk: int, *, version: int, token: str, iat: int) -> None:
        """Keep ``token`` as the list's published token, if the list is still at ``version``."""
        with self.engine.begin() as conn:
            conn.execute(
                update(status_lists_table)
                .where((status_lists_table.c.id == pk) & (status_lists_table.c.version == version))
                .values(token=token, token_version=version, token_iat=iat)
            )


def _lock_authority(conn: Connection, authority: str) -> int:
    row = conn.execute(
        select(authorities_table.c.id, authorities_table.c.role)
        .where(authorities_table.c.name == authority)
        .with_for_update()
    ).first()
    if row is None:
        raise CivicError("unknown_authority", f"no authority named {authority!r}")
    return int(row.id)


def _records_query() -> Any:
    copies = (
        select(sa_func.count())
        .select_from(_copies)
        .where(_copies.c.copy_of == issued_credentials_table.c.id)
        .scalar_subquery()
    )
    return select(
        issued_credentials_table,
        authorities_table.c.name.label("authority"),
        status_lists_table.c.list_id,
        copies.label("further_copies"),
    ).select_from(
        issued_credentials_table.join(
            authorities_table, issued_credentials_table.c.authority_id == authorities_table.c.id
        ).join(
            status_lists_table,
            issued_credentials_table.c.status_list_id == status_lists_table.c.id,
        )
    )


def _to_record(row: Any) -> IssuedRecord:
    return IssuedRecord(
        id=row.id,
        authority=row.authority,
        vct=row.vct,
        holder_thumbprint=row.holder_thumbprint,
        list_id=row.list_id,
        idx=int(row.idx),
        iat=int(row.iat),
        exp=None if row.exp is None else int(row.exp),
        state=cast(CredentialState, row.state),
        updated_at=int(row.updated_at),
        copies=1 + int(row.further_copies),
    )


def _record(conn: Connection, credential_id: str, *, lock: bool = False) -> IssuedRecord:
    # A copy's own row id is no credential id: status changes go by the credential.
    query = _records_query().where(
        (issued_credentials_table.c.id == credential_id)
        & issued_credentials_table.c.copy_of.is_(None)
    )
    if lock:
        query = query.with_for_update(of=issued_credentials_table)
    row = conn.execute(query).first()
    if row is None:
        raise CivicError("not_found", f"no issued credential {credential_id!r}")
    return _to_record(row)
