"""A content-addressed store of uploaded documents under the data directory.

Each document is a file named by the hex SHA-256 of its bytes,
``<data dir>/documents/sha256/<first two hex digits>/<digest>``: the same bytes are kept once,
a name can never be chosen by an uploader (their file names are ignored altogether), and reading
a document back re-checks its hash, so a file changed on disk is reported rather than served.
Writes go to a temporary file that is fsynced and then linked into place, so a crash leaves
either no document or the whole document.

A document is written before the application that refers to it is committed (a record must
never name a missing file), so a failed commit or a crash leaves a file nobody refers to:
proof documents are personal data, and :meth:`DocumentStore.sweep` deletes such files (and
abandoned temporary files) once they are older than a grace period that covers uploads still
in flight. Storing bytes that are already kept refreshes the file's time for the same reason.
:meth:`DocumentStore.delete` removes one document at once: the retention schedule's expiry,
whose caller holds the lock that keeps submissions out meanwhile.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Container
from pathlib import Path

from civicstack.errors import CivicError, InputError

_HEX = re.compile(r"[0-9a-f]{64}")
_SHARD = re.compile(r"[0-9a-f]{2}")


class DocumentStore:
    """Bytes by SHA-256, in a directory."""

    def __init__(self, root: Path, *, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def _path(self, sha256: str) -> Path:
        if not isinstance(sha256, str) or not _HEX.fullmatch(sha256):
            raise InputError("invalid_request", "a document is named by its SHA-256 (64 hex)")
        return self.root / "sha256" / sha256[:2] / sha256

    def put(self, content: bytes) -> str:
        """Store ``content`` (idempotent); return its hex SHA-256."""
        if len(content) > self.max_bytes:
            raise InputError("too_large", f"a document is at most {self.max_bytes} bytes")
        sha256 = hashlib.sha256(content).hexdigest()
        path = self._path(sha256)
        try:
            if path.exists():
                os.utime(path)  # reused now, so a sweep's grace period covers it again
                return sha256
        except FileNotFoundError:
            pass  # swept meanwhile: written again below
        except OSError as exc:
            raise CivicError("io_error", f"cannot store a document: {exc.strerror}") from exc
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{sha256}.{os.getpid()}.{os.urandom(6).hex()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(content)
                    out.flush()
                    os.fsync(out.fileno())
                with contextlib.suppress(FileExistsError):  # another upload of the same bytes
                    os.link(tmp, path)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
        except OSError as exc:
            raise CivicError("io_error", f"cannot store a document: {exc.strerror}") from exc
        return sha256

    def get(self, sha256: str) -> bytes:
        """The bytes of document ``sha256``; ``not_found``, or ``internal_error`` if damaged."""
        path = self._path(sha256)
        try:
            with path.open("rb") as fh:
                content = fh.read(self.max_bytes + 1)
        except FileNotFoundError as exc:
            raise CivicError("not_found", f"no document {sha256}") from exc
        except OSError as exc:
            raise CivicError("io_error", f"cannot read document {sha256}: {exc.strerror}") from exc
        if hashlib.sha256(content).hexdigest() != sha256:
            raise CivicError("internal_error", f"document {sha256} is damaged on disk")
        return content

    def delete(self, sha256: str) -> bool:
        """Delete document ``sha256``; whether there was one."""
        try:
            self._path(sha256).unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            detail = f"cannot delete document {sha256}: {exc.strerror}"
            raise CivicError("io_error", detail) from exc
        return True

    def sweep(self, keep: Container[str], *, older_than: float) -> int:
        """Delete the documents not in ``keep`` (hex SHA-256s) and the abandoned temporary
        files, of those last modified before ``older_than`` (a POSIX time); how many."""
        base = self.root / "sha256"
        removed = 0
        try:
            shards = [d for d in base.iterdir() if _SHARD.fullmatch(d.name) and d.is_dir()]
            for shard in shards:
                for entry in shard.iterdir():
                    name = entry.name
                    temporary = name.startswith(".") and name.endswith(".tmp")
                    if not temporary and (not _HEX.fullmatch(name) or name in keep):
                        continue
                    try:
                        if entry.stat().st_mtime >= older_than:
                            continue
                        entry.unlink()
                    except FileNotFoundError:
                        continue
                    removed += 1
        except FileNotFoundError:  # no document was ever stored
            return removed
        except OSError as exc:
            raise CivicError("io_error", f"cannot sweep documents: {exc.strerror}") from exc
        return removed
