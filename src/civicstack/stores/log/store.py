"""The log store itself: :class:`LogStore`, its state, and creating logs."""

from __future__ import annotations

import threading

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from civicstack._crypto import MERKLE_EMPTY_ROOT
from civicstack.errors import InputError
from civicstack.log import DEFAULT_LIMITS, Checkpoint, Limits, LogHead, NoteSigner, sign_checkpoint
from civicstack.stores.db import DirectReads
from civicstack.stores.log.appends import LogAppends
from civicstack.stores.log.cosignatures import LogCosignatures
from civicstack.stores.log.database import _check_name
from civicstack.stores.log.reads import LogReads
from civicstack.stores.log.tile_cache import TileCache

__all__ = ["LogStore"]


class LogStore(LogAppends, LogReads, LogCosignatures):
    """Many named Merkle logs in one database (see the package docstring)."""

    def __init__(
        self,
        engine: Engine,
        *,
        tile_cache: int = 4096,
        max_batch: int = 65_536,
        idle_readers: int = 2,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        """A store over ``engine``; migrations must have run (:func:`civicstack.stores.db.upgrade`).

        ``tile_cache`` full tiles (about 11 KB each) stay in memory; ``max_batch`` entries at most
        go in one group-commit transaction; ``idle_readers`` connections stay open for reads;
        ``limits`` caps what one append takes and one read returns (:class:`civicstack.log.Limits`).
        """
        self.limits = limits
        self.engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        self._tile_cache = TileCache(tile_cache)
        self._max_batch = max_batch
        self._mutex = threading.Lock()
        self._queue = []
        self._leading = False
        self._reads = DirectReads(engine, idle_readers)
        self._known = {}
        self._proving = {}
        self._writer = None
        self._cursor = None
        self._data_version = None
        self._edges = {}
        self._log_ids = {}

    # --- logs -------------------------------------------------------------------------------

    def create_log(
        self, name: str, signer: NoteSigner | None, *, conn: Connection | None = None
    ) -> LogHead:
        """Create the empty log ``name`` signed by ``signer`` (whose key name is the origin).

        Signs the size-0 checkpoint. Without a signer the log has no key and no checkpoint (its
        origin is its name) until the first :meth:`sign`. Pass ``conn`` (from
        :meth:`transaction`) to create the log atomically with your own writes. Raises
        ``log_exists`` or ``invalid_request``.
        """
        _check_name(name)
        origin = signer.name if signer is not None else name
        note = (
            sign_checkpoint(Checkpoint(origin, 0, MERKLE_EMPTY_ROOT), [signer])
            if signer is not None
            else ""
        )
        vkey = signer.verifier.vkey if signer is not None else ""
        with self._maybe_transaction(conn) as c:
            found = c.exec_driver_sql(self._sql("SELECT 1 FROM log_logs WHERE name = ?"), (name,))
            if found.first() is not None:
                raise InputError("log_exists", f"a log named {name!r} exists")
            try:
                log_id = c.exec_driver_sql(
                    self._sql(
                        "INSERT INTO log_logs (name, origin, verifier_key, size, root, checkpoint)"
                        " VALUES (?, ?, ?, 0, ?, ?) RETURNING id"
                    ),
                    (name, origin, vkey, MERKLE_EMPTY_ROOT, note),
                ).scalar_one()
            except IntegrityError as exc:  # a concurrent creator won
                raise InputError("log_exists", f"a log named {name!r} exists") from exc
            if note:
                c.exec_driver_sql(
                    self._sql(
                        "INSERT INTO log_checkpoints (log_id, size, root, note) VALUES (?, 0, ?, ?)"
                    ),
                    (log_id, MERKLE_EMPTY_ROOT, note),
                )
        return LogHead(name, origin, vkey, 0, MERKLE_EMPTY_ROOT, note)
