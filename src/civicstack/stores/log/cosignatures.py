"""Witnesses' cosignatures of the logs' checkpoints (Alembic branch ``cosignatures``).

``log_cosignatures`` keeps, per log, checkpoint size and witness (``<name>+<hex key ID>``),
the cosignature line the witness returned (C2SP tlog-cosignature) and its timestamp. Every
checkpoint the store hands out (:meth:`LogStore.checkpoint`, hence the served checkpoints and
the tlog-proof receipts) carries the cosignatures recorded for its size, appended after the
log's own signature as C2SP tlog-witness says a client may ("move the valid signatures to its
own view of the checkpoint"). The largest size a witness cosigned is the old size the next
``add-checkpoint`` to it starts from.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, String, Table, Text

from civicstack.stores.db import Fetch, metadata
from civicstack.stores.log.database import LogDatabase

__all__ = ["LogCosignatures", "cosignatures_table", "with_cosignatures"]

cosignatures_table = Table(
    "log_cosignatures",
    metadata,
    Column("log_id", Integer, ForeignKey("log_logs.id"), primary_key=True),
    Column("witness", String(300), primary_key=True),
    Column("size", BigInteger, primary_key=True),
    Column("timestamp", BigInteger, nullable=False),
    Column("line", Text, nullable=False),
)


class LogCosignatures(LogDatabase):
    """Recording and reading witnesses' cosignatures (see the module docstring)."""

    def add_cosignature(
        self, name: str, size: int, witness: str, timestamp: int, line: str
    ) -> None:
        """Record ``witness``'s cosignature ``line`` (verified by the caller) of the checkpoint
        of log ``name`` at ``size``; a second one for the same size and witness is ignored."""
        with self.transaction() as conn:
            row = self._row(self._fetcher(conn), name)
            conn.exec_driver_sql(
                self._sql(
                    "INSERT INTO log_cosignatures (log_id, witness, size, timestamp, line)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
                ),
                (row.id, witness, size, timestamp, line),
            )

    def cosigned_sizes(self, name: str) -> dict[str, int]:
        """For each witness that cosigned a checkpoint of log ``name``, the largest size."""
        with self._reading() as fetch:
            row = self._row(fetch, name)
            rows = fetch(
                "SELECT witness, MAX(size) FROM log_cosignatures WHERE log_id = ? GROUP BY witness",
                (row.id,),
            )
        return {str(r[0]): int(r[1]) for r in rows}


def with_cosignatures(fetch: Fetch, name: str, note: str) -> str:
    """The signed checkpoint ``note`` of log ``name`` with the cosignature lines recorded for
    its size appended (each line ends in a newline, as the note does)."""
    size = int(note.split("\n", 2)[1])
    rows = fetch(
        "SELECT c.line FROM log_cosignatures c JOIN log_logs l ON l.id = c.log_id"
        " WHERE l.name = ? AND c.size = ? ORDER BY c.witness",
        (name, size),
    )
    return note + "".join(str(r[0]) for r in rows)
