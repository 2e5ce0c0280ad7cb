"""A witness's durable state in one directory: its key and the latest checkpoint per log.

``civic witness`` is a party of its own, not a part of the platform: it keeps no SQL database
and shares nothing with ``civic up``. Its directory holds

- ``witness-key.json``: its Ed25519 private key as a JWK (mode 0600), created at first start
  with the key name it is given, and never replaced;
- ``state.json``: per origin, the latest checkpoint it cosigned (size, root, the served note,
  the cosigning time); rewritten whole on each cosignature — written to a temporary file,
  fsynced, renamed over the old one, and the directory fsynced — so after a crash (kill -9,
  power cut) it is the old state or the new one, never a mix. The rename happens before the
  witness answers (tlog-witness "add-checkpoint": "The witness MUST persist the new checkpoint
  before responding"), so a cosignature that left the witness is never forgotten, and the
  witness can never be brought to cosign a fork of what it cosigned;
- ``lock``: held (``flock``) for as long as a witness process uses the directory; a second
  process on the same directory is refused (``witness_state_locked``), and within the process a
  lock serialises :meth:`WitnessDirectory.advance`, so the check of the old size and the write
  are one step.

The whole state is a few hundred bytes a log: rewriting it on each cosignature costs one small
write and two fsyncs, which a witness of a handful of logs can afford (``bench/witness.py``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from civicstack._crypto import PrivateKey, generate_private_jwk
from civicstack.errors import CivicError, InputError
from civicstack.log.checkpoint import Checkpoint
from civicstack.log.cosignature import Cosigner
from civicstack.log.note import b64std_decode, b64std_encode, check_key_name, parse_note
from civicstack.log.witness import WitnessedHead

__all__ = ["WitnessDirectory"]

KEY_FILE = "witness-key.json"
STATE_FILE = "state.json"
LOCK_FILE = "lock"
#: The state file's format version.
VERSION = 1


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomically(path: Path, data: bytes, mode: int = 0o600) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


class WitnessDirectory:
    """The witness's key and state in ``path`` (see the module docstring); a
    :class:`~civicstack.log.witness.WitnessState`. :meth:`close` releases the directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock_fd = os.open(path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(self._lock_fd)
            raise CivicError(
                "witness_state_locked", f"another witness process uses {path}"
            ) from exc
        self._mutex = threading.Lock()
        try:
            self._heads = self._load()
        except BaseException:
            self.close()
            raise

    # --- the key ------------------------------------------------------------------------------

    @property
    def has_key(self) -> bool:
        """Whether the witness's key was created (its name is then fixed)."""
        return (self.path / KEY_FILE).exists()

    def cosigner(self, name: str | None) -> Cosigner:
        """The witness's cosigner: its key, created under ``name`` at the first start. A key
        that exists keeps its name; asking for another is refused (the name is in the key ID
        every client pinned)."""
        path = self.path / KEY_FILE
        if not path.exists():
            if name is None:
                raise InputError("invalid_request", "a new witness needs a key name (--name)")
            check_key_name(name)
            jwk = generate_private_jwk("EdDSA")
            _write_atomically(path, json.dumps({"name": name, "jwk": jwk}).encode())
        try:
            stored = json.loads(path.read_bytes())
            key = PrivateKey.from_jwk(stored["jwk"])
            stored_name = stored["name"]
        except (ValueError, KeyError, TypeError) as exc:
            raise CivicError("io_error", f"{path} is not a witness key file") from exc
        if name is not None and name != stored_name:
            raise InputError(
                "invalid_request", f"this witness's key is named {stored_name!r}, not {name!r}"
            )
        return Cosigner(stored_name, key)

    # --- the state ----------------------------------------------------------------------------

    def _load(self) -> dict[str, WitnessedHead]:
        path = self.path / STATE_FILE
        with contextlib.suppress(FileNotFoundError):
            (self.path / (STATE_FILE + ".tmp")).unlink()  # an interrupted write: never renamed
        if not path.exists():
            return {}
        try:
            data = json.loads(path.read_bytes())
            if data.get("version") != VERSION:
                raise ValueError("unknown version")
            heads = {origin: _head(origin, h) for origin, h in data["logs"].items()}
        except (ValueError, KeyError, TypeError, AttributeError, CivicError) as exc:
            # Refuse to start rather than forget what was cosigned (and then cosign a fork).
            raise CivicError("io_error", f"{path} is damaged: {exc}") from exc
        return heads

    def latest(self, origin: str) -> WitnessedHead | None:
        """The latest head cosigned for ``origin``."""
        return self._heads.get(origin)

    def advance(
        self, origin: str, step: Callable[[WitnessedHead | None], WitnessedHead]
    ) -> WitnessedHead:
        """Read, decide (``step``) and durably record, as one step (see the module docstring)."""
        with self._mutex:
            new = step(self._heads.get(origin))
            heads = {**self._heads, origin: new}
            body = {
                "version": VERSION,
                "logs": {o: _row(h) for o, h in sorted(heads.items())},
            }
            _write_atomically(self.path / STATE_FILE, json.dumps(body, indent=1).encode())
            self._heads = heads
            return new

    def close(self) -> None:
        """Release the directory for another process."""
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = -1


def _row(head: WitnessedHead) -> dict[str, Any]:
    return {
        "size": head.size,
        "root": b64std_encode(head.root),
        "note": head.note,
        "timestamp": head.timestamp,
    }


def _head(origin: str, row: dict[str, Any]) -> WitnessedHead:
    size, timestamp, note = row["size"], row["timestamp"], row["note"]
    if not (isinstance(size, int) and isinstance(timestamp, int) and isinstance(note, str)):
        raise ValueError(f"a bad record for {origin!r}")
    root = b64std_decode(row["root"])
    # The record must agree with the checkpoint it keeps.
    cp = Checkpoint.parse(parse_note(note).text)
    if (cp.origin, cp.size, cp.root) != (origin, size, root):
        raise ValueError(f"the record of {origin!r} disagrees with its checkpoint")
    return WitnessedHead(origin, size, root, note, timestamp)
