"""The composition root: settings -> database -> the services' repositories.

``civic up`` (and each of its worker processes), the CLI commands that act on local state and the
test suite all build one :class:`Platform`. It owns the engine, runs migrations, and holds the
admin token. Components add their repositories here as properties; nothing else wires storage.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import Engine

from civicstack._crypto import b64url_decode, b64url_encode
from civicstack.errors import CivicError, InputError
from civicstack.settings import Settings
from civicstack.stores import db

if TYPE_CHECKING:
    from civicstack.stores.log import LogStore
    from civicstack.stores.registers import RegisterStore


class Platform:
    """One deployment's state, reachable from every adapter."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def engine(self) -> Engine:
        """The SQLAlchemy engine for ``settings.database_url``."""
        return db.create_engine(self.settings.database_url)

    @cached_property
    def logs(self) -> LogStore:
        """The Merkle logs (one per register, the access log...)."""
        from civicstack.stores.log import LogStore

        return LogStore(self.engine)

    @cached_property
    def registers(self) -> RegisterStore:
        """The registers, each with its own log in :attr:`logs` and key sealed by
        :attr:`master_key`; new logs are named after the platform's host (C2SP origins)."""
        from civicstack.stores.registers import RegisterStore

        host = self.settings.base_url.split("://", 1)[-1]
        return RegisterStore(self.engine, self.logs, lambda: self.master_key, origin_prefix=host)

    def migrate(self) -> None:
        """Bring the schema to the latest revision of every component."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        db.upgrade(self.engine)

    def ping(self) -> None:
        """Return if the database answers, else raise."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    @cached_property
    def admin_token(self) -> str:
        """The admin bearer token: ``CIVIC_ADMIN_TOKEN``, else one generated into the data dir."""
        if self.settings.admin_token:
            return self.settings.admin_token
        path = self.settings.data_dir / "admin-token"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # Another worker may win the race; then read what it wrote.
            with contextlib.suppress(FileExistsError):
                _write_secret(path, secrets.token_urlsafe(32))
        return path.read_text().strip()

    def check_admin(self, presented: str | None) -> None:
        """Raise ``unauthorized`` unless ``presented`` is the admin token."""
        if not presented or not hmac.compare_digest(presented.encode(), self.admin_token.encode()):
            raise CivicError("unauthorized", "admin endpoints need the admin bearer token")

    @cached_property
    def master_key(self) -> bytes:
        """The 32-byte key-encryption key of the platform's signing keys."""
        if self.settings.master_key:
            return _master_key(self.settings.master_key, "CIVIC_MASTER_KEY")
        path = self.settings.data_dir / "master-key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # Another process may win the race; then read what it wrote.
            with contextlib.suppress(FileExistsError):
                _write_secret(path, b64url_encode(secrets.token_bytes(32)))
        return _master_key(path.read_text().strip(), str(path))

    def close(self) -> None:
        """Release database connections."""
        if "registers" in self.__dict__:
            self.registers.close()
        if "logs" in self.__dict__:
            self.logs.close()
        if "engine" in self.__dict__:
            self.engine.dispose()


def _master_key(text: str, where: str) -> bytes:
    try:
        key = b64url_decode(text)
    except CivicError as exc:
        raise InputError("invalid_key", f"{where} is not base64url") from exc
    if len(key) != 32:
        raise InputError("invalid_key", f"{where} must hold 32 bytes (base64url, 43 characters)")
    return key


def _write_secret(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
