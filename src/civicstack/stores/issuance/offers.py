"""Offers as stored (OpenID4VCI §4.1): made, read, listed, and served by reference.

:class:`OfferStore` is the base of the issuer's store: the engine, the sealer of personal data
and the reading of an offer row, which the token, deferred and notification parts build on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection, Engine

from civicstack._crypto import json_loads_strict
from civicstack.errors import CivicError
from civicstack.openid4vci.offers import (
    OfferRecord,
    OfferState,
    TxCode,
    check_offer_servable,
    check_tx_code_shape,
)
from civicstack.stores.authorities import authorities_table
from civicstack.stores.db import write_transaction
from civicstack.stores.issuance.sealing import RowSealer
from civicstack.stores.issuance.tables import check_row_id, issuance_offers_table, issuer_id
from civicstack.trust.parties import check_slug


class OfferStore:
    """Offers of hosted issuers; the base every other part of the issuer's store extends."""

    def __init__(self, engine: Engine, key: Callable[[], bytes]) -> None:
        self.engine = engine
        self.sealer = RowSealer(key)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction for a caller that spans this store and the authorities'."""
        with write_transaction(self.engine) as conn:
            yield conn

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read-only connection for a caller that reads this store and the applications'."""
        with self.engine.connect() as conn:
            yield conn

    # --- offers -----------------------------------------------------------------------

    def create_offer(
        self,
        authority: str,
        *,
        offer_id: str,
        configuration_id: str,
        claims: Mapping[str, Any],
        code_hash: str,
        tx_code: TxCode | None,
        tx_code_hash: str | None,
        document: Mapping[str, Any] | None,
        now: int,
        expires_at: int,
        application_id: str | None = None,
        conn: Connection | None = None,
    ) -> OfferRecord:
        """Record a new offer; ``document`` is the offer object served by reference."""
        check_tx_code_shape(tx_code, tx_code_hash)
        with _maybe_transaction(self.engine, conn) as tx:
            authority_id = issuer_id(tx, authority)
            tx.execute(
                insert(issuance_offers_table).values(
                    id=offer_id,
                    authority_id=authority_id,
                    configuration_id=configuration_id,
                    claims=self.sealer.seal("offer", offer_id, dict(claims)),
                    code_hash=code_hash,
                    tx_code_hash=tx_code_hash,
                    tx_code_length=tx_code.length if tx_code else None,
                    tx_code_description=tx_code.description if tx_code else None,
                    tx_failures=0,
                    state="offered",
                    document=None
                    if document is None
                    else self.sealer.seal("offer-document", offer_id, dict(document)),
                    application_id=application_id,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
            return self._offer(tx, authority, offer_id)

    def offer(self, authority: str, offer_id: str) -> OfferRecord:
        """One offer of ``authority`` (without claims); ``not_found`` otherwise."""
        with self.engine.connect() as conn:
            return self._offer(conn, authority, offer_id)

    def _offer(
        self, conn: Connection, authority: str, offer_id: str, *, claims: bool = False
    ) -> OfferRecord:
        row = conn.execute(
            _offers_query().where(
                (issuance_offers_table.c.id == check_row_id(offer_id, "an offer id"))
                & (authorities_table.c.name == authority)
            )
        ).first()
        if row is None:
            raise CivicError("not_found", f"{authority} has no offer {offer_id!r}")
        return self._to_offer(row, claims=claims)

    def _to_offer(self, row: Any, *, claims: bool = False) -> OfferRecord:
        return OfferRecord(
            id=row.id,
            authority=row.authority,
            configuration_id=row.configuration_id,
            state=cast(OfferState, row.state),
            tx_code=TxCode("numeric", row.tx_code_length, row.tx_code_description)
            if row.tx_code_hash is not None
            else None,
            tx_failures=int(row.tx_failures),
            created_at=int(row.created_at),
            expires_at=int(row.expires_at),
            redeemed_at=_int(row.redeemed_at),
            issued_at=_int(row.issued_at),
            credential_ids=tuple(json_loads_strict(row.credential_ids))
            if row.credential_ids
            else (),
            application_id=row.application_id,
            notification_event=row.notification_event,
            claims=self.sealer.open("offer", row.id, row.claims) if claims else None,
        )

    def offer_document(self, authority: str, offer_id: str, *, now: int) -> dict[str, Any]:
        """The offer object served at its ``credential_offer_uri`` (§4.1.3), while it can still
        be redeemed; ``not_found`` for an unknown, used or expired offer."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(issuance_offers_table)
                .select_from(issuance_offers_table.join(authorities_table))
                .where(
                    (issuance_offers_table.c.id == check_row_id(offer_id, "an offer id"))
                    & (authorities_table.c.name == authority)
                )
            ).first()
        check_offer_servable(
            state=None if row is None else row.state,
            has_document=row is not None and row.document is not None,
            expires_at=0 if row is None else int(row.expires_at),
            now=now,
        )
        assert row is not None
        document = self.sealer.open("offer-document", row.id, row.document)
        if not isinstance(document, dict):
            raise CivicError("internal_error", "a stored offer document is damaged")
        return document

    def offers(self, authority: str, *, limit: int = 200) -> tuple[OfferRecord, ...]:
        """``authority``'s offers, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                _offers_query()
                .where(authorities_table.c.name == check_slug(authority))
                .order_by(issuance_offers_table.c.created_at.desc(), issuance_offers_table.c.id)
                .limit(max(1, min(limit, 1000)))
            ).all()
        return tuple(self._to_offer(r) for r in rows)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _offers_query() -> Any:
    return select(issuance_offers_table, authorities_table.c.name.label("authority")).select_from(
        issuance_offers_table.join(authorities_table)
    )


@contextmanager
def _maybe_transaction(engine: Engine, conn: Connection | None) -> Iterator[Connection]:
    if conn is not None:
        yield conn
    else:
        with write_transaction(engine) as own:
            yield own
