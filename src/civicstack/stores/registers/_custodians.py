"""Custodian tokens and their audit trail in SQL (``reg_custodian_tokens``,
``reg_custodian_events``).

A token is kept by its public id and the SHA-256 of its secret; every write's check reads its row
(no cache), so a revocation committed by any process refuses the token's next write anywhere.
Issuing and revoking write the token row and its audit event in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Engine

from civicstack.registers.custodians import CustodianEvent, CustodianEventKind, CustodianToken
from civicstack.registers.stored import StoredHead
from civicstack.stores.db import DirectReads

_TOKEN_COLUMNS = (
    "t.id, r.name, t.label, t.created_at, t.expires_at, t.revoked_at, t.revoked_by,"  # noqa: S105
    " t.register_id"
)
_TOKENS = "reg_custodian_tokens t JOIN reg_registers r ON r.id = t.register_id"
_EVENT_COLUMNS = "e.seq, e.at, e.event, e.token_id, r.name, e.actor"
_EVENTS = "reg_custodian_events e JOIN reg_registers r ON r.id = e.register_id"
_INSERT_EVENT = (
    "INSERT INTO reg_custodian_events (at, event, token_id, register_id, actor)"
    " VALUES (?, ?, ?, ?, ?)"
)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _token(row: Sequence[Any]) -> CustodianToken:
    return CustodianToken(
        id=str(row[0]),
        register=str(row[1]),
        label=str(row[2]),
        created_at=int(row[3]),
        expires_at=_int(row[4]),
        revoked_at=_int(row[5]),
        revoked_by=None if row[6] is None else str(row[6]),
    )


class CustodianRows:
    """The custodian-token queries of :class:`~civicstack.stores.registers.RegisterStore`."""

    engine: Engine
    _reads: DirectReads

    def _fetch(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        with self._reads.reading() as fetch:
            return fetch(sql, params)

    def add_custodian_token(
        self, head: StoredHead, token_hash: bytes, token: CustodianToken, *, actor: str
    ) -> None:
        """Keep a new token (by its hash) and its ``issued`` event, in one transaction."""
        with self.engine.begin() as conn:
            conn.exec_driver_sql(
                self._reads.sql(
                    "INSERT INTO reg_custodian_tokens (id, token_hash, register_id, label,"
                    " created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)"
                ),
                (token.id, token_hash, head.id, token.label, token.created_at, token.expires_at),
            )
            conn.exec_driver_sql(
                self._reads.sql(_INSERT_EVENT),
                (token.created_at, CustodianEventKind.ISSUED.value, token.id, head.id, actor),
            )

    def custodian_token(self, token_hash: bytes) -> tuple[int, CustodianToken] | None:
        """The register id and record of the token with this hash (read now, never cached)."""
        rows = self._fetch(
            f"SELECT {_TOKEN_COLUMNS} FROM {_TOKENS} WHERE t.token_hash = ?",  # noqa: S608
            (token_hash,),
        )
        return (int(rows[0][7]), _token(rows[0])) if rows else None

    def custodian_token_by_id(self, token_id: str) -> CustodianToken | None:
        """The token with this public id."""
        rows = self._fetch(
            f"SELECT {_TOKEN_COLUMNS} FROM {_TOKENS} WHERE t.id = ?",  # noqa: S608
            (token_id,),
        )
        return _token(rows[0]) if rows else None

    def custodian_tokens(self, head: StoredHead | None) -> list[CustodianToken]:
        """The tokens of a register (``None``: of all), oldest first."""
        where, params = ("WHERE t.register_id = ?", (head.id,)) if head else ("", ())
        rows = self._fetch(
            f"SELECT {_TOKEN_COLUMNS} FROM {_TOKENS} {where}"  # noqa: S608
            " ORDER BY t.created_at, t.id",
            params,
        )
        return [_token(r) for r in rows]

    def revoke_custodian_token(self, token_id: str, *, now: int, actor: str) -> bool:
        """Revoke the token and record it, in one transaction; ``False`` when it was revoked
        already or does not exist (nothing is written)."""
        with self.engine.begin() as conn:
            moved = conn.exec_driver_sql(
                self._reads.sql(
                    "UPDATE reg_custodian_tokens SET revoked_at = ?, revoked_by = ?"
                    " WHERE id = ? AND revoked_at IS NULL"
                ),
                (now, actor, token_id),
            )
            if moved.rowcount != 1:
                return False
            register_id = conn.exec_driver_sql(
                self._reads.sql("SELECT register_id FROM reg_custodian_tokens WHERE id = ?"),
                (token_id,),
            ).scalar_one()
            conn.exec_driver_sql(
                self._reads.sql(_INSERT_EVENT),
                (now, CustodianEventKind.REVOKED.value, token_id, register_id, actor),
            )
            return True

    def add_custodian_event(
        self, token: CustodianToken, event: CustodianEventKind, *, now: int, actor: str
    ) -> None:
        """Record an event of a token in the audit trail."""
        with self.engine.begin() as conn:
            conn.exec_driver_sql(
                self._reads.sql(
                    "INSERT INTO reg_custodian_events (at, event, token_id, register_id, actor)"
                    " SELECT ?, ?, id, register_id, ? FROM reg_custodian_tokens WHERE id = ?"
                ),
                (now, event.value, actor, token.id),
            )

    def custodian_events(
        self,
        *,
        register: str | None = None,
        token_id: str | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> list[CustodianEvent]:
        """The audit trail after sequence number ``after``, oldest first, filtered."""
        where = ["e.seq > ?"]
        params: list[Any] = [after]
        if register is not None:
            where.append("r.name = ?")
            params.append(register)
        if token_id is not None:
            where.append("e.token_id = ?")
            params.append(token_id)
        rows = self._fetch(
            f"SELECT {_EVENT_COLUMNS} FROM {_EVENTS} WHERE {' AND '.join(where)}"  # noqa: S608
            " ORDER BY e.seq LIMIT ?",
            (*params, limit),
        )
        return [
            CustodianEvent(
                seq=int(r[0]),
                at=int(r[1]),
                event=CustodianEventKind(str(r[2])),
                token_id=str(r[3]),
                register=str(r[4]),
                actor=str(r[5]),
            )
            for r in rows
        ]
