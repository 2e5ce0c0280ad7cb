"""The exchange's storage: data services, hosted records, and the access log's subjects.

Tables (Alembic branch ``exchange``):

``exchange_services``  each published data service: provider, name, title, categories (JSON),
                       ``hosted`` or ``remote`` (with its URL), when it was published.
``exchange_records``   hosted records, keyed by (provider, service, the provider's pairwise id
                       of the citizen): the record's JSON, when it was written.
``access_subjects``    each citizen's chain on the access log (:mod:`civicstack.access.subject`):
                       their access-log handle, how many entries are about them and the leaf
                       hash of the last one. Moved in the transaction that appends their
                       entries, so a chain never has a gap or a fork (issue 12's hook).

The access log itself is the log ``access`` of the :class:`~civicstack.stores.log.LogStore`
(tlog-tiles in ``log_*``), appended with :meth:`LogStore.append_in` inside one transaction
per batch together with the chain heads, signing one checkpoint per batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from sqlalchemy import BigInteger, Column, LargeBinary, String, Table, Text
from sqlalchemy.engine import Connection, Engine

from civicstack.access import AccessEntry, AppendedAccesses, ChainHead, DataService, chained
from civicstack.errors import InputError
from civicstack.log import NoteSigner
from civicstack.stores.db import DirectReads, metadata, write_transaction
from civicstack.stores.log import LogStore

__all__ = ["ACCESS_LOG", "AccessLogStore", "DataServiceStore"]

#: The access log's name in the log store.
ACCESS_LOG = "access"

exchange_services_table = Table(
    "exchange_services",
    metadata,
    Column("provider", String(64), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("categories", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("url", Text, nullable=True),
    Column("published_at", BigInteger, nullable=False),
)
exchange_records_table = Table(
    "exchange_records",
    metadata,
    Column("provider", String(64), primary_key=True),
    Column("service", String(64), primary_key=True),
    Column("subject", String(64), primary_key=True),
    Column("record", LargeBinary, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)
access_subjects_table = Table(
    "access_subjects",
    metadata,
    Column("log_subject", String(128), primary_key=True),
    Column("count", BigInteger, nullable=False),
    Column("last", LargeBinary, nullable=False),
)


class DataServiceStore:
    """Published data services and hosted records (implements ``DataServiceStorage``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._reads = DirectReads(engine, max_idle=4)
        self._sqlite = engine.dialect.name == "sqlite"

    def publish(self, service: DataService, *, now: int) -> None:
        """Publish ``service`` or replace its earlier definition."""
        row = (
            service.title,
            orjson.dumps(list(service.categories)).decode(),
            service.kind,
            service.url,
            now,
            service.provider,
            service.name,
        )
        with write_transaction(self.engine) as conn:
            sql = self._reads.sql
            updated = conn.exec_driver_sql(
                sql(
                    "UPDATE exchange_services SET title = ?, categories = ?, kind = ?, url = ?,"
                    " published_at = ? WHERE provider = ? AND name = ?"
                ),
                row,
            ).rowcount
            if not updated:
                conn.exec_driver_sql(
                    sql(
                        "INSERT INTO exchange_services (title, categories, kind, url,"
                        " published_at, provider, name) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    ),
                    row,
                )

    def service(self, provider: str, name: str) -> DataService | None:
        """The published service, if any."""
        with self._reads.reading() as fetch:
            rows = fetch(
                "SELECT provider, name, title, categories, kind, url FROM exchange_services"
                " WHERE provider = ? AND name = ?",
                (provider, name),
            )
        return _service(rows[0]) if rows else None

    def services(self) -> list[DataService]:
        """Every published service, by provider and name."""
        with self._reads.reading() as fetch:
            rows = fetch(
                "SELECT provider, name, title, categories, kind, url FROM exchange_services"
                " ORDER BY provider, name",
                (),
            )
        return [_service(r) for r in rows]

    def put_records(
        self, provider: str, name: str, records: Sequence[tuple[str, bytes]], *, now: int
    ) -> None:
        """Write hosted records, replacing earlier ones of the same subjects; all or nothing."""
        sql = self._reads.sql
        with write_transaction(self.engine) as conn:
            conn.exec_driver_sql(
                sql(
                    # Only "?" placeholders are interpolated; every value is a bound parameter.
                    "DELETE FROM exchange_records WHERE provider = ? AND service = ?"  # noqa: S608
                    " AND subject IN (" + ", ".join("?" * len(records)) + ")"
                ),
                (provider, name, *(s for s, _ in records)),
            )
            conn.exec_driver_sql(
                sql(
                    "INSERT INTO exchange_records (provider, service, subject, record, updated_at)"
                    " VALUES (?, ?, ?, ?, ?)"
                ),
                [(provider, name, s, data, now) for s, data in records],
            )

    def put_value_in(
        self,
        conn: Connection,
        services: Sequence[DataService],
        subject: str,
        category: str,
        value: object,
        *,
        now: int,
    ) -> None:
        """In the caller's transaction: set ``category`` to ``value`` in ``subject``'s record of
        each of ``services`` (hosted, one provider's), keeping its other categories; each
        service is published first if it is not yet."""
        sql = self._reads.sql
        for service in services:
            listed = conn.exec_driver_sql(
                sql("SELECT 1 FROM exchange_services WHERE provider = ? AND name = ?"),
                (service.provider, service.name),
            ).first()
            if listed is None:
                conn.exec_driver_sql(
                    sql(
                        "INSERT INTO exchange_services (title, categories, kind, url,"
                        " published_at, provider, name) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    ),
                    (
                        service.title,
                        orjson.dumps(list(service.categories)).decode(),
                        service.kind,
                        service.url,
                        now,
                        service.provider,
                        service.name,
                    ),
                )
            key = (service.provider, service.name, subject)
            read = "SELECT record FROM exchange_records WHERE provider = ? AND service = ?"
            read += " AND subject = ?"
            if not self._sqlite:
                read += " FOR UPDATE"
            row = conn.exec_driver_sql(sql(read), key).first()
            record = {} if row is None else orjson.loads(bytes(row[0]))
            record[category] = value
            data = orjson.dumps(record)
            if row is None:
                conn.exec_driver_sql(
                    sql(
                        "INSERT INTO exchange_records (provider, service, subject, record,"
                        " updated_at) VALUES (?, ?, ?, ?, ?)"
                    ),
                    (*key, data, now),
                )
            else:
                conn.exec_driver_sql(
                    sql(
                        "UPDATE exchange_records SET record = ?, updated_at = ?"
                        " WHERE provider = ? AND service = ? AND subject = ?"
                    ),
                    (data, now, *key),
                )

    def record(self, provider: str, name: str, subject: str) -> bytes | None:
        """The hosted record of ``subject``, if any."""
        with self._reads.reading() as fetch:
            rows = fetch(
                "SELECT record FROM exchange_records WHERE provider = ? AND service = ?"
                " AND subject = ?",
                (provider, name, subject),
            )
        return bytes(rows[0][0]) if rows else None

    def close(self) -> None:
        """Close the kept-open read connections."""
        self._reads.close()


def _service(row: Sequence[object]) -> DataService:
    categories = orjson.loads(str(row[3]))
    return DataService(
        str(row[0]),
        str(row[1]),
        str(row[2]),
        tuple(categories),
        "remote" if row[4] == "remote" else "hosted",
        None if row[5] is None else str(row[5]),
    )


class AccessLogStore:
    """The access log and its subjects' chains (implements ``AccessLogStorage``)."""

    def __init__(self, logs: LogStore, signer: NoteSigner, *, name: str = ACCESS_LOG) -> None:
        self.logs = logs
        self.signer = signer
        self.name = name
        self._reads = DirectReads(logs.engine, max_idle=1)
        self._sqlite = logs.engine.dialect.name == "sqlite"

    def ensure(self) -> None:
        """Create the access log (signed by :attr:`signer`) unless it exists."""
        try:
            self.logs.create_log(self.name, self.signer)
        except InputError as exc:
            if exc.code != "log_exists":
                raise

    def append_accesses(
        self, accesses: Sequence[tuple[AccessEntry, str | None]]
    ) -> AppendedAccesses:
        """Append in one transaction with the chain heads and one signed checkpoint."""
        sql = self._reads.sql
        subjects = sorted({s for _, s in accesses if s is not None})
        with self.logs.transaction() as conn:
            heads: dict[str, ChainHead] = {}
            if subjects:
                # New subjects get a row first, so that every head is then locked in one order
                # (no deadlock between two writers on PostgreSQL).
                conn.exec_driver_sql(
                    sql(
                        "INSERT INTO access_subjects (log_subject, count, last) VALUES (?, 0, ?)"
                        " ON CONFLICT (log_subject) DO NOTHING"
                    ),
                    [(s, ChainHead().last) for s in subjects],
                )
                lock = "" if self._sqlite else " FOR UPDATE"
                marks = ", ".join("?" * len(subjects))
                rows = conn.exec_driver_sql(
                    sql(
                        "SELECT log_subject, count, last FROM access_subjects"  # noqa: S608
                        f" WHERE log_subject IN ({marks}) ORDER BY log_subject{lock}"
                    ),
                    tuple(subjects),
                ).all()
                heads = {str(r[0]): ChainHead(int(r[1]), bytes(r[2])) for r in rows}
            entries: list[bytes] = []
            for entry, subject in accesses:
                head = heads.get(subject, ChainHead()) if subject is not None else ChainHead()
                data, head = chained(entry, subject, head)
                if subject is not None:
                    heads[subject] = head
                entries.append(data)
            indices = self.logs.append_in(conn, self.name, entries, self.signer)
            if subjects:
                conn.exec_driver_sql(
                    sql("UPDATE access_subjects SET count = ?, last = ? WHERE log_subject = ?"),
                    [(heads[s].count, heads[s].last, s) for s in subjects],
                )
            note = conn.exec_driver_sql(
                sql("SELECT checkpoint FROM log_logs WHERE name = ?"), (self.name,)
            ).scalar_one()
        return AppendedAccesses(indices.start, tuple(entries), indices.stop, str(note))

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 inclusion proof of entry ``index`` in the tree of ``size``."""
        return self.logs.inclusion_proof(self.name, index, size)

    def chain_head(self, log_subject: str) -> ChainHead:
        """Where ``log_subject``'s chain stands (issue 12 reads it to prove completeness)."""
        with self._reads.reading() as fetch:
            rows = fetch(
                "SELECT count, last FROM access_subjects WHERE log_subject = ?", (log_subject,)
            )
        return ChainHead(int(rows[0][0]), bytes(rows[0][1])) if rows else ChainHead()

    def close(self) -> None:
        """Close the kept-open read connection."""
        self._reads.close()
