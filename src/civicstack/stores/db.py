"""Engines and migrations for SQLite (embedded default) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.engine import create_engine as _sa_create_engine
from sqlalchemy.exc import ArgumentError

from civicstack.errors import CivicError

#: Constraint names are explicit so migrations are identical on SQLite and PostgreSQL.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

MIGRATIONS = Path(__file__).parent / "migrations"


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and route them to psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets readers run beside the single writer; NORMAL is durable across application
    # crashes (a power cut can lose the last commits but never corrupts the file).
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _create_private_file(path: Path) -> None:
    """Create the SQLite file 0600 in a directory created 0700, if they do not exist yet
    (SQLite gives its -wal and -shm files the database file's permissions). Existing files and
    directories keep the permissions their owner chose."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


#: The databases civicstack runs on, as ``CIVIC_DATABASE_URL`` names them.
SUPPORTED_URLS = "sqlite:///PATH or postgresql://USER@HOST/DATABASE (psycopg 3)"
#: (backend, driver) pairs an engine is made for; any other driver is not installed.
_SUPPORTED = {("sqlite", "pysqlite"), ("postgresql", "psycopg")}


def check_url(url: str) -> URL:
    """``url`` parsed, when it names a supported database; ``unsupported_database`` (naming the
    supported ones) otherwise, instead of a missing driver's ``ModuleNotFoundError``."""
    try:
        parsed = make_url(normalise_url(url))
    except ArgumentError as exc:
        raise CivicError(
            "unsupported_database", f"the database URL is not a URL: use {SUPPORTED_URLS}"
        ) from exc
    if (parsed.get_backend_name(), parsed.get_driver_name()) not in _SUPPORTED:
        raise CivicError(
            "unsupported_database",
            f"{parsed.drivername}:// is not supported: use {SUPPORTED_URLS}",
        )
    return parsed


def create_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` with the settings this project relies on."""
    url = normalise_url(url)
    parsed = check_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _create_private_file(Path(parsed.database))
        engine = _sa_create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return _sa_create_engine(url, **kwargs)


def alembic_config(engine: Engine) -> Config:
    """An Alembic configuration bound to ``engine`` (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("version_locations", str(MIGRATIONS / "versions"))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    """Apply every migration branch up to its head."""
    command.upgrade(alembic_config(engine), "heads")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A read-modify-write transaction: committed on success, rolled back on any exception.

    On SQLite the write lock is taken up front (``BEGIN IMMEDIATE``): pysqlite's deferred
    transactions let two readers both try to upgrade to writers, and one then fails with
    SQLITE_BUSY instead of waiting (``busy_timeout`` only helps a transaction that has not read
    yet). On PostgreSQL callers lock the rows they read with ``SELECT ... FOR UPDATE``.
    """
    with engine.connect() as conn:
        if conn.dialect.name != "sqlite":
            with conn.begin():
                yield conn
            return
        conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            with suppress(Exception):  # SQLite may have rolled back already
                conn.exec_driver_sql("ROLLBACK")
            raise
        conn.exec_driver_sql("COMMIT")


#: Runs one statement (written with ``?`` placeholders) and returns its rows.
Fetch = Callable[[str, tuple[Any, ...]], list[Any]]


class DirectReads:
    """Point reads outside any transaction, on a few kept-open autocommit connections.

    Proofs and record lookups are one or two indexed reads: the pool checkout, ping and
    rollback around each would cost more than the reads, so a few connections stay open and
    are used through the driver's cursor directly. Every row read is committed (no dirty reads).
    Statements are written with ``?`` placeholders and rewritten for psycopg.
    """

    def __init__(self, engine: Engine, max_idle: int = 2) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self._idle: list[Connection] = []
        self._lock = threading.Lock()
        self._max_idle = max_idle
        self._statements: dict[str, str] = {}

    def sql(self, sql: str) -> str:
        """``sql`` with the driver's placeholders (``?`` for SQLite, ``%s`` for psycopg)."""
        if self.sqlite:
            return sql
        out = self._statements.get(sql)
        if out is None:
            out = self._statements[sql] = sql.replace("?", "%s")
        return out

    def fetcher(self, conn: Connection) -> Fetch:
        """A :data:`Fetch` running inside ``conn`` (a caller's transaction)."""

        def fetch(sql: str, params: tuple[Any, ...]) -> list[Any]:
            return list(conn.exec_driver_sql(self.sql(sql), params).all())

        return fetch

    @contextmanager
    def reading(self) -> Iterator[Fetch]:
        """A :data:`Fetch` on a kept-open autocommit connection (committed rows only)."""
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = self.engine.connect()
            conn.execution_options(isolation_level="AUTOCOMMIT")
        dbapi = conn.connection.dbapi_connection
        if dbapi is None:  # pragma: no cover - a fresh connection always has one
            raise CivicError("internal_error", "no database connection")
        cursor = dbapi.cursor()
        sql = self.sql

        def fetch(statement: str, params: tuple[Any, ...]) -> list[Any]:
            cursor.execute(sql(statement), params)
            return list(cursor.fetchall())

        healthy = False
        try:
            yield fetch
            healthy = True
        except CivicError:
            healthy = True  # a refused request, not a broken connection
            raise
        finally:
            cursor.close()
            with self._lock:
                keep = healthy and len(self._idle) < self._max_idle
                if keep:
                    self._idle.append(conn)
            if not keep:
                conn.close()

    def close(self) -> None:
        """Close the kept-open connections."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


@dataclass(frozen=True, slots=True)
class RowsStatement:
    """One statement over many rows, written for each engine (``?`` placeholders on both).

    ``sqlite`` runs once per row (``executemany``: a loop in C, cheap). ``postgres`` runs once for
    all the rows, each column passed as one array (``unnest(?::bytea[], ?::bigint[], ...)``):
    psycopg's ``executemany`` costs a round of Python adaptation and a statement execution in
    the server per row, which made a batch of the access log's map nodes the writer's largest
    cost; one execution over arrays costs one plan and one round of adaptation per column.
    """

    sqlite: str
    postgres: str

    @staticmethod
    def columns(rows: Sequence[Sequence[Any]]) -> tuple[list[Any], ...]:
        """``rows`` as one list per column: the ``postgres`` statement's parameters."""
        return tuple(list(column) for column in zip(*rows, strict=True))


def any_of(sql: str, keys: Sequence[Any], *, sqlite: bool) -> tuple[str, tuple[Any, ...]]:
    """``sql`` with its ``{in_keys}`` made a test of membership in ``keys``, and its parameters:
    ``IN (?, ?, ...)`` on SQLite; ``= ANY(?)`` over one array on PostgreSQL (one statement text
    for any number of keys, so the server plans it once)."""
    if sqlite:
        return sql.format(in_keys="IN (" + ", ".join("?" * len(keys)) + ")"), tuple(keys)
    return sql.format(in_keys="= ANY(?)"), (list(keys),)


#: Rows per multi-row INSERT of :func:`insert_new`: well under SQLite's and PostgreSQL's limits
#: on bound parameters for any of its callers' rows.
_ROWS_PER_INSERT = 150


def insert_new(
    conn: Connection, table: str, columns: Sequence[str], key: str, rows: Sequence[Sequence[Any]]
) -> set[Any]:
    """Insert ``rows`` (values for ``columns``) in plain multi-row statements, each skipping a
    row whose ``key`` is taken: ``INSERT ... ON CONFLICT (key) DO NOTHING RETURNING key``, valid
    on SQLite (>= 3.35) and PostgreSQL alike, with no query compilation (for a request's one
    write). The keys inserted; a key twice in ``rows`` is inserted once (the first row)."""
    at = columns.index(key)
    unique: dict[Any, Sequence[Any]] = {}
    for row in rows:
        unique.setdefault(row[at], row)
    first = list(unique.values())
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    row_marks = "(" + ", ".join([mark] * len(columns)) + ")"
    new: set[Any] = set()
    for start in range(0, len(first), _ROWS_PER_INSERT):
        chunk = first[start : start + _ROWS_PER_INSERT]
        # Only names from the caller's code and placeholders are formatted; values are bound.
        statement = (
            f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608
            f"VALUES {', '.join([row_marks] * len(chunk))} "
            f"ON CONFLICT ({key}) DO NOTHING RETURNING {key}"
        )
        params = tuple(value for row in chunk for value in row)
        new.update(row[0] for row in conn.exec_driver_sql(statement, params))
    return new
