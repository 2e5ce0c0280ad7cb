"""A content-addressed store of uploaded documents under the data directory.

Each document is a file named by the hex SHA-256 of its bytes,
``<data dir>/documents/sha256/<first two hex digits>/<digest>``: the same bytes are kept once,
a name can never be chosen by an uploader (their file names are ignored altogether), and reading
a document back re-checks its hash, so a file changed on disk is reported rather than served.
Writes go to a temporary file that is fsynced and then linked into place, so a crash leaves
either no document or the whole document.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from pathlib import Path

from civicstack.errors import CivicError, InputError

_HEX = re.compile(r"[0-9a-f]{64}")


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
        if path.exists():
            return sha256
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
