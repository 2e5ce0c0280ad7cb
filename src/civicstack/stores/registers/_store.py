"""The register store: the write transaction (one with the register's log), custodian tokens."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from civicstack.errors import CivicError
from civicstack.registers import LinkedRegisters
from civicstack.stores.db import DirectReads
from civicstack.stores.log import LogStore
from civicstack.stores.registers._custodians import CustodianRows
from civicstack.stores.registers._reads import RegisterReads
from civicstack.stores.registers._writes import RegisterLogs, StoreCatalogue

T = TypeVar("T")


class RegisterStore(RegisterReads, CustodianRows):
    """Every register of the platform, in its database (see the package docstring).

    Implements :class:`civicstack.services.registers.RegisterStorage`: the service decides what
    a write is, and :meth:`write` runs that decision inside one transaction.
    """

    def __init__(
        self,
        engine: Engine,
        logs: LogStore,
        master_key: Callable[[], bytes],
        *,
        origin_prefix: str = "civicstack.localhost",
        idle_readers: int = 4,
    ) -> None:
        """``origin_prefix`` starts each new register's log origin (``<prefix>/registers/<name>``,
        C2SP tlog-checkpoint: a schema-less URL); ``master_key`` seals the log keys."""
        self.engine = engine
        self.logs = logs
        self.origin_prefix = origin_prefix.rstrip("/")
        self._reads = DirectReads(engine, idle_readers)
        self._register_logs = RegisterLogs(logs, self._reads, master_key, self.origin_prefix)

    def close(self) -> None:
        """Close the connections kept open for reads."""
        self._reads.close()

    # -- writes -------------------------------------------------------------------------------

    def write(self, names: Iterable[str], change: Callable[[LinkedRegisters[Any]], T]) -> T:
        """Run ``change`` over the registers of ONE write transaction, the rows of ``names``
        locked first (in name order); the tables and the logs commit or roll back together.

        A lost race is ``conflict``, never a database error.
        """
        try:
            with self.logs.transaction() as conn:
                catalogue = StoreCatalogue(self._register_logs, conn)
                catalogue.lock(names)
                return change(catalogue)
        except IntegrityError as exc:
            raise CivicError("conflict", "a concurrent write got there first") from exc
        except OperationalError as exc:
            state = getattr(exc.orig, "sqlstate", None)
            if state in ("40001", "40P01") or "locked" in str(exc.orig):
                raise CivicError("conflict", "a concurrent write got in the way; retry") from exc
            raise
